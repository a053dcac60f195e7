// `supportbot serve` and `supportbot config`: load the config, open the
// store, start the server, and stop cleanly on SIGINT/SIGTERM.
#include <pthread.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "bot/app/commands.hpp"
#include "bot/app/config_file.hpp"
#include "bot/app/metrics.hpp"
#include "bot/app/reloader.hpp"
#include "bot/app/rules.hpp"
#include "bot/core/log.hpp"
#include "bot/core/thread.hpp"
#include "bot/net/server.hpp"
#include "bot/store/store.hpp"

namespace bot::app {
namespace {

using namespace bot::core;

// Raises the open-files soft limit to the hard limit: every connection is a
// file descriptor.
void raise_open_files_limit(const core::config& c, int threads) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  // One descriptor per connection, plus the database (WAL and shm files per
  // connection), the listener, inotify and the store threads.
  const rlim_t reserve = 64 + static_cast<rlim_t>(c.store.read_connections + threads) * 3;
  const rlim_t needed = reserve + static_cast<rlim_t>(c.limits.max_connections);
  log::info("open_files_limit", {{"soft", static_cast<std::int64_t>(rl.rlim_cur)},
                                 {"hard", static_cast<std::int64_t>(rl.rlim_max)},
                                 {"needed", static_cast<std::int64_t>(needed)}});
  if (rl.rlim_cur < needed) {
    log::warn("open_files_limit_low",
              {{"soft", static_cast<std::int64_t>(rl.rlim_cur)},
               {"needed", static_cast<std::int64_t>(needed)},
               {"max_connections", c.limits.max_connections},
               {"hint", "raise LimitNOFILE (systemd) or ulimit -n, or lower limits.max_connections"}});
  }
}

void print_errors(const std::string& msg) {
  std::fprintf(stderr, "%s\n", msg.c_str());
}

}  // namespace

int cmd_config(const command_context& ctx) {
  bool defaults = false;
  for (const auto& a : ctx.args) {
    if (a == "--defaults") {
      defaults = true;
    } else {
      std::fprintf(stderr, "supportbot config: unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  core::config c;
  if (!defaults) {
    auto loaded = load_config({ctx.config_path, process_environment()});
    if (!loaded.ok()) {
      print_errors(loaded.error().message());
      return 1;
    }
    c = std::move(loaded.value());
  }
  std::fputs(config_to_yaml(c).c_str(), stdout);
  return 0;
}

int cmd_serve(const command_context& ctx) {
  if (!ctx.args.empty()) {
    std::fprintf(stderr, "supportbot serve: unexpected argument '%s'\n", ctx.args[0].c_str());
    return 2;
  }
  auto loaded = load_config({ctx.config_path, process_environment()});
  if (!loaded.ok()) {
    print_errors(loaded.error().message());
    return 1;
  }
  const core::config cfg = std::move(loaded.value());
  log::set_level(log::parse_level(cfg.log.level).value_or(log::level::info));

  // SIGINT/SIGTERM are taken by one waiting thread (sigwait), so they must be
  // blocked before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) {
    log::error("data_dir_unusable", {{"path", cfg.data_dir}, {"error", ec.message()}});
    return 1;
  }
  const std::string db_path = (std::filesystem::path(cfg.data_dir) / "supportbot.db").string();
  auto opened = store::open_sqlite_store(db_path, cfg.store, core::system_clock::instance());
  if (!opened.ok()) {
    log::error("store_open_failed", {{"path", db_path}, {"error", opened.error().message()}});
    return 1;
  }
  std::unique_ptr<store::store> db = std::move(opened.value());

  // The rules must load at start: a deploy with a broken edit fails loudly
  // (every error logged) instead of serving a bot that knows nothing.
  dialog::snapshot_holder rules;
  reloader watcher({cfg.intents_dir, cfg.kb_dir}, [&cfg] { return load_snapshot(cfg); }, rules);
  if (!watcher.reload_now().ok()) {
    db->close();
    return 1;
  }
  if (auto s = watcher.start(); !s.ok()) {
    log::warn("rules_watch_unavailable", {{"error", s.message()}, {"hint", "edits need a restart"}});
  }

  net::server_options options = net::server_options::from_config(cfg);
  store::store* db_ptr = db.get();
  options.readiness.push_back({"store", [db_ptr] { return db_ptr->healthy(); }});
  options.readiness.push_back({"rules", [&rules] { return rules.get() != nullptr; }});
  options.metrics = [db_ptr, &rules] { return render_metrics(*db_ptr, rules); };
  options.store = db_ptr;
  options.rules = &rules;
  raise_open_files_limit(cfg, options.threads);

  net::server srv(options);
  if (auto s = srv.start(); !s.ok()) {
    log::error("server_start_failed", {{"error", s.message()}});
    db->close();
    return 1;
  }

  std::atomic<bool> signalled{false};
  std::thread signal_waiter([&srv, &signalled, signals] {
    core::set_thread_name("sb-signals");
    int sig = 0;
    sigwait(&signals, &sig);
    signalled = true;
    log::info("signal", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    srv.stop();
  });
  srv.run();
  // run() also returns when the server stopped by itself; wake the waiter.
  if (!signalled.load()) pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  watcher.stop();
  db->close();
  log::info("stopped", {{"store_flushed", true}});
  return 0;
}

}  // namespace bot::app
