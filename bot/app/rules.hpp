// Loading the bot's rules from the configured folders into a dialog snapshot,
// shared by serve (start and hot reload) and the staff tools.
#pragma once

#include <string>
#include <vector>

#include "bot/core/config.hpp"
#include "bot/core/status.hpp"
#include "bot/dialog/router.hpp"

namespace bot::app {

struct rules_report {
  bool loaded = false;  // the rules compiled (examples may still fail)
  std::size_t files = 0;
  std::size_t intents = 0;
  std::size_t patterns = 0;
  std::size_t examples = 0;
  std::size_t examples_passed = 0;
  std::size_t kb_files = 0;
  std::size_t kb_articles = 0;
  std::size_t kb_variants = 0;
  double kb_build_ms = 0;
  std::vector<std::string> errors;  // "file:line:col: message", load errors then example failures
  dialog::snapshot snap;            // valid when loaded
  bool ok() const { return loaded && errors.empty(); }
};

intents::rule_limits rule_limits_of(const core::config& c);

// Loads intents_dir and kb_dir, compiles and indexes, and runs every
// example and not_example (which then compete with the KB, as in serving).
rules_report load_and_check_rules(const core::config& c);

// A snapshot for serving: the rules must load and every example must pass
// (a broken edit never goes live). The error lists every problem, one per line.
core::result<dialog::snapshot> load_snapshot(const core::config& c);

}  // namespace bot::app
