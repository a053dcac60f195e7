// Loading supportbot.yaml (DESIGN §4, §10): built-in defaults, then the file,
// then SUPPORTBOT_* environment overrides, then cross-key checks. Every error
// is reported as "path:line:col: message", all of them, not just the first.
#pragma once

#include <string>
#include <vector>

#include "bot/core/config.hpp"
#include "bot/core/status.hpp"

namespace bot::app {

struct config_source {
  // --config FILE as given; "" = ./supportbot.yaml when it exists, else defaults.
  std::string path;
  // "NAME=value" entries; normally the process environment.
  std::vector<std::string> environment;
};

// The loaded config. Relative paths (data_dir, intents_dir, kb_dir, web_dir)
// are resolved against the config file's folder (or kept relative to the
// working directory when there is no file). On failure the status message
// lists every error, one per line.
core::result<core::config> load_config(const config_source& source);

// The process environment as "NAME=value" entries.
std::vector<std::string> process_environment();

// A YAML document listing every key with its value in `c` and a comment;
// deploy/supportbot.yaml is this text for the defaults.
std::string config_to_yaml(const core::config& c);

}  // namespace bot::app
