// The intent rule model (DESIGN §4): what support staff write in
// intents/*.yaml, after validation. Plain values; immutable once loaded into
// a rule_set, so they may be read from any thread.
#pragma once

#include <cstddef>
#include <map>
#include <utility>
#include <string>
#include <vector>

namespace bot::intents {

// Where something was written: "intents/orders.yaml:12:7".
struct source_loc {
  source_loc() = default;
  source_loc(std::string f, int l, int c) : file(std::move(f)), line(l), col(c) {}
  std::string file;
  int line = 0;  // 1-based
  int col = 0;   // 1-based
  std::string str() const;
};

// A load or validation error; `message` is "file:line:col: what is wrong".
struct load_error {
  // A constructor (not aggregate init) keeps GCC 12's -Wmaybe-uninitialized quiet.
  load_error() = default;
  load_error(source_loc l, std::string w) : loc(std::move(l)), what(std::move(w)) {}
  source_loc loc;
  std::string what;
  std::string message() const { return loc.str() + ": " + what; }
};

struct weighted_pattern {
  std::string regex;
  double weight = 1.0;  // (0, 1]
  source_loc loc;
};

using slot_map = std::map<std::string, std::string>;
using context_map = std::map<std::string, std::string>;

// A response's `when`: every listed condition must hold.
struct condition {
  std::vector<std::string> missing;  // slots not known
  std::vector<std::string> present;  // slots known
  context_map context;               // context keys with these values
  bool holds(const slot_map& slots, const context_map& ctx) const;
};

struct response {
  condition when;
  std::vector<std::string> texts;  // variants; one is chosen at random
  std::string expect;              // slot the next message is tried as first; "" = none
  source_loc loc;
};

enum class action { none, handoff, close };

struct slot_rule {
  std::string name;
  std::string regex;  // contains the named group (?P<name>...)
  source_loc loc;
};

struct example {
  std::string text;
  source_loc loc;
};

struct intent {
  std::string id;
  std::string description;
  std::vector<weighted_pattern> patterns;
  std::vector<weighted_pattern> excludes;
  std::vector<slot_rule> slots;
  std::vector<std::string> requires_context;
  context_map sets_context;
  int priority = 0;
  std::vector<response> responses;
  std::vector<std::string> quick_replies;
  action act = action::none;
  std::string handoff_team;  // with action::handoff; "" = the default team
  std::vector<example> examples;      // must route to this intent (checked by `check`)
  std::vector<example> not_examples;  // must not
  source_loc loc;
  std::size_t order = 0;  // position over all files (sorted by name): ties go to the earlier

  bool has_slot(const std::string& name) const;
};

std::string_view action_name(action a) noexcept;

// Fills {slot} placeholders from `slots`; unknown names stay as written.
std::string fill_template(const std::string& text, const slot_map& slots);

// The {slot} names a template uses.
std::vector<std::string> template_slots(const std::string& text);

}  // namespace bot::intents
