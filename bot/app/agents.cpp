// `supportbot agent add|list|disable|enable|passwd`: agent accounts for the
// console, stored in data_dir/supportbot.db (the server may be running: the
// database is shared through WAL).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "bot/app/commands.hpp"
#include "bot/app/config_file.hpp"
#include "bot/core/log.hpp"
#include "bot/handoff/password.hpp"
#include "bot/store/store.hpp"

namespace bot::app {
namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "supportbot agent: %s\n", msg.c_str());
  return 1;
}

// One line from stdin without its newline; nullopt at end of input.
std::optional<std::string> read_line() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// A terminal: asks twice without echo. Otherwise: the first line of stdin.
core::result<std::string> read_password() {
  if (!isatty(STDIN_FILENO)) {
    auto line = read_line();
    if (!line || line->empty())
      return core::invalid_argument("no password on the first line of stdin");
    return *line;
  }
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::fprintf(stderr, "Password: ");
  auto first = read_line();
  std::fprintf(stderr, "\nAgain: ");
  auto second = read_line();
  std::fprintf(stderr, "\n");
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  if (!first || first->empty()) return core::invalid_argument("no password given");
  if (!second || *first != *second) return core::invalid_argument("the two passwords differ");
  return *first;
}

// The password of `agent add` / `agent passwd`: generated (and printed) or read.
core::result<std::string> new_password(bool generate) {
  if (generate) {
    std::string p = handoff::generate_password();
    std::printf("password: %s\n", p.c_str());
    return p;
  }
  auto p = read_password();
  if (!p.ok()) return p;
  if (p.value().size() < 10) return core::invalid_argument("a password has at least 10 characters");
  return p;
}

core::result<std::unique_ptr<store::store>> open_store(const core::config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return core::io_error("data_dir " + cfg.data_dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(cfg.data_dir) / "supportbot.db").string();
  return store::open_sqlite_store(path, cfg.store, core::system_clock::instance());
}

std::string teams_text(const std::vector<std::string>& teams) {
  std::string out;
  for (const auto& t : teams) out += (out.empty() ? "" : ",") + t;
  return out.empty() ? "-" : out;
}

int agent_add(store::store& db, const std::vector<std::string>& args) {
  store::new_agent a;
  bool generate = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& x = args[i];
    const auto value = [&](const char* what) -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      (void)what;
      return args[++i];
    };
    if (x == "--team") {
      auto v = value("team");
      if (!v) return fail("--team needs a value");
      a.teams.push_back(*v);
    } else if (x == "--admin") {
      a.admin = true;
    } else if (x == "--generate") {
      generate = true;
    } else if (x == "--max-chats") {
      auto v = value("max-chats");
      if (!v) return fail("--max-chats needs a value");
      try {
        std::size_t used = 0;
        a.max_chats = std::stoi(*v, &used);
        if (used != v->size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return fail("--max-chats: '" + *v + "' is not a number");
      }
    } else if (x == "--display-name") {
      auto v = value("display-name");
      if (!v) return fail("--display-name needs a value");
      a.display_name = *v;
    } else if (!x.empty() && x[0] == '-') {
      return fail("unknown option '" + x + "'");
    } else if (a.name.empty()) {
      a.name = x;
    } else {
      return fail("one NAME only ('" + x + "' is extra)");
    }
  }
  if (a.name.empty()) return fail("agent add needs a NAME");
  // Refused early (before asking for a password) when the name is taken.
  auto existing =
      store::wait_for<store::agent_row>([&](auto done) { db.find_agent(a.name, std::move(done)); });
  if (existing.ok()) return fail("agent '" + a.name + "' exists (agent passwd changes a password)");
  if (existing.error().code() != core::errc::not_found) return fail(existing.error().message());
  auto password = new_password(generate);
  if (!password.ok()) return fail(password.error().message());
  auto hash = handoff::hash_password(password.value());
  if (!hash.ok()) return fail(hash.error().message());
  a.password_hash = std::move(hash.value());
  auto added =
      store::wait_for<store::agent_row>([&](auto done) { db.add_agent(a, std::move(done)); });
  if (!added.ok()) return fail(added.error().message());
  const auto& r = added.value();
  std::printf("added agent %s (teams: %s%s, max chats %d)\n", r.name.c_str(),
              teams_text(r.teams).c_str(), r.admin ? ", admin" : "", r.max_chats);
  return 0;
}

