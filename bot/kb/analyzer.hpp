// analyzer: turns text into the terms and features the knowledge base ranks
// with. Deterministic and pure; an analyzer is immutable after construction
// and safe to share between threads.
//
// - normalise (core::normalize), split into words;
// - synonyms: every word or phrase of a group is replaced by the group's
//   first entry, in articles and queries alike;
// - typo tolerance: a query word the KB does not know is replaced by the
//   known word at edit distance 1 (2 for words of 8+ letters) with the
//   highest document frequency; one-word synonyms are known words too (a
//   correction to one is then replaced by its group's first entry);
// - light English stemming (plural and -ing/-ed endings);
// - features: word unigrams and bigrams, character 3- and 4-grams of each word.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bot/kb/article.hpp"

namespace bot::kb {

struct analyzed {
  std::vector<std::string> words;      // after synonyms and typo correction, not stemmed
  std::vector<std::string> stems;      // parallel to words
  std::vector<std::string> corrected;  // "shiping→shipping" notes, for explanations
};

// Raw counts per hashed feature id. Polymorphic, so that a search can keep
// them in a stack arena; the iteration order (which fixes the order features
// are summed in) is that of std::unordered_map, whatever the resource.
using feature_counts = std::pmr::unordered_map<std::uint64_t, float>;

// One sparse feature: a hashed id and a weight.
struct feature {
  std::uint64_t id;
  float value;
};

class analyzer {
 public:
  analyzer() = default;
  explicit analyzer(const synonym_groups& groups);

  // Words of the text with synonyms applied (no typo correction).
  analyzed analyze(std::string_view text) const;

  // Learns the vocabulary used for typo correction (call once per document
  // before any correct()). `df` counts documents per word.
  void learn(const analyzed& doc);
  void finish_vocabulary();

  // analyze() and then replace unknown words by their nearest known word.
  analyzed analyze_query(std::string_view text) const;

  // Raw feature counts of analysed text: word unigrams and bigrams (of
  // stems) into `words`, character 3- and 4-grams of each word into `chars`.
  static void features_of(const analyzed& a, feature_counts& words, feature_counts& chars);

  static std::string stem(std::string_view word);
  static bool is_stop_word(std::string_view word);
  bool knows(const std::string& word) const { return df_.count(word) > 0; }

 private:
  std::string correct(const std::string& word) const;

  // Synonym phrases (normalised word sequences) to the group's canonical form.
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> phrases_;
  std::unordered_map<std::string, std::string> single_;  // one-word synonym -> canonical words
  std::unordered_map<std::string, int> df_;               // known word -> document frequency
  // Deletion neighbourhood: a word with one letter deleted -> known words.
  std::unordered_map<std::string, std::vector<std::string>> deletes_;
};

std::uint64_t hash_feature(std::string_view kind, std::string_view text) noexcept;

}  // namespace bot::kb
