#include "bot/intents/loader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bot/core/text.hpp"

namespace bot::intents {
namespace {

namespace fs = std::filesystem;

load_error make_error(const std::string& file, int line, int col, std::string what) {
  return load_error(source_loc(file, line, col), std::move(what));
}

struct parser {
  const std::string& file;
  std::vector<load_error>& errors;

  source_loc at(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    return {file, m.line + 1, m.column + 1};
  }
  void error(const YAML::Node& n, std::string what) { errors.push_back({at(n), std::move(what)}); }

  bool scalar(const YAML::Node& n, const std::string& key, std::string& out) {
    if (!n.IsScalar()) {
      error(n, key + ": expected text");
      return false;
    }
    out = n.Scalar();
    if (!core::is_valid_utf8(out)) {
      error(n, key + ": not valid UTF-8");
      return false;
    }
    return true;
  }

  // A string or a list of strings.
  bool strings(const YAML::Node& n, const std::string& key, std::vector<std::string>& out,
               bool allow_single = false) {
    if (allow_single && n.IsScalar()) {
      std::string s;
      if (!scalar(n, key, s)) return false;
      out.push_back(std::move(s));
      return true;
    }
    if (!n.IsSequence()) {
      error(n, key + (allow_single ? ": expected text or a list of texts" : ": expected a list"));
      return false;
    }
    bool ok = true;
    for (const auto& item : n) {
      std::string s;
      if (scalar(item, key + " item", s)) {
        out.push_back(std::move(s));
      } else {
        ok = false;
      }
    }
    return ok;
  }

  bool string_map(const YAML::Node& n, const std::string& key, context_map& out) {
    if (!n.IsMap()) {
      error(n, key + ": expected a map of key: value");
      return false;
    }
    for (const auto& kv : n) {
      std::string k, v;
      if (scalar(kv.first, key + " key", k) && scalar(kv.second, key + "." + k, v)) out[k] = v;
    }
    return true;
  }

  void examples(const YAML::Node& n, const std::string& key, std::vector<example>& out) {
    if (!n.IsSequence()) {
      error(n, key + ": expected a list");
      return;
    }
    for (const auto& item : n) {
      example e;
      e.loc = at(item);
      if (scalar(item, key + " item", e.text)) out.push_back(std::move(e));
    }
  }

  void patterns(const YAML::Node& n, const std::string& key, std::vector<weighted_pattern>& out) {
    if (!n.IsSequence()) {
      error(n, key + ": expected a list of patterns");
      return;
    }
    for (const auto& item : n) {
      weighted_pattern p;
      p.loc = at(item);
      if (item.IsScalar()) {
        p.regex = item.Scalar();
      } else if (item.IsMap()) {
        for (const auto& kv : item) {
          const std::string k = kv.first.Scalar();
          if (k == "pattern") {
            scalar(kv.second, key + ".pattern", p.regex);
            p.loc = at(kv.second);
          } else if (k == "weight") {
            double w = 0;
            try {
              w = kv.second.as<double>();
            } catch (const YAML::Exception&) {
              error(kv.second, "weight: expected a number in (0, 1]");
              continue;
            }
            if (!(w > 0 && w <= 1)) {
              error(kv.second, "weight: " + kv.second.Scalar() + " is not in (0, 1]");
              continue;
            }
            p.weight = w;
          } else {
            error(kv.first, "unknown key '" + k + "' in a pattern (expected pattern, weight)");
          }
        }
        if (p.regex.empty()) {
          error(item, key + ": a pattern entry needs 'pattern'");
          continue;
        }
      } else {
        error(item, key + ": expected a pattern or {pattern, weight}");
        continue;
      }
      if (p.regex.empty()) {
        error(item, key + ": empty pattern");
        continue;
      }
      out.push_back(std::move(p));
    }
  }

  void when(const YAML::Node& n, condition& c) {
    if (!n.IsMap()) {
      error(n, "when: expected a map (missing, present, context)");
      return;
    }
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      if (k == "missing") {
        strings(kv.second, "when.missing", c.missing, true);
      } else if (k == "present") {
        strings(kv.second, "when.present", c.present, true);
      } else if (k == "context") {
        string_map(kv.second, "when.context", c.context);
      } else {
        error(kv.first, "unknown key '" + k + "' in when (expected missing, present, context)");
      }
    }
  }

