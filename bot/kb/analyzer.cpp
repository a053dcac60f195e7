#include "bot/kb/analyzer.hpp"

#include <algorithm>

#include "bot/core/text.hpp"

namespace bot::kb {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_ascii_word(std::string_view w) {
  return std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Every string of `w` with one byte deleted (ASCII words only).
std::vector<std::string> deletions(const std::string& w) {
  std::vector<std::string> out;
  out.reserve(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    std::string d = w;
    d.erase(i, 1);
    out.push_back(std::move(d));
  }
  return out;
}

// Damerau-Levenshtein distance (optimal string alignment), capped use.
int edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::uint64_t hash_feature(std::string_view kind, std::string_view text) noexcept {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char c : kind) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  h = (h ^ 0x1F) * 1099511628211ULL;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

analyzer::analyzer(const synonym_groups& groups) {
  for (const auto& g : groups) {
    if (g.size() < 2) continue;
    const auto canonical = core::words(g.front());
    for (std::size_t i = 1; i < g.size(); ++i) {
      auto w = core::words(g[i]);
      if (w.empty()) continue;
      if (w.size() == 1) {
        single_[w[0]] = g.front();
      } else {
        phrases_.emplace_back(std::move(w), canonical);
      }
    }
  }
  // Longer phrases first, so "money back guarantee" wins over "money back".
  std::stable_sort(phrases_.begin(), phrases_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string analyzer::stem(std::string_view w) {
  std::string s(w);
  if (s.size() > 3 && ends_with(s, "'s")) s.resize(s.size() - 2);
  if (!is_ascii_word(s) || s.size() <= 3) return s;
  if (ends_with(s, "ies") && s.size() > 4) return s.substr(0, s.size() - 3) + "y";
  if (ends_with(s, "sses")) return s.substr(0, s.size() - 2);
  if (ends_with(s, "ing") && s.size() > 5) {
    s.resize(s.size() - 3);
    if (s.size() > 2 && s[s.size() - 1] == s[s.size() - 2] && s.back() != 'l' && s.back() != 's') s.pop_back();
    return s;
  }
  if (ends_with(s, "ed") && s.size() > 4) {
    s.resize(s.size() - 2);
    if (s.size() > 2 && s[s.size() - 1] == s[s.size() - 2] && s.back() != 'l' && s.back() != 's') s.pop_back();
    return s;
  }
  if (ends_with(s, "es") && s.size() > 4 && (ends_with(s, "ches") || ends_with(s, "shes") || ends_with(s, "xes"))) {
    return s.substr(0, s.size() - 2);
  }
  if (s.back() == 's' && !ends_with(s, "ss") && !ends_with(s, "us") && !ends_with(s, "is") && s.size() > 3) {
    s.pop_back();
  }
  return s;
}

bool analyzer::is_stop_word(std::string_view w) {
  static const std::unordered_set<std::string_view> stop = {
      "a", "an", "the", "and", "or", "but", "if", "of", "at", "by", "for", "with", "about", "to", "from",
      "in", "on", "is", "are", "was", "were", "be", "been", "am", "it", "its", "it's", "this", "that", "these",
      "those", "i", "me", "my", "we", "our", "you", "your", "he", "she", "they", "them", "their", "do", "does",
      "did", "so", "as", "there", "please", "can", "could", "would", "will", "just", "i'm", "i've", "im", "some",
      "any", "what", "how", "when", "where", "which", "who", "why", "know", "tell", "want", "need", "like"};
  return stop.count(w) > 0;
}

analyzed analyzer::analyze(std::string_view text) const {
  analyzed a;
  std::vector<std::string> w = core::words(core::normalize(text));
  // Phrases, then single words.
  if (!phrases_.empty()) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < w.size();) {
      bool hit = false;
      for (const auto& [phrase, canonical] : phrases_) {
        if (i + phrase.size() <= w.size() && std::equal(phrase.begin(), phrase.end(), w.begin() + static_cast<long>(i))) {
          out.insert(out.end(), canonical.begin(), canonical.end());
          i += phrase.size();
          hit = true;
          break;
        }
      }
      if (!hit) out.push_back(std::move(w[i++]));
    }
    w = std::move(out);
  }
  for (auto& word : w) {
    const auto it = single_.find(word);
    if (it == single_.end()) {
      a.words.push_back(std::move(word));
    } else {
      for (auto& c : core::words(it->second)) a.words.push_back(std::move(c));
    }
  }
  for (const auto& word : a.words) a.stems.push_back(stem(word));
  return a;
}

void analyzer::learn(const analyzed& doc) {
  std::unordered_set<std::string> seen(doc.words.begin(), doc.words.end());
  for (const auto& w : seen) ++df_[w];
}

void analyzer::finish_vocabulary() {
  // One-word synonyms never reach df_ (analyze() replaces them), yet they are
  // words of the KB: a misspelled "pakage" must still find "package" (and so
  // its group's canonical words). They count as often as their canonical form.
  for (const auto& [w, canonical] : single_) {
    if (df_.count(w)) continue;
    int df = 0;
    for (const auto& c : core::words(canonical)) {
      const auto it = df_.find(c);
      df = it == df_.end() ? 0 : (df == 0 ? it->second : std::min(df, it->second));
      if (df == 0) break;
    }
    if (df > 0) df_[w] = df;
  }
  deletes_.clear();
  for (const auto& [w, n] : df_) {
    if (w.size() < 4 || !is_ascii_word(w)) continue;
    for (auto& d : deletions(w)) deletes_[d].push_back(w);
  }
}

std::string analyzer::correct(const std::string& word) const {
  if (word.size() < 4 || !is_ascii_word(word) || df_.count(word)) return word;
  // Candidates sharing a one-deletion form: covers one insertion, deletion,
  // substitution or transposition (and some distance-2 edits, filtered below).
  std::vector<std::string> forms = deletions(word);
  forms.push_back(word);
  const int max_distance = word.size() >= 8 ? 2 : 1;
  std::string best;
  int best_df = 0, best_dist = 99;
  for (const auto& f : forms) {
    const auto it = deletes_.find(f);
    if (it == deletes_.end()) continue;
    for (const auto& cand : it->second) {
      const int dist = edit_distance(word, cand);
      if (dist > max_distance) continue;
      const int df = df_.at(cand);
      if (dist < best_dist || (dist == best_dist && (df > best_df || (df == best_df && cand < best)))) {
        best = cand;
        best_df = df;
        best_dist = dist;
      }
    }
  }
  return best.empty() ? word : best;
}

analyzed analyzer::analyze_query(std::string_view text) const {
  analyzed a = analyze(text);
  analyzed out;
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    const std::string fixed = correct(a.words[i]);
    if (fixed == a.words[i]) {
      out.words.push_back(std::move(a.words[i]));
      out.stems.push_back(std::move(a.stems[i]));
      continue;
    }
    out.corrected.push_back(a.words[i] + "→" + fixed);
    // A correction to a synonym becomes its canonical words, as in analyze().
    const auto syn = single_.find(fixed);
    for (auto& w : syn == single_.end() ? std::vector<std::string>{fixed} : core::words(syn->second)) {
      out.stems.push_back(stem(w));
      out.words.push_back(std::move(w));
    }
  }
  return out;
}

void analyzer::features_of(const analyzed& a, feature_counts& words, feature_counts& chars) {
  // The same ids as hash_feature(kind, text), hashed in place: no string is
  // built for a bigram or a padded word.
  const auto start = [](char kind) {
    std::uint64_t h = 1469598103934665603ULL;
    h = (h ^ static_cast<unsigned char>(kind)) * 1099511628211ULL;
    return (h ^ 0x1F) * 1099511628211ULL;
  };
  const auto add = [](std::uint64_t h, std::string_view text) {
    for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return h;
  };
  for (std::size_t i = 0; i < a.stems.size(); ++i) {
    words[add(start('w'), a.stems[i])] += 1.0f;
    if (i + 1 < a.stems.size()) words[add(add(add(start('b'), a.stems[i]), " "), a.stems[i + 1])] += 1.0f;
    // Character n-grams of "<word>".
    const std::string_view w = a.words[i];
    const std::size_t padded = w.size() + 2;
    const auto at = [&](std::size_t k) { return k == 0 ? '<' : k == padded - 1 ? '>' : w[k - 1]; };
    for (std::size_t n = 3; n <= 4; ++n) {
      for (std::size_t k = 0; k + n <= padded; ++k) {
        std::uint64_t h = start('c');
        for (std::size_t j = k; j < k + n; ++j) h = (h ^ static_cast<unsigned char>(at(j))) * 1099511628211ULL;
        chars[h] += 1.0f;
      }
    }
  }
}

}  // namespace bot::kb
