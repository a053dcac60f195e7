// A chat server for tests: a real Beast server on 127.0.0.1 port 0 with its
// own SQLite store (WAL, temp file) and the sample rules and knowledge base.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "bot/app/rules.hpp"
#include "bot/core/clock.hpp"
#include "bot/core/config.hpp"
#include "bot/net/server.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"
#include "tests/temp_dir.hpp"
#include "ws_client.hpp"

namespace bot::test {

// The sample rules and KB, loaded once for every test.
inline std::shared_ptr<const dialog::snapshot> sample_rules() {
  static const std::shared_ptr<const dialog::snapshot> snap = [] {
    core::config c;
    c.intents_dir = std::string(SUPPORTBOT_SOURCE_DIR) + "/intents";
    c.kb_dir = std::string(SUPPORTBOT_SOURCE_DIR) + "/knowledge_base";
    auto r = app::load_snapshot(c);
    if (!r.ok()) throw std::runtime_error("sample rules: " + r.error().message());
    return std::make_shared<const dialog::snapshot>(std::move(r.value()));
  }();
  return snap;
}

// A chat server with its own database; `cfg` carries the limits under test.
struct chat_server {
  explicit chat_server(core::config c = {}) : cfg(std::move(c)) {
    rules.set(sample_rules());
    open();
  }
  ~chat_server() { stop(); }

  void open() {
    auto s =
        store::open_sqlite_store(dir.file("chat.db"), cfg.store, core::system_clock::instance());
    REQUIRE(s.ok());
    db = std::move(s.value());
    net::server_options o = net::server_options::from_config(cfg);
    o.listen = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.web_dir.clear();
    o.shutdown_grace_s = 5;
    o.store = db.get();
    o.rules = &rules;
    srv = std::make_unique<net::server>(std::move(o));
    REQUIRE(srv->start().ok());
    port = srv->port();
    thread = std::thread([this] { srv->run(); });
  }

  // Stops the server (graceful) and closes the store; returns how long the
  // server took to stop.
  std::chrono::milliseconds stop() {
    if (!srv) return {};
    const auto t0 = std::chrono::steady_clock::now();
    srv->stop();
    if (thread.joinable()) thread.join();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    // The store's last completions post to the server's io_context: close
    // it while the server (stopped) still exists, as serve does.
    db->close();
    srv.reset();
    db.reset();
    return took;
  }

  std::unique_ptr<ws_client> connect(const ws_connect_options& o = {}) {
    auto c = ws_client::connect(port, o);
    REQUIRE(c);
    return c;
  }

  std::vector<store::message_row> messages(const std::string& conversation_id,
                                           std::int64_t after = 0) {
    auto r = store::wait_for<std::vector<store::message_row>>(
        [&](auto done) { db->messages_after(conversation_id, after, 1000, std::move(done)); });
    REQUIRE(r.ok());
    return r.value();
  }

  // A number from the database file, read with a connection of our own.
  std::int64_t query_int(const std::string& sql) {
    auto d = store::sqlite::db::open(dir.file("chat.db"), store::sqlite::open_mode::read_only);
    REQUIRE(d.ok());
    auto v = d.value().query_int(sql);
    REQUIRE(v.ok());
    return v.value();
  }

  bot::testing::temp_dir dir{"sb-chat"};
  core::config cfg;
  dialog::snapshot_holder rules;
  std::unique_ptr<store::store> db;
  std::unique_ptr<net::server> srv;
  std::thread thread;
  std::uint16_t port = 0;
};

}  // namespace bot::test