  void responses(const YAML::Node& n, std::vector<response>& out) {
    if (!n.IsSequence()) {
      error(n, "responses: expected a list");
      return;
    }
    for (const auto& item : n) {
      response r;
      r.loc = at(item);
      if (item.IsScalar()) {
        std::string text;
        if (scalar(item, "responses item", text)) {
          r.texts.push_back(std::move(text));
          out.push_back(std::move(r));
        }
        continue;
      }
      if (!item.IsMap()) {
        error(item, "responses: expected {text, when?, expect?}");
        continue;
      }
      for (const auto& kv : item) {
        const std::string k = kv.first.Scalar();
        if (k == "text") {
          strings(kv.second, "text", r.texts, true);
        } else if (k == "when") {
          when(kv.second, r.when);
        } else if (k == "expect") {
          scalar(kv.second, "expect", r.expect);
        } else {
          error(kv.first, "unknown key '" + k + "' in a response (expected text, when, expect)");
        }
      }
      if (r.texts.empty()) {
        error(item, "a response needs text");
        continue;
      }
      out.push_back(std::move(r));
    }
  }

  void parse_intent(const YAML::Node& n, std::vector<intent>& out) {
    if (!n.IsMap()) {
      error(n, "an intent must be a map with at least id, patterns and responses");
      return;
    }
    intent in;
    in.loc = at(n);
    bool has_id = false, has_responses = false, has_patterns = false;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        error(kv.first, "keys must be plain names");
        continue;
      }
      const std::string k = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (k == "id") {
        if (scalar(v, "id", in.id)) {
          has_id = true;
          const bool ok = !in.id.empty() && std::all_of(in.id.begin(), in.id.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
          });
          if (!ok) error(v, "id '" + in.id + "' must match [a-z0-9_.]+");
          in.loc = at(v);
        }
      } else if (k == "description") {
        scalar(v, "description", in.description);
      } else if (k == "patterns") {
        patterns(v, "patterns", in.patterns);
        has_patterns = true;
      } else if (k == "exclude") {
        patterns(v, "exclude", in.excludes);
      } else if (k == "slots") {
        if (!v.IsMap()) {
          error(v, "slots: expected a map of name: pattern");
          continue;
        }
        for (const auto& s : v) {
          slot_rule slot;
          slot.loc = at(s.second);
          if (scalar(s.first, "slot name", slot.name) && scalar(s.second, "slot " + slot.name, slot.regex)) {
            in.slots.push_back(std::move(slot));
          }
        }
      } else if (k == "requires_context") {
        strings(v, "requires_context", in.requires_context);
      } else if (k == "sets_context") {
        string_map(v, "sets_context", in.sets_context);
      } else if (k == "priority") {
        try {
          in.priority = v.as<int>();
        } catch (const YAML::Exception&) {
          error(v, "priority: expected an integer");
        }
      } else if (k == "responses") {
        responses(v, in.responses);
        has_responses = true;
      } else if (k == "quick_replies") {
        strings(v, "quick_replies", in.quick_replies);
      } else if (k == "action") {
        std::string a;
        if (scalar(v, "action", a)) {
          if (a == "none") {
            in.act = action::none;
          } else if (a == "handoff") {
            in.act = action::handoff;
          } else if (a == "close") {
            in.act = action::close;
          } else {
            error(v, "action: '" + a + "' is not one of none, handoff, close");
          }
        }
      } else if (k == "handoff") {
        if (!v.IsMap()) {
          error(v, "handoff: expected {team: name}");
          continue;
        }
        for (const auto& h : v) {
          if (h.first.Scalar() == "team") {
            scalar(h.second, "handoff.team", in.handoff_team);
          } else {
            error(h.first, "unknown key '" + h.first.Scalar() + "' in handoff (expected team)");
          }
        }
        if (in.handoff_team.empty()) error(v, "handoff: needs a team");
      } else if (k == "examples") {
        examples(v, "examples", in.examples);
      } else if (k == "not_examples") {
        examples(v, "not_examples", in.not_examples);
      } else {
        error(kv.first, "unknown key '" + k + "'");
      }
    }
    if (!has_id) error(n, "intent without an id");
    if (!has_patterns) error(n, "intent '" + in.id + "' has no patterns");
    if (!has_responses) error(n, "intent '" + in.id + "' has no responses");
    if (has_id) out.push_back(std::move(in));
  }
};

}  // namespace

