// dialog: the routing policy of DESIGN §5. route() is synchronous and pure: a
// message, the conversation's dialog state and an immutable snapshot in; a
// decision (and the updated state) out. It never sees sockets or SQL, so the
// server and the CLI (ask, test, check, eval) always agree.
//
// Thread-safety: a router is immutable after construction; route() may run
// concurrently for different conversations. A dialog_state belongs to one
// conversation and must not be shared between concurrent calls.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bot/core/config.hpp"
#include "bot/core/status.hpp"
#include "bot/intents/rule_set.hpp"
#include "bot/kb/index.hpp"

namespace bot::dialog {

enum class decision_kind { answer, clarify, fallback, handoff };
std::string_view decision_name(decision_kind k) noexcept;

// What the bot remembers about one conversation between turns.
struct dialog_state {
  struct context_value {
    std::string value;
    int turns_left = 0;
  };
  std::map<std::string, context_value> context;  // from sets_context, expiring
  intents::slot_map slots;                        // every slot the visitor gave
  std::string expect_intent;                      // a response asked for a slot...
  std::string expect_slot;                        // ...of this intent
  int fallbacks_in_row = 0;
  int turns = 0;

  intents::context_map context_values() const;
};

// The immutable rules a decision is made with; swapped whole on reload.
struct snapshot {
  std::shared_ptr<const intents::rule_set> rules;
  std::shared_ptr<const kb::kb_index> kb;  // may be null: no knowledge base
};

// One scored candidate, for the decision and for `ask`.
struct candidate {
  std::string kind;  // "intent" or "kb"
  std::string id;
  std::string title;  // description or article title
  double confidence = 0;
  int priority = 0;
  std::string why;  // the pattern, or the KB terms and nearest variant, that matched
  std::string matched_text;
  intents::slot_map slots;
};

struct decision {
  decision_kind kind = decision_kind::fallback;
  std::string text;  // the reply to send
  std::vector<std::string> quick_replies;
  // For clarify: the payload of each quick reply ("intent:<id>", "kb:<id>"),
  // which chooses that candidate directly. Empty otherwise (the label is sent).
  std::vector<std::string> quick_payloads;
  std::string source_kind;  // intent | kb | fallback | clarify
  std::string source_id;    // intent or article id ("" for fallback/clarify)
  std::string source_title;  // the article title (kb)
  double confidence = 0;    // of the chosen candidate (top for clarify/fallback)
  std::vector<candidate> candidates;  // best first
  std::string handoff_team;    // with handoff
  std::string handoff_reason;  // "intent:<id>", "fallbacks", "requested"
  bool close = false;          // the intent's action is close
  core::status error;          // matching failed (e.g. RE2 out of memory): kind is fallback
};

// What route() must compute: every candidate (for `ask`, `eval` and the
// conversation tests) or only what the decision needs (the server).
enum class route_detail { full, decision_only };

class router {
 public:
  explicit router(core::routing_config cfg) : cfg_(cfg) {}

  // Routes one visitor message. `text` is what the visitor typed or the
  // payload of a quick reply ("intent:<id>" or "kb:<id>" chooses that intent
  // or article directly).
  // Updates `state`. `rng` picks among response variants. With
  // route_detail::decision_only the knowledge base is not searched when an
  // intent answers (the decision cannot depend on it), so `candidates` then
  // lists the intents only; the decision is the same in both modes.
  decision route(std::string_view text, dialog_state& state, const snapshot& snap,
                 std::mt19937_64& rng,
                 route_detail detail = route_detail::full) const;

  const core::routing_config& config() const { return cfg_; }

 private:
  decision answer_intent(const intents::intent& in, const intents::slot_map& found, double confidence,
                         dialog_state& state, std::mt19937_64& rng) const;
  decision answer_article(const kb::article& a, double confidence, dialog_state& state) const;
  core::routing_config cfg_;
};

// The default handoff team when an intent names none, and for fallbacks.
inline constexpr std::string_view k_default_team = "general";

// One example or not_example that does not route as declared.
struct example_failure {
  std::string message;  // "file:line:col: example 'x' routes to y (answer 0.92), not to z"
};

// Runs every intent's examples and not_examples through route() with a fresh
// state (and the intent's requires_context keys set).
struct example_report {
  std::size_t examples = 0;
  std::size_t passed = 0;
  std::vector<example_failure> failures;
};
example_report check_examples(const router& r, const snapshot& snap);

}  // namespace bot::dialog
