// rule_set: an immutable, compiled snapshot of all intents. One RE2::Set over
// every pattern (case-insensitive, on normalised text) finds the candidate
// intents in one pass; per-pattern RE2s run only for the Set's hits, to
// measure the match and to extract slots from the original text.
//
// Thread-safety: a built rule_set is immutable; match() and the accessors are
// safe from any number of threads (RE2 objects are thread-safe for matching).
// Share it as std::shared_ptr<const rule_set>; a reload builds a new one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bot/core/status.hpp"
#include "bot/intents/model.hpp"

namespace re2 {
class RE2;
}

namespace bot::intents {

struct rule_limits {
  std::int64_t rule_file_bytes = 1 << 20;
  int pattern_bytes = 1024;
  int re2_max_mem_mb = 64;
};

// One candidate intent for a message.
struct intent_match {
  const intent* rule = nullptr;
  double confidence = 0;     // [0, 1]; docs/routing.md
  std::string_view pattern;  // the matched pattern that gave the confidence (in `rule`)
  std::string matched_text;  // what it matched (normalised text)
  slot_map slots;            // named groups of the intent's slots, from the original text
};

class rule_set {
 public:
  ~rule_set();
  rule_set(const rule_set&) = delete;
  rule_set& operator=(const rule_set&) = delete;

  // Compiles every pattern, exclude and slot. On failure returns every error
  // found (a pattern RE2 rejects, one over limits.pattern_bytes, a slot
  // without its named group, the Set over its memory budget).
  static std::variant<std::shared_ptr<const rule_set>, std::vector<load_error>> build(
      std::vector<intent> intents, const rule_limits& limits);

  // The candidates for a message, best first: higher priority, then higher
  // confidence, then earlier in file order. Intents with a matching exclude or
  // a missing requires_context key are left out. Fails (never "no match")
  // when RE2 runs out of DFA memory.
  core::result<std::vector<intent_match>> match(std::string_view original,
                                                const context_map& context) const;

  // The value of slot `name` of `rule` in `original`, if its pattern matches.
  std::optional<std::string> extract_slot(const intent& rule, const std::string& name,
                                          std::string_view original) const;

  const std::vector<intent>& intents() const { return intents_; }
  const intent* find(std::string_view id) const;
  std::size_t pattern_count() const { return refs_.size(); }

 private:
  rule_set() = default;
  struct impl;
  struct pattern_ref {
    std::size_t intent_index;
    std::size_t pattern_index;
  };
  std::vector<intent> intents_;
  std::vector<pattern_ref> refs_;          // Set index -> pattern
  std::vector<std::size_t> exclude_refs_;  // exclude Set index -> intent index
  std::unique_ptr<impl> impl_;
};

}  // namespace bot::intents
