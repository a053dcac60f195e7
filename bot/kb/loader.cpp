#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bot/core/csv.hpp"
#include "bot/core/text.hpp"
#include "bot/kb/article.hpp"

namespace bot::kb {
namespace {

namespace fs = std::filesystem;

std::string at(const std::string& file, int line) { return file + ":" + std::to_string(line) + ": "; }

bool valid_id(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool read_file(const fs::path& p, std::int64_t limit, std::string& out, std::vector<std::string>& errors) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) {
    errors.push_back(p.string() + ": cannot read: " + ec.message());
    return false;
  }
  if (static_cast<std::int64_t>(size) > limit) {
    errors.push_back(at(p.string(), 1) + "file is " + std::to_string(size) + " bytes, over limits.rule_file_bytes (" +
                     std::to_string(limit) + ")");
    return false;
  }
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in) {
    errors.push_back(p.string() + ": cannot read");
    return false;
  }
  out = buf.str();
  if (!core::is_valid_utf8(out)) {
    errors.push_back(at(p.string(), 1) + "not valid UTF-8");
    return false;
  }
  return true;
}

}  // namespace

bool parse_article(const std::string& file, const std::string& text, article& out, std::vector<std::string>& errors) {
  const std::size_t before = errors.size();
  out = article{};
  out.file = file;
  std::string_view t = text;
  if (t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);  // BOM
  if (t.substr(0, 4) != "---\n" && t.substr(0, 5) != "---\r\n") {
    errors.push_back(at(file, 1) + "an article starts with front matter: a line '---', YAML, a line '---'");
    return false;
  }
  const std::size_t start = t.find('\n') + 1;
  std::size_t end = std::string_view::npos;
  int body_line = 2;
  for (std::size_t pos = start; pos < t.size();) {
    const std::size_t eol = t.find('\n', pos);
    std::string_view line = t.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "---") {
      end = pos;
      break;
    }
    ++body_line;
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  if (end == std::string_view::npos) {
    errors.push_back(at(file, 1) + "front matter is not closed by a line '---'");
    return false;
  }
  const std::string yaml(t.substr(start, end - start));
  const std::size_t after = t.find('\n', end);
  out.body = std::string(core::trim(after == std::string_view::npos ? std::string_view() : t.substr(after + 1)));
  YAML::Node fm;
  try {
    fm = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    errors.push_back(at(file, e.mark.line + 2) + "bad front matter: " + e.msg);
    return false;
  } catch (const YAML::Exception& e) {
    errors.push_back(at(file, 1) + "bad front matter: " + e.what());
    return false;
  }
  if (!fm.IsMap()) {
    errors.push_back(at(file, 2) + "bad front matter: expected keys id, title, questions, tags");
    return false;
  }
  const auto line_of = [](const YAML::Node& n) { return n.Mark().line + 2; };
  const auto strings = [&](const YAML::Node& n, const std::string& key, std::vector<std::string>& v) {
    if (n.IsScalar()) {
      v.push_back(n.Scalar());
      return;
    }
    if (!n.IsSequence()) {
      errors.push_back(at(file, line_of(n)) + key + ": expected a list");
      return;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        errors.push_back(at(file, line_of(item)) + key + ": expected text items");
        continue;
      }
      if (!core::is_blank(item.Scalar())) v.push_back(item.Scalar());
    }
  };
  try {
    for (const auto& kv : fm) {
      const std::string k = kv.first.Scalar();
      if (k == "id" || k == "title") {
        if (!kv.second.IsScalar() || core::is_blank(kv.second.Scalar())) {
          errors.push_back(at(file, line_of(kv.second)) + k + ": expected text");
          continue;
        }
        (k == "id" ? out.id : out.title) = kv.second.Scalar();
        if (k == "id") out.line = line_of(kv.second);
      } else if (k == "questions") {
        strings(kv.second, "questions", out.questions);
      } else if (k == "tags") {
        strings(kv.second, "tags", out.tags);
      } else {
        errors.push_back(at(file, line_of(kv.first)) + "unknown key '" + k + "' (expected id, title, questions, tags)");
      }
    }
  } catch (const YAML::Exception& e) {
    errors.push_back(at(file, 1) + "bad front matter: " + e.what());
  }
  if (out.id.empty()) {
    errors.push_back(at(file, 2) + "missing id");
  } else if (!valid_id(out.id)) {
    errors.push_back(at(file, out.line) + "id '" + out.id + "' must match [a-z0-9_.-]+");
  }
  if (out.title.empty()) errors.push_back(at(file, 2) + "missing title");
  // Links in the answer must be http, https or mailto (DESIGN §4): anything
  // else would be shown as text, so staff hear about it now.
  {
    int line = body_line + 1;
    const std::string& b = out.body;
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (b[i] == '\n') ++line;
      if (b[i] != ']' || i + 1 >= b.size() || b[i + 1] != '(') continue;
      const std::size_t close = b.find(')', i + 2);
      std::string target = b.substr(i + 2, close == std::string::npos ? std::string::npos : close - i - 2);
      target = std::string(core::trim(target));
      std::string lower;
      for (char c : target) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.rfind("http://", 0) != 0 && lower.rfind("https://", 0) != 0 && lower.rfind("mailto:", 0) != 0) {
        errors.push_back(at(file, line) + "link '" + target + "' must start with http://, https:// or mailto:");
      }
    }
  }
  if (out.body.empty() && errors.size() == before) {
    errors.push_back(at(file, body_line) + "the article has no answer text after the front matter");
  }
  return errors.size() == before;
}

