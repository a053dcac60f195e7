// server: the HTTP (and, later, WebSocket) front door of supportbot.
//
// Owns one io_context run by `threads` workers; every connection runs on its
// own strand. Static files are read into memory by start() (never on an I/O
// thread). This header keeps Asio/Beast out of its includers (pimpl).
//
// Thread-safety: start(), run() and wait() are called by one owner thread;
// stop() and port() may be called from any thread, any number of times.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bot/core/config.hpp"
#include "bot/core/status.hpp"
#include "bot/dialog/snapshot_holder.hpp"
#include "bot/store/store.hpp"

namespace bot::net {

// One readiness condition for /readyz, e.g. {"store", [&]{ return store->healthy(); }}.
struct readiness_check {
  std::string name;
  std::function<bool()> ready;
};

struct server_options {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = any free port
  int threads = 1;
  std::string web_dir;  // static files; "" = none
  std::size_t static_max_bytes = 32u << 20;  // total size of files served from memory
  int request_timeout_s = 10;  // to receive one request's header and body
  int idle_timeout_s = 60;     // a keep-alive connection with no request
  std::size_t max_body_bytes = 64 * 1024;
  int shutdown_grace_s = 5;  // stop(): in-flight work gets this long
  std::vector<readiness_check> readiness;
  // Prometheus text for /metrics from the parts the server does not own
  // (store, rules); the server appends its own. Null = only the server's.
  std::function<std::string()> metrics;
  // The visitor chat on /ws: needs both (else /ws answers 404). They must
  // outlive the server.
  store::store* store = nullptr;
  const dialog::snapshot_holder* rules = nullptr;
  // Limits (§8), routing and allowed_origins for the chat.
  core::config chat;

  static server_options from_config(const core::config& c);
};

class server {
 public:
  explicit server(server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Loads static files, binds and listens. The port is known afterwards.
  core::status start();
  // The bound port (after start()).
  std::uint16_t port() const;
  // Runs the workers; returns after stop() once connections have drained (or
  // the grace period ended).
  void run();
  // Stops accepting, lets in-flight requests finish, closes idle connections.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Whether a browser page from `origin` may open a WebSocket. `allowed` holds
// exact origins or "scheme://host:*" (any port). A request without an Origin
// header (not a browser) is allowed: the header only guards browsers.
bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed);

// Content type for a file name by its extension ("application/octet-stream"
// when unknown).
std::string_view content_type_for(std::string_view path) noexcept;

// The file a URL path names below the web root, or "" when the path is not
// allowed (traversal, NUL, backslash, hidden files, not absolute). "/" and
// folder paths map to index.html.
std::string static_file_for(std::string_view target);

}  // namespace bot::net