int agent_list(store::store& db, bool json) {
  auto rows = store::wait_for<std::vector<store::agent_row>>(
      [&](auto done) { db.list_agents(std::move(done)); });
  if (!rows.ok()) return fail(rows.error().message());
  if (json) {
    std::string out = "[";
    for (const auto& a : rows.value()) {
      if (out.size() > 1) out += ',';
      out += "{\"name\":";
      core::log::append_json_string(out, a.name);
      out += ",\"display_name\":";
      core::log::append_json_string(out, a.display_name);
      out += ",\"teams\":[";
      for (std::size_t i = 0; i < a.teams.size(); ++i) {
        if (i) out += ',';
        core::log::append_json_string(out, a.teams[i]);
      }
      out += "],\"admin\":" + std::string(a.admin ? "true" : "false") +
             ",\"max_chats\":" + std::to_string(a.max_chats) +
             ",\"disabled\":" + std::string(a.disabled ? "true" : "false") + "}";
    }
    out += "]\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  if (rows.value().empty()) {
    std::printf("no agents (add one with: supportbot agent add NAME --team TEAM)\n");
    return 0;
  }
  std::printf("%-24s %-24s %-6s %-9s %s\n", "NAME", "TEAMS", "ADMIN", "MAX CHATS", "STATUS");
  for (const auto& a : rows.value()) {
    std::printf("%-24s %-24s %-6s %-9d %s\n", a.name.c_str(), teams_text(a.teams).c_str(),
                a.admin ? "yes" : "no", a.max_chats, a.disabled ? "disabled" : "active");
  }
  return 0;
}

int agent_set_disabled(store::store& db, const std::string& name, bool disabled) {
  auto st = store::wait_done(
      [&](store::done_callback done) { db.set_agent_disabled(name, disabled, std::move(done)); });
  if (!st.ok()) return fail(st.message());
  std::printf("%s agent %s\n", disabled ? "disabled" : "enabled", name.c_str());
  return 0;
}

int agent_passwd(store::store& db, const std::string& name, bool generate) {
  auto existing =
      store::wait_for<store::agent_row>([&](auto done) { db.find_agent(name, std::move(done)); });
  if (!existing.ok()) return fail(existing.error().message());
  auto password = new_password(generate);
  if (!password.ok()) return fail(password.error().message());
  auto hash = handoff::hash_password(password.value());
  if (!hash.ok()) return fail(hash.error().message());
  auto st = store::wait_done([&](store::done_callback done) {
    db.set_agent_password(name, hash.value(), std::move(done));
  });
  if (!st.ok()) return fail(st.message());
  std::printf("changed the password of agent %s\n", name.c_str());
  return 0;
}

}  // namespace

int cmd_agent(const command_context& ctx) {
  const auto& args = ctx.args;
  if (args.empty())
    return fail("which? add, list, disable, enable or passwd (see supportbot agent --help)");
  const std::string& what = args[0];
  bool json = false, generate = false;
  std::string name;
  if (what != "add") {
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--json" && what == "list") {
        json = true;
      } else if (args[i] == "--generate" && what == "passwd") {
        generate = true;
      } else if (!args[i].empty() && args[i][0] == '-') {
        return fail("unknown option '" + args[i] + "' for agent " + what);
      } else if (name.empty() && what != "list") {
        name = args[i];
      } else {
        return fail("unexpected argument '" + args[i] + "'");
      }
    }
    if (what != "list" && name.empty()) return fail("agent " + what + " needs a NAME");
  }
  if (what != "add" && what != "list" && what != "disable" && what != "enable" &&
      what != "passwd") {
    return fail("unknown subcommand '" + what + "' (add, list, disable, enable, passwd)");
  }
  auto loaded = load_config({ctx.config_path, process_environment()});
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message().c_str());
    return 1;
  }
  // The store's open/close lines are for the server's log, not for a person
  // at a terminal.
  core::log::set_level(core::log::level::warn);
  auto opened = open_store(loaded.value());
  if (!opened.ok()) return fail(opened.error().message());
  std::unique_ptr<store::store> db = std::move(opened.value());
  int rc = 1;
  if (what == "add")
    rc = agent_add(*db, args);
  else if (what == "list")
    rc = agent_list(*db, json);
  else if (what == "disable")
    rc = agent_set_disabled(*db, name, true);
  else if (what == "enable")
    rc = agent_set_disabled(*db, name, false);
  else
    rc = agent_passwd(*db, name, generate);
  db->close();
  return rc;
}

}  // namespace bot::app
