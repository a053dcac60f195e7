// kb_index: an immutable, searchable snapshot of the knowledge base.
//
// Built once per load (and per hot reload) from the files:
// - an SQLite FTS5 table (in memory) with titles, question variants and
//   bodies as separate, weighted columns, queried with tokenised, quoted
//   terms only (visitor text never reaches MATCH syntax);
// - a TF-IDF nearest-variant index (word unigrams and bigrams);
// - a linear model over word and character n-grams, trained at build time
//   from the KB's own titles and question variants (softmax regression
//   against the nearest competing articles).
// search() ranks the articles nearest by variant similarity with the linear
// model plus that similarity; an article's confidence is its softmax
// probability, calibrated on variants held out from a first training run,
// times the share of the message's words the KB knows (docs/routing.md).
// No weights or data come from outside the KB files; training is
// deterministic.
//
// Thread-safety: a built kb_index is immutable; search() may run from any
// number of threads (the FTS5 connection is guarded by a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bot/core/status.hpp"
#include "bot/kb/analyzer.hpp"
#include "bot/kb/article.hpp"

namespace bot::kb {

struct kb_options {
  int candidates = 20;     // articles re-ranked per message
  int epochs = 6;          // training passes over the variants (fewer, down to 3, above 20,000 variants)
  int weight_bits = 22;    // the model has 2^bits weights (hashed feature x article)
  float char_weight = 0.5f;  // character n-grams relative to words
  float similarity_weight = 3.0f;  // cosine to the nearest variant, added to the model's score
  std::uint64_t seed = 42;   // training order
  // Threads that build (the caller's included). The index and its answers
  // are the same for any number: the work is split into independent parts.
  int build_threads = 2;
};

struct kb_match {
  const article* art = nullptr;
  double confidence = 0;   // [0, 1]
  double probability = 0;  // softmax among the candidates
  double similarity = 0;   // cosine to the nearest variant of the article
  double coverage = 0;     // share of the message's content words the KB knows
  double calibrated = 0;   // estimated chance the article is right, if the question is in scope
  double bm25 = 0;         // FTS5 rank (more negative = better); 0 when FTS5 did not match
  std::string nearest;     // the variant (or title) most like the message
  std::vector<std::string> terms;      // message words found in the article
  std::vector<std::string> corrected;  // typo corrections applied to the message
};

struct kb_stats {
  std::size_t articles = 0;
  std::size_t variants = 0;  // titles and questions
  std::size_t vocabulary = 0;
  std::size_t synonym_groups = 0;
  double build_ms = 0;
  double train_accuracy = 0;  // on the variants, after training
  std::size_t held_out = 0;   // variants held out to calibrate confidence
};

class kb_index {
 public:
  ~kb_index();
  kb_index(const kb_index&) = delete;
  kb_index& operator=(const kb_index&) = delete;

  // Indexes and trains. Fails only when SQLite cannot build the FTS5 table.
  static core::result<std::shared_ptr<const kb_index>> build(kb_files files, const kb_options& options = {});

  // The best `limit` articles for a message, best first.
  std::vector<kb_match> search(std::string_view text, std::size_t limit = 5) const;

  // FTS5 alone: (article, bm25) for tokenised, quoted terms of `text`.
  std::vector<std::pair<const article*, double>> fts_search(std::string_view text, std::size_t limit) const;

  const std::vector<article>& articles() const { return articles_; }
  const article* find(std::string_view id) const;
  const kb_stats& stats() const { return stats_; }

 private:
  kb_index() = default;
  struct impl;
  std::vector<article> articles_;
  kb_stats stats_;
  std::unique_ptr<impl> impl_;
};

}  // namespace bot::kb
