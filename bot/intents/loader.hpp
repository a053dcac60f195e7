// Loading intents/*.yaml (DESIGN §4) into a rule_set. Files are read in name
// order; every problem of every file is collected as "file:line:col: message"
// so that staff see all of them at once. Pure function of the files: safe to
// call from any thread, never touches a shared snapshot.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bot/intents/model.hpp"
#include "bot/intents/rule_set.hpp"

namespace bot::intents {

struct load_result {
  std::shared_ptr<const rule_set> rules;  // null when there are errors
  std::vector<load_error> errors;
  std::vector<std::string> files;  // the files read
};

// Parses one file's text; `file` is the name used in locations.
std::vector<intent> parse_intents(const std::string& file, const std::string& text,
                                  std::vector<load_error>& errors);

// Checks what spans intents: duplicate ids, slot names in templates, expect,
// when, handoff.team without action: handoff.
void validate_intents(const std::vector<intent>& intents, std::vector<load_error>& errors);

// Reads every *.yaml / *.yml in `dir` (not recursive), validates, compiles.
load_result load_intents_dir(const std::string& dir, const rule_limits& limits);

}  // namespace bot::intents
