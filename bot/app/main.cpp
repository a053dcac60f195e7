#include "bot/app/cli.hpp"

int main(int argc, char** argv) { return bot::app::run_cli(argc, argv); }
