#include "bot/app/cli.hpp"

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bot/app/commands.hpp"

namespace bot::app {
namespace {

struct command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;  // full help text
  std::function<int(const command_context&)> run;
};

const std::vector<command>& commands() {
  static const std::vector<command> list = {
      {"serve", "run the chat server",
       "usage: supportbot serve [--config FILE]\n"
       "\n"
       "Runs the chat server: HTTP on listen:port (default 127.0.0.1:8080) with\n"
       "/healthz, /readyz and the static files of web_dir, and the database\n"
       "data_dir/supportbot.db (SQLite, WAL). SIGINT or SIGTERM stop it cleanly:\n"
       "it stops accepting, finishes in-flight requests, flushes the database and\n"
       "exits 0. Logs are JSON lines on stderr.\n",
       cmd_serve},
      {"config", "print the effective configuration",
       "usage: supportbot config [--config FILE] [--defaults]\n"
       "\n"
       "Prints every setting with its value after the config file and the\n"
       "SUPPORTBOT_* environment overrides, as YAML with a comment per key.\n"
       "--defaults prints the built-in defaults instead (deploy/supportbot.yaml).\n"
       "Exits 1 and lists every error as file:line:col: message when the\n"
       "configuration is invalid.\n",
       cmd_config},
      {"check", "validate intents/ and run every example",
       "usage: supportbot check [--config FILE] [--json]\n"
       "\n"
       "Loads every intents_dir/*.yaml as the server would, reports every error as\n"
       "file:line:col: message (unknown keys, wrong types, duplicate ids, patterns\n"
       "RE2 rejects or over limits.pattern_bytes, unknown slots in templates, expect\n"
       "or when, handoff.team without action: handoff), then routes every example\n"
       "(must reach its intent) and not_example (must not). Prints a summary and\n"
       "exits 0 only when all is well. --json prints one JSON object instead.\n",
       cmd_check},
      {"ask", "show what the bot would answer to a message, and why",
       "usage: supportbot ask \"text\" [--context key=value]... [--seed N] [--json]\n"
       "\n"
       "Routes one message through the server's own router and prints the decision\n"
       "(answer, clarify, fallback or handoff), the reply that would be sent, its\n"
       "quick replies, and the top candidates with their confidence, the pattern\n"
       "that matched, what it matched and the slots it extracted. --context sets\n"
       "conversation context (as sets_context would); --seed fixes the choice among\n"
       "response variants. --json prints one JSON object.\n",
       cmd_ask},
      {"test", "run scripted conversations",
       "usage: supportbot test [--config FILE] [FILE|DIR]...\n"
       "\n"
       "Runs each scripted conversation (default: tests/conversations/*.yaml) turn by\n"
       "turn through the server's router and checks the expectations of each turn\n"
       "(decision, intent, article, contains, state, slots). Prints a readable diff\n"
       "for every failure and exits 0 only when all pass. Format: docs/staff-tools.md.\n",
       cmd_test},
      {"eval", "measure answer quality on labelled messages",
       "usage: supportbot eval FILE.csv [--kb DIR] [--intents DIR] [--json] [--details OUT.csv]\n"
       "\n"
       "FILE.csv has the header text,expected; expected is an intent id, a KB\n"
       "article id, or out_of_scope (the bot should not answer: fallback, clarify\n"
       "or handoff are right). Each row goes through the server's router in a\n"
       "fresh conversation. Prints accuracy, in-scope accuracy, out-of-scope\n"
       "precision and recall, the decisions, latency per message and the most\n"
       "confused labels. --kb and --intents replace kb_dir and intents_dir;\n"
       "--details OUT.csv writes every row's decision, answer and top candidates.\n",
       cmd_eval},
      {"kb", "search the knowledge base, or show its statistics",
       "usage: supportbot kb search \"text\" [--limit N] [--json]\n"
       "       supportbot kb stats [--json]\n"
       "\n"
       "search ranks the articles of kb_dir for a message as the router does: for\n"
       "each, its confidence, the model's probability, the similarity to its\n"
       "nearest question variant (shown), the share of the message's words the KB\n"
       "knows, the shared terms and any typo corrections; then the raw FTS5 bm25\n"
       "ranking. stats shows the number of articles, variants and vocabulary, how\n"
       "well the model ranks the variants, and the time to index and train.\n",
       cmd_kb},
      {"agent", "manage agent accounts for the console",
       "usage: supportbot agent add NAME [--team T]... [--admin] [--max-chats N]\n"
       "                            [--display-name TEXT] [--generate]\n"
       "       supportbot agent list [--json]\n"
       "       supportbot agent disable NAME | enable NAME\n"
       "       supportbot agent passwd NAME [--generate]\n"
       "\n"
       "Agent accounts live in data_dir/supportbot.db (a running server sees changes\n"
       "at once). add and passwd ask for the password twice on a terminal, read it\n"
       "from the first line of stdin otherwise, or with --generate make a random one\n"
       "and print it. Passwords have at least 10 characters and are stored as a slow\n"
       "salted hash (PBKDF2-HMAC-SHA256, 600,000 iterations), never as given. NAME:\n"
       "A-Z a-z 0-9 _ - . (the login). --team (repeatable) names the teams whose\n"
       "queue the agent serves; --max-chats (default 5) caps conversations at once;\n"
       "--admin allows /api/reload. disable keeps the account and its history but\n"
       "refuses its logins.\n",
       cmd_agent},
  };
  return list;
}

void print_main_help(std::FILE* out) {
  std::fprintf(out,
               "supportbot - a rule-based customer-support chat server\n"
               "\n"
               "usage: supportbot <command> [--config FILE] [options]\n"
               "\n"
               "commands:\n");
  for (const auto& c : commands()) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out,
               "\n"
               "common options:\n"
               "  --config FILE  settings (default: ./supportbot.yaml when it exists,\n"
               "                 else built-in defaults); SUPPORTBOT_<SECTION>_<KEY>\n"
               "                 environment variables override it\n"
               "  --help         help for supportbot or for one command\n"
               "  --version      print the version\n");
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_main_help(stderr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (args.size() > 1) {
      for (const auto& c : commands()) {
        if (c.name == args[1]) {
          std::fwrite(c.usage.data(), 1, c.usage.size(), stdout);
          return 0;
        }
      }
    }
    print_main_help(stdout);
    return 0;
  }
  if (args[0] == "--version") {
    std::printf("supportbot %s\n", SUPPORTBOT_VERSION);
    return 0;
  }
  const command* cmd = nullptr;
  for (const auto& c : commands()) {
    if (c.name == args[0]) cmd = &c;
  }
  if (!cmd) {
    std::fprintf(stderr, "supportbot: unknown command '%s' (see supportbot --help)\n", args[0].c_str());
    return 2;
  }
  command_context ctx;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fwrite(cmd->usage.data(), 1, cmd->usage.size(), stdout);
      return 0;
    }
    if (a == "--config") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "supportbot %s: --config needs a file\n", args[0].c_str());
        return 2;
      }
      ctx.config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      ctx.config_path = a.substr(9);
    } else {
      ctx.args.push_back(a);
    }
  }
  return cmd->run(ctx);
}

}  // namespace bot::app