std::vector<intent> parse_intents(const std::string& file, const std::string& text,
                                  std::vector<load_error>& errors) {
  std::vector<intent> out;
  parser p{file, errors};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    errors.push_back(make_error(
        file, e.mark.line + 1, e.mark.column + 1,
        "nested too deeply (over " + std::to_string(e.depth() - 1) + " levels of lists or maps)"));
    return out;
  } catch (const YAML::ParserException& e) {
    errors.push_back(make_error(file, e.mark.line + 1, e.mark.column + 1, e.msg));
    return out;
  } catch (const YAML::Exception& e) {
    errors.push_back(make_error(file, 1, 1, std::string("cannot parse: ") + e.what()));
    return out;
  }
  try {
    if (root.IsNull()) return out;  // an empty file holds no intents
    if (!root.IsMap()) {
      p.error(root, "expected a map with the key 'intents'");
      return out;
    }
    for (const auto& kv : root) {
      if (kv.first.Scalar() != "intents") {
        p.error(kv.first, "unknown key '" + kv.first.Scalar() + "' (expected intents)");
        continue;
      }
      if (kv.second.IsNull()) continue;
      if (!kv.second.IsSequence()) {
        p.error(kv.second, "intents: expected a list");
        continue;
      }
      for (const auto& item : kv.second) p.parse_intent(item, out);
    }
  } catch (const YAML::Exception& e) {
    errors.push_back(make_error(file, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return out;
}

void validate_intents(const std::vector<intent>& intents, std::vector<load_error>& errors) {
  std::map<std::string, const intent*> seen;
  for (const intent& in : intents) {
    const auto [it, fresh] = seen.emplace(in.id, &in);
    if (!fresh) {
      errors.push_back({in.loc, "duplicate id '" + in.id + "' (first defined at " + it->second->loc.str() + ")"});
    }
    const auto check_slot = [&](const std::string& name, const source_loc& loc, const std::string& where) {
      if (!in.has_slot(name)) {
        errors.push_back({loc, where + " names unknown slot '" + name + "' (intent '" + in.id + "' has " +
                                   (in.slots.empty() ? std::string("no slots") : "slots:" + [&] {
                                     std::string s;
                                     for (const auto& sl : in.slots) s += " " + sl.name;
                                     return s;
                                   }()) +
                                   ")"});
      }
    };
    for (const response& r : in.responses) {
      for (const auto& t : r.texts) {
        for (const auto& name : template_slots(t)) check_slot(name, r.loc, "template {" + name + "}");
      }
      if (!r.expect.empty()) check_slot(r.expect, r.loc, "expect");
      for (const auto& m : r.when.missing) check_slot(m, r.loc, "when.missing");
      for (const auto& m : r.when.present) check_slot(m, r.loc, "when.present");
    }
    if (!in.handoff_team.empty() && in.act != action::handoff) {
      errors.push_back({in.loc, "intent '" + in.id + "' has handoff.team but its action is " +
                                    std::string(action_name(in.act)) + ", not handoff"});
    }
  }
}

load_result load_intents_dir(const std::string& dir, const rule_limits& limits) {
  load_result out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    out.errors.push_back(make_error(dir, 0, 0, "not a folder"));
    return out;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension();
    const auto name = e.path().filename().string();
    if ((ext == ".yaml" || ext == ".yml") && !name.empty() && name.front() != '.' && e.is_regular_file()) {
      out.files.push_back(e.path().string());
    }
  }
  if (ec) {
    out.errors.push_back(make_error(dir, 0, 0, "cannot list: " + ec.message()));
    return out;
  }
  std::sort(out.files.begin(), out.files.end());
  std::vector<intent> all;
  for (const auto& file : out.files) {
    const auto size = fs::file_size(file, ec);
    if (ec) {
      out.errors.push_back(make_error(file, 0, 0, "cannot read: " + ec.message()));
      continue;
    }
    if (static_cast<std::int64_t>(size) > limits.rule_file_bytes) {
      out.errors.push_back(make_error(file, 1, 1, "file is " + std::to_string(size) + " bytes, over limits.rule_file_bytes (" +
                                              std::to_string(limits.rule_file_bytes) + ")"));
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    if (!in) {
      out.errors.push_back(make_error(file, 0, 0, "cannot read"));
      continue;
    }
    auto parsed = parse_intents(file, buf.str(), out.errors);
    for (auto& i : parsed) all.push_back(std::move(i));
  }
  for (std::size_t i = 0; i < all.size(); ++i) all[i].order = i;
  validate_intents(all, out.errors);
  // Compile even when validation failed, so that one run lists every error.
  auto built = rule_set::build(std::move(all), limits);
  if (auto* errs = std::get_if<std::vector<load_error>>(&built)) {
    out.errors.insert(out.errors.end(), errs->begin(), errs->end());
  } else if (out.errors.empty()) {
    out.rules = std::get<std::shared_ptr<const rule_set>>(std::move(built));
  }
  return out;
}

}  // namespace bot::intents
