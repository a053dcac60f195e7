// The supportbot command line (DESIGN §10): parses argv, dispatches to a
// subcommand, returns the process exit code. Usage errors exit 2, failures 1.
#pragma once

namespace bot::app {

int run_cli(int argc, char** argv);

}  // namespace bot::app