std::vector<csv_variant> parse_variants_csv(const std::string& file, const std::string& text,
                                            std::vector<std::string>& errors) {
  std::vector<csv_variant> out;
  const core::csv_table t = core::parse_csv(text);
  if (!t.error.empty()) errors.push_back(file + ":" + t.error.substr(5));
  if (t.rows.empty()) {
    errors.push_back(at(file, 1) + "empty file; the header must be 'article,question'");
    return out;
  }
  const auto& h = t.rows.front();
  if (h.fields.size() != 2 || core::trim(h.fields[0]) != "article" || core::trim(h.fields[1]) != "question") {
    errors.push_back(at(file, h.line) + "the header must be 'article,question'");
    return out;
  }
  for (std::size_t i = 1; i < t.rows.size(); ++i) {
    const auto& r = t.rows[i];
    if (r.fields.size() != 2) {
      errors.push_back(at(file, r.line) + "expected 2 fields (article,question), got " + std::to_string(r.fields.size()));
    } else if (core::is_blank(r.fields[1])) {
      errors.push_back(at(file, r.line) + "empty question");
    } else {
      out.push_back({std::string(core::trim(r.fields[0])), std::string(core::trim(r.fields[1])), r.line});
    }
  }
  return out;
}

kb_files load_kb_dir(const std::string& dir, const kb_limits& limits) {
  kb_files kb;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return kb;
  if (!fs::is_directory(dir, ec)) {
    kb.errors.push_back(dir + ": not a folder");
    return kb;
  }
  std::vector<fs::path> md, csv;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const auto ext = it->path().extension();
    if (ext == ".md") md.push_back(it->path());
    if (ext == ".csv") csv.push_back(it->path());
  }
  if (ec) kb.errors.push_back(dir + ": cannot list: " + ec.message());
  std::sort(md.begin(), md.end());
  std::sort(csv.begin(), csv.end());
  kb.files = md.size() + csv.size();

  std::map<std::string, std::size_t> index;  // id -> position
  for (const auto& p : md) {
    if (kb.articles.size() >= limits.max_articles) {
      kb.errors.push_back(p.string() + ": more than " + std::to_string(limits.max_articles) + " articles");
      break;
    }
    std::string text;
    if (!read_file(p, limits.file_bytes, text, kb.errors)) continue;
    article a;
    if (!parse_article(p.string(), text, a, kb.errors)) continue;
    const auto [it, fresh] = index.emplace(a.id, kb.articles.size());
    if (!fresh) {
      const article& first = kb.articles[it->second];
      kb.errors.push_back(at(a.file, a.line) + "duplicate id '" + a.id + "' (first defined at " + first.file + ":" +
                          std::to_string(first.line) + ")");
      continue;
    }
    kb.articles.push_back(std::move(a));
  }
  for (const auto& p : csv) {
    std::string text;
    if (!read_file(p, limits.file_bytes, text, kb.errors)) continue;
    for (auto& v : parse_variants_csv(p.string(), text, kb.errors)) {
      const auto it = index.find(v.article);
      if (it == index.end()) {
        kb.errors.push_back(at(p.string(), v.line) + "unknown article '" + v.article + "'");
        continue;
      }
      kb.articles[it->second].questions.push_back(std::move(v.question));
    }
  }
  const fs::path syn = fs::path(dir) / "synonyms.yaml";
  if (fs::exists(syn, ec)) {
    std::string text;
    if (read_file(syn, limits.file_bytes, text, kb.errors)) {
      try {
        const YAML::Node root = YAML::Load(text);
        const YAML::Node groups = root.IsMap() ? root["synonyms"] : YAML::Node();
        if (!root.IsMap() || !groups || !groups.IsSequence() || root.size() != 1) {
          kb.errors.push_back(at(syn.string(), 1) + "expected 'synonyms:' with a list of groups (lists of words)");
        } else {
          for (const auto& g : groups) {
            if (!g.IsSequence() || g.size() < 2) {
              kb.errors.push_back(at(syn.string(), g.Mark().line + 1) + "a synonym group is a list of 2 or more words");
              continue;
            }
            std::vector<std::string> words;
            for (const auto& w : g) {
              if (w.IsScalar() && !core::is_blank(w.Scalar())) words.push_back(core::normalize(w.Scalar()));
            }
            kb.synonyms.push_back(std::move(words));
          }
        }
      } catch (const YAML::ParserException& e) {
        kb.errors.push_back(at(syn.string(), e.mark.line + 1) + e.msg);
      } catch (const YAML::Exception& e) {
        kb.errors.push_back(at(syn.string(), 1) + e.what());
      }
    }
  }
  return kb;
}

}  // namespace bot::kb
