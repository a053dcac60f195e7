// Subcommands, one function each, called by run_cli after the common options
// (--config) were taken off. `args` holds what is left.
#pragma once

#include <string>
#include <vector>

#include "bot/core/config.hpp"

namespace bot::app {

struct command_context {
  std::string config_path;  // --config as given ("" = default lookup)
  std::vector<std::string> args;
};

int cmd_serve(const command_context& ctx);
int cmd_config(const command_context& ctx);
int cmd_check(const command_context& ctx);
int cmd_ask(const command_context& ctx);
int cmd_test(const command_context& ctx);
int cmd_eval(const command_context& ctx);
int cmd_kb(const command_context& ctx);
int cmd_agent(const command_context& ctx);

}  // namespace bot::app
