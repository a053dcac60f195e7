// The listener and HTTP sessions (Beast, C++20 coroutines). One coroutine per
// connection on its own strand; the acceptor runs on its own strand too.
#include "bot/net/server.hpp"

#include <atomic>
#include <cmath>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "bot/core/log.hpp"
#include "bot/core/text.hpp"
#include "bot/core/thread.hpp"
#include "bot/net/agent_auth.hpp"
#include "bot/net/agent_session.hpp"
#include "bot/net/conversation.hpp"
#include "bot/net/desk.hpp"
#include "bot/net/metrics.hpp"
#include "bot/net/webhooks.hpp"
#include "bot/net/ws_session.hpp"

namespace bot::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace bot::core;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct static_file {
  std::string body;
  std::string content_type;
  std::string etag;
};

using static_map = std::unordered_map<std::string, static_file>;

// Headers every response carries. The CSP allows only our own origin; the
// widget script is served to other sites but its pages never are.
template <typename Response>
void add_security_headers(Response& res) {
  res.set(http::field::server, "supportbot");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'");
  res.set("X-Frame-Options", "SAMEORIGIN");
}

}  // namespace

std::string_view content_type_for(std::string_view path) noexcept {
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const std::string_view ext = path.substr(dot + 1);
  static constexpr std::pair<std::string_view, std::string_view> types[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"txt", "text/plain; charset=utf-8"},
      {"woff2", "font/woff2"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"ogg", "audio/ogg"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
  };
  for (const auto& [e, t] : types) {
    if (e == ext) return t;
  }
  return "application/octet-stream";
}

std::string static_file_for(std::string_view target) {
  const auto q = target.find_first_of("?#");
  std::string_view path = target.substr(0, q);
  if (path.empty() || path.front() != '/') return {};
  // Percent-decoding is refused rather than done: our file names never need it,
  // and refusing closes encoded traversal ("%2e%2e") for good.
  if (path.find_first_of("%\\") != std::string_view::npos) return {};
  std::string out;
  std::size_t i = 1;
  while (i <= path.size()) {
    const auto slash = path.find('/', i);
    const std::string_view seg =
        path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (seg == ".." || (!seg.empty() && seg.front() == '.') ||
        seg.find('\0') != std::string_view::npos) {
      return {};
    }
    if (!seg.empty()) {
      if (!out.empty()) out += '/';
      out.append(seg);
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  if (out.empty() || path.back() == '/') {
    if (!out.empty()) out += '/';
    out += "index.html";
  }
  return out;
}

bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) {
  if (origin.empty()) return true;
  for (const auto& a : allowed) {
    const std::string_view pattern(a);
    if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ":*") {
      // "http://localhost:*": that scheme and host, with or without a port.
      const std::string_view base = pattern.substr(0, pattern.size() - 2);
      if (origin == base) return true;
      if (origin.size() > base.size() + 1 && origin.substr(0, base.size()) == base &&
          origin[base.size()] == ':') {
        const std::string_view port = origin.substr(base.size() + 1);
        if (port.size() <= 5 &&
            std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return true;
      }
    } else if (origin == pattern) {
      return true;
    }
  }
  return false;
}

server_options server_options::from_config(const core::config& c) {
  server_options o;
  o.listen = c.listen;
  o.port = static_cast<std::uint16_t>(c.port);
  o.threads = c.threads > 0 ? c.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.web_dir = c.web_dir;
  o.request_timeout_s = c.limits.handshake_timeout_s;
  o.idle_timeout_s = c.limits.idle_timeout_s;
  o.chat = c;
  return o;
}

struct server::impl {
  explicit impl(server_options o) : options(std::move(o)), ioc(options.threads) {
    if (options.store != nullptr && options.rules != nullptr) {
      hub = std::make_unique<conversation_hub>(ioc, *options.store, *options.rules, options.chat,
                                               metrics, core::system_clock::instance());
      protocol::decode_limits decode;
      decode.max_text_chars =
          static_cast<std::size_t>(std::max(1, options.chat.limits.max_text_chars));
      env = std::make_unique<ws_env>(ws_env{*hub, metrics, options.chat.limits, decode});
      agents = std::make_unique<agent_auth>(*options.store, options.chat,
                                            core::system_clock::instance());
      desk::options desk_options;
      desk_options.heartbeat_timeout_ms =
          static_cast<std::int64_t>(options.chat.agents.heartbeat_timeout_s) * 1000;
      if (auto hours = handoff::business_hours::make(options.chat.hours); hours.ok()) {
        desk_options.hours = std::move(hours.value());
      } else {
        setup_error = hours.error();  // start() refuses to serve
      }
      agents_desk =
          std::make_unique<desk>(core::system_clock::instance(), std::move(desk_options));
      hub->set_desk(agents_desk.get());
      if (!options.chat.webhooks.urls.empty()) {
        hooks = std::make_unique<webhooks>(ioc, options.chat.webhooks);
        hub->set_webhooks([h = hooks.get()](std::string_view type, const std::string& id,
                                            const std::string& data, std::int64_t ts_ms) {
          h->publish(type, id, data, ts_ms);
        });
      }
      agent_environment = std::make_unique<agent_env>(
          agent_env{*hub, *options.store, *agents_desk, *agents, options.chat.limits, decode});
    }
  }

  // A live connection, registered so that stop() can close the idle ones.
  struct connection {
    explicit connection(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    bool idle = false;                        // waiting for a request; only touched on the strand
    std::shared_ptr<visitor_session> ws;      // after an upgrade to /ws
    std::shared_ptr<agent_session> agent_ws;  // after an upgrade to /agent/ws
  };

  server_options options;
  asio::io_context ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> grace_timer;
  std::uint16_t bound_port = 0;
  static_map files;

  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards connections and next_id
  std::map<std::uint64_t, std::weak_ptr<connection>> connections;
  std::uint64_t next_id = 0;
  std::unordered_map<std::string, int> ws_per_ip;  // open /ws connections by client address
  int ws_total = 0;                                // and in all

  net_metrics metrics;
  std::unique_ptr<conversation_hub> hub;
  std::unique_ptr<ws_env> env;
  std::unique_ptr<agent_auth> agents;  // with the chat: agent login and sessions
  std::unique_ptr<desk> agents_desk;   // the agents' queue and connections
  std::unique_ptr<agent_env> agent_environment;
  std::unique_ptr<webhooks> hooks;  // when webhooks.urls is set
  std::unique_ptr<asio::steady_timer> desk_timer;
  core::status setup_error;

  // Every 5 s: presence timeouts, business hours opening and closing.
  void tick_desk();
  // GET /agent/api/kb?q=: the knowledge-base articles nearest to `q`, for
  // the console's canned answers.
  std::string canned_answers(std::string_view q) const;

  // Refuses an upgrade to /ws with an HTTP answer (and why), or counts the
  // connection against its address and returns null.
  std::optional<http::response<http::string_body>> check_upgrade(
      const http::request<http::string_body>& req, const std::string& ip);
  void release_ip(const std::string& ip);

  core::status load_static_files();
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_connection(std::shared_ptr<connection> conn, std::uint64_t id);
  // A WebSocket (/ws or /agent/ws) after the upgrade, in a coroutine of its own: the HTTP
  // coroutine's frame (parser, buffer) is freed while the socket stays open.
  // `slot` is the member of `connection` that holds the session.
  template <typename Session>
  asio::awaitable<void> serve_websocket(std::shared_ptr<connection> conn, std::uint64_t id,
                                        std::shared_ptr<Session> session,
                                        std::shared_ptr<Session> connection::*slot,
                                        std::unique_ptr<http::request<http::string_body>> req,
                                        std::string ip);
  http::message_generator handle(const http::request<http::string_body>& req);
  void unregister(std::uint64_t id);
  std::size_t open_connections() {
    std::lock_guard lock(mu);
    return connections.size();
  }
  void begin_stop();
};

core::status server::impl::load_static_files() {
  namespace fs = std::filesystem;
  if (options.web_dir.empty()) return {};
  std::error_code ec;
  if (!fs::is_directory(options.web_dir, ec)) {
    return invalid_argument("web_dir '" + options.web_dir + "' is not a folder");
  }
  std::size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(options.web_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path rel = fs::relative(it->path(), options.web_dir, ec);
    const std::string name = rel.generic_string();
    if (name.empty() || name.front() == '.' || name.find("/.") != std::string::npos) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in) return io_error("cannot read " + it->path().string());
    static_file f;
    f.body = std::move(buf).str();
    total += f.body.size();
    if (total > options.static_max_bytes) {
      return invalid_argument("web_dir '" + options.web_dir + "' holds more than " +
                              std::to_string(options.static_max_bytes) + " bytes");
    }
    f.content_type = std::string(content_type_for(name));
    f.etag = "\"" + std::to_string(std::hash<std::string>{}(f.body)) + "\"";
    files.emplace(name, std::move(f));
  }
  if (ec) return io_error("cannot list web_dir '" + options.web_dir + "': " + ec.message());
  log::info("static_files_loaded", {{"count", files.size()}, {"bytes", total}});
  return {};
}

http::message_generator server::impl::handle(const http::request<http::string_body>& req) {
  const auto text = [&](http::status code, std::string body, std::string_view type) {
    http::response<http::string_body> res{code, req.version()};
    add_security_headers(res);
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive() && !stopping.load());
    res.body() = req.method() == http::verb::head ? std::string() : std::move(body);
    res.prepare_payload();
    return http::message_generator(std::move(res));
  };
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get_or_head = req.method() == http::verb::get || req.method() == http::verb::head;

  if (path == "/healthz") {
    if (!get_or_head)
      return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
    return text(http::status::ok, "ok\n", "text/plain; charset=utf-8");
  }
  if (path == "/readyz") {
    if (!get_or_head)
      return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
    bool all = !stopping.load();
    std::string body = "{";
    for (const auto& check : options.readiness) {
      const bool ok = check.ready();
      all = all && ok;
      if (body.size() > 1) body += ',';
      body += "\"" + check.name + "\":" + (ok ? "true" : "false");
    }
    body += std::string(body.size() > 1 ? "," : "") + "\"ready\":" + (all ? "true" : "false") + "}";
    return text(all ? http::status::ok : http::status::service_unavailable, body + "\n",
                "application/json");
  }
  if (path == "/metrics") {
    if (!get_or_head)
      return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
    std::string body = options.metrics ? options.metrics() : std::string();
    metrics.render(body, hub ? hub->live() : 0);
    if (hooks) body += hooks->render_metrics();
    body +=
        "# HELP supportbot_http_connections_open Open HTTP connections.\n"
        "# TYPE supportbot_http_connections_open gauge\n"
        "supportbot_http_connections_open " +
        std::to_string(open_connections()) + "\n";
    return text(http::status::ok, std::move(body), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/agent" && get_or_head) {
    http::response<http::string_body> res{http::status::moved_permanently, req.version()};
    add_security_headers(res);
    res.set(http::field::location, "/agent/");
    res.keep_alive(req.keep_alive() && !stopping.load());
    res.prepare_payload();
    return http::message_generator(std::move(res));
  }
  if (path == "/agent/api/kb") {
    if (!get_or_head)
      return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
    if (!agents || !agents->session_of(req))
      return text(http::status::unauthorized, "{\"error\":\"log in first\"}\n", "application/json");
    const auto q = target.find('?');
    const auto query =
        form_value(q == std::string_view::npos ? std::string_view() : target.substr(q + 1), "q");
    return text(http::status::ok, canned_answers(query.value_or("")), "application/json");
  }
  if (path == "/ws") {
    return text(hub ? http::status::upgrade_required : http::status::not_found,
                hub ? "this is a WebSocket endpoint\n" : "not found\n",
                "text/plain; charset=utf-8");
  }
  if (!get_or_head)
    return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");

  const std::string name = static_file_for(target);
  const auto it = name.empty() ? files.end() : files.find(name);
  if (it == files.end())
    return text(http::status::not_found, "not found\n", "text/plain; charset=utf-8");
  const static_file& f = it->second;
  const auto inm = req[http::field::if_none_match];
  if (!inm.empty() && std::string_view(inm.data(), inm.size()) == f.etag) {
    http::response<http::empty_body> res{http::status::not_modified, req.version()};
    add_security_headers(res);
    res.set(http::field::etag, f.etag);
    res.keep_alive(req.keep_alive() && !stopping.load());
    return http::message_generator(std::move(res));
  }
  if (req.method() == http::verb::head) {
    http::response<http::empty_body> res{http::status::ok, req.version()};
    add_security_headers(res);
    res.set(http::field::content_type, f.content_type);
    res.set(http::field::etag, f.etag);
    res.content_length(f.body.size());
    res.keep_alive(req.keep_alive() && !stopping.load());
    return http::message_generator(std::move(res));
  }
  http::response<http::string_body> res{http::status::ok, req.version()};
  add_security_headers(res);
  res.set(http::field::content_type, f.content_type);
  res.set(http::field::etag, f.etag);
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(req.keep_alive() && !stopping.load());
  res.body() = f.body;
  res.prepare_payload();
  return http::message_generator(std::move(res));
}

asio::awaitable<void> server::impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(ioc), use_tuple);
    if (ec) {
      if (stopping.load() || ec == asio::error::operation_aborted) co_return;
      log::warn("accept_failed", {{"error", ec.message()}});
      // Out of file descriptors and the like: back off instead of spinning.
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    // Replies are small and come in pairs (ack, then the answer): without
    // TCP_NODELAY the second waits for the client's delayed ACK (~40 ms).
    beast::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    auto conn = std::make_shared<connection>(std::move(socket));
    std::uint64_t id;
    {
      std::lock_guard lock(mu);
      id = ++next_id;
      connections.emplace(id, conn);
    }
    auto ex = conn->stream.get_executor();
    asio::co_spawn(ex, serve_connection(std::move(conn), id), asio::detached);
  }
}

asio::awaitable<void> server::impl::serve_connection(std::shared_ptr<connection> conn,
                                                     std::uint64_t id) {
  beast::flat_buffer buffer;
  bool first = true;
  std::unique_ptr<http::request<http::string_body>> upgrade;
  std::string upgrade_ip;
  std::optional<handoff::agent_session> agent_who;  // an upgrade to /agent/ws
  std::string agent_token;
  for (;;) {
    conn->idle = true;
    if (stopping.load()) break;
    // A fresh connection must send its request promptly; a kept-alive one may
    // wait for the idle timeout.
    conn->stream.expires_after(
        std::chrono::seconds(first ? options.request_timeout_s : options.idle_timeout_s));
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(options.max_body_bytes);
    auto [ec, n] = co_await http::async_read(conn->stream, buffer, parser, use_tuple);
    conn->idle = false;
    first = false;
    if (ec) {
      // A malformed or oversized request gets an answer before the close; a
      // timeout, a reset or a clean end of stream does not.
      const bool too_large = ec == http::error::body_limit || ec == http::error::header_limit ||
                             ec == http::error::buffer_overflow;
      const bool malformed =
          &ec.category() == &http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (too_large || malformed) {
        http::response<http::string_body> res{
            too_large ? http::status::payload_too_large : http::status::bad_request, 11};
        add_security_headers(res);
        res.set(http::field::content_type, "text/plain");
        res.body() = too_large ? "request too large\n" : "bad request\n";
        res.keep_alive(false);
        res.prepare_payload();
        conn->stream.expires_after(std::chrono::seconds(options.request_timeout_s));
        co_await http::async_write(conn->stream, res, use_tuple);
      }
      break;
    }
    if (hub && websocket::is_upgrade(parser.get()) &&
        std::string_view(parser.get().target())
                .substr(0, std::string_view(parser.get().target()).find('?')) == "/ws") {
      beast::error_code ignored;
      const auto remote = conn->stream.socket().remote_endpoint(ignored);
      std::string ip = ignored ? std::string() : remote.address().to_string();
      if (auto refused = check_upgrade(parser.get(), ip)) {
        refused->keep_alive(false);
        refused->prepare_payload();
        conn->stream.expires_after(std::chrono::seconds(options.request_timeout_s));
        co_await http::async_write(conn->stream, *refused, use_tuple);
        break;
      }
      upgrade = std::make_unique<http::request<http::string_body>>(parser.release());
      upgrade_ip = std::move(ip);
      break;
    }
    if (agents && websocket::is_upgrade(parser.get()) &&
        std::string_view(parser.get().target())
                .substr(0, std::string_view(parser.get().target()).find('?')) == "/agent/ws") {
      beast::error_code ignored;
      const auto remote = conn->stream.socket().remote_endpoint(ignored);
      std::string ip = ignored ? std::string() : remote.address().to_string();
      auto who = agents->session_of(parser.get());
      std::optional<http::response<http::string_body>> refused;
      if (!who) {
        refused.emplace(http::status::unauthorized, parser.get().version());
        add_security_headers(*refused);
        refused->set(http::field::content_type, "text/plain; charset=utf-8");
        refused->body() = "log in first (POST /agent/login)\n";
      } else {
        refused = check_upgrade(parser.get(), ip);
      }
      if (refused) {
        refused->keep_alive(false);
        refused->prepare_payload();
        conn->stream.expires_after(std::chrono::seconds(options.request_timeout_s));
        co_await http::async_write(conn->stream, *refused, use_tuple);
        break;
      }
      const auto header = parser.get()[http::field::cookie];
      agent_token =
          std::string(cookie_value(std::string_view(header.data(), header.size()), k_agent_cookie));
      agent_who = std::move(who);
      upgrade = std::make_unique<http::request<http::string_body>>(parser.release());
      upgrade_ip = std::move(ip);
      break;
    }
    if (agents) {
      const std::string_view t(parser.get().target().data(), parser.get().target().size());
      if (agent_auth::owns(t.substr(0, t.find('?')))) {
        beast::error_code ignored;
        const auto remote = conn->stream.socket().remote_endpoint(ignored);
        const std::string ip = ignored ? std::string() : remote.address().to_string();
        http::response<http::string_body> res;
        co_await agents->handle(parser.get(), ip, res);
        add_security_headers(res);
        res.keep_alive(parser.get().keep_alive() && !stopping.load());
        res.prepare_payload();
        const bool keep = res.keep_alive();
        conn->stream.expires_after(std::chrono::seconds(options.request_timeout_s));
        auto [wec, wn] = co_await http::async_write(conn->stream, res, use_tuple);
        if (wec || !keep) break;
        continue;
      }
    }
    http::message_generator msg = handle(parser.get());
    const bool keep_alive = msg.keep_alive();
    conn->stream.expires_after(std::chrono::seconds(options.request_timeout_s));
    auto [wec, wn] = co_await beast::async_write(conn->stream, std::move(msg), use_tuple);
    if (wec || !keep_alive) break;
  }
  if (upgrade && agent_who) {
    auto session = std::make_shared<agent_session>(std::move(conn->stream), *agent_environment,
                                                   std::move(*agent_who), std::move(agent_token));
    {
      std::lock_guard lock(mu);
      conn->agent_ws = session;
    }
    if (stopping.load()) session->shutdown();
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex,
                   serve_websocket(std::move(conn), id, std::move(session), &connection::agent_ws,
                                   std::move(upgrade), std::move(upgrade_ip)),
                   asio::detached);
    co_return;
  }
  if (upgrade) {
    auto session = std::make_shared<visitor_session>(std::move(conn->stream), *env, id);
    {
      std::lock_guard lock(mu);
      conn->ws = session;
    }
    if (stopping.load()) session->shutdown();
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex,
                   serve_websocket(std::move(conn), id, std::move(session), &connection::ws,
                                   std::move(upgrade), std::move(upgrade_ip)),
                   asio::detached);
    co_return;
  }
  beast::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.socket().close(ignored);
  unregister(id);
}

template <typename Session>
asio::awaitable<void> server::impl::serve_websocket(
    std::shared_ptr<connection> conn, std::uint64_t id, std::shared_ptr<Session> session,
    std::shared_ptr<Session> connection::*slot,
    std::unique_ptr<http::request<http::string_body>> req, std::string ip) {
  co_await session->run(std::move(req));
  {
    std::lock_guard lock(mu);
    ((*conn).*slot).reset();
  }
  release_ip(ip);
  unregister(id);
}

std::optional<http::response<http::string_body>> server::impl::check_upgrade(
    const http::request<http::string_body>& req, const std::string& ip) {
  const auto refuse = [&](http::status code, std::string body) {
    http::response<http::string_body> res{code, req.version()};
    add_security_headers(res);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    return res;
  };
  if (stopping.load()) return refuse(http::status::service_unavailable, "shutting down\n");
  const auto origin = req[http::field::origin];
  if (!origin_allowed(std::string_view(origin.data(), origin.size()),
                      options.chat.allowed_origins)) {
    metrics.origin_refused.fetch_add(1, std::memory_order_relaxed);
    log::warn("ws_origin_refused", {{"origin_length", origin.size()}});
    return refuse(http::status::forbidden, "origin not allowed\n");
  }
  std::lock_guard lock(mu);
  if (ws_total >= options.chat.limits.max_connections) {
    metrics.server_full.fetch_add(1, std::memory_order_relaxed);
    log::warn("ws_max_connections", {{"limit", options.chat.limits.max_connections}});
    return refuse(http::status::service_unavailable, "server full; try again later\n");
  }
  int& count = ws_per_ip[ip];
  if (count >= options.chat.limits.connections_per_ip) {
    if (count == 0) ws_per_ip.erase(ip);
    metrics.ip_limited.fetch_add(1, std::memory_order_relaxed);
    log::warn("ws_connections_per_ip", {{"limit", options.chat.limits.connections_per_ip}});
    return refuse(http::status::service_unavailable, "too many connections from this address\n");
  }
  ++count;
  ++ws_total;
  return std::nullopt;
}

void server::impl::release_ip(const std::string& ip) {
  std::lock_guard lock(mu);
  --ws_total;
  auto it = ws_per_ip.find(ip);
  if (it != ws_per_ip.end() && --it->second <= 0) ws_per_ip.erase(it);
}

void server::impl::unregister(std::uint64_t id) {
  std::lock_guard lock(mu);
  connections.erase(id);
  // A webhook attempt in flight keeps the grace period running: it ends the
  // workers (ioc.stop) rather than waiting out the attempt's timeouts.
  if (stopping.load() && connections.empty() && grace_timer && (!hooks || hooks->idle())) {
    asio::post(ioc, [this] {
      if (grace_timer) grace_timer->cancel();
    });
  }
}

void server::impl::begin_stop() {
  // Runs on the io_context (posted by stop()).
  if (acceptor) {
    beast::error_code ignored;
    acceptor->close(ignored);
  }
  if (desk_timer) asio::post(desk_timer->get_executor(), [this] { desk_timer->cancel(); });
  if (hooks) hooks->stop();
  std::vector<std::shared_ptr<connection>> live;
  {
    std::lock_guard lock(mu);
    for (auto& [id, weak] : connections) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) {
    std::shared_ptr<visitor_session> ws;
    std::shared_ptr<agent_session> agent_ws;
    {
      std::lock_guard lock(mu);
      ws = c->ws;
      agent_ws = c->agent_ws;
    }
    if (ws) {
      ws->shutdown();  // after its conversation's turns in flight: close 1001
      continue;
    }
    if (agent_ws) {
      agent_ws->shutdown();
      continue;
    }
    asio::post(c->stream.get_executor(), [c] {
      beast::error_code ignored;
      if (c->idle) c->stream.socket().close(ignored);
    });
  }
  grace_timer =
      std::make_unique<asio::steady_timer>(ioc, std::chrono::seconds(options.shutdown_grace_s));
  grace_timer->async_wait([this](beast::error_code ec) {
    if (!ec) {
      log::warn("shutdown_grace_expired", {{"open_connections", connections.size()}});
      ioc.stop();
    }
  });
  std::lock_guard lock(mu);
  if (connections.empty() && (!hooks || hooks->idle())) grace_timer->cancel();
}

void server::impl::tick_desk() {
  desk_timer->expires_after(std::chrono::seconds(5));
  desk_timer->async_wait([this](beast::error_code ec) {
    if (ec || stopping.load()) return;
    agents_desk->tick();
    tick_desk();
  });
}

std::string server::impl::canned_answers(std::string_view q) const {
  std::string out = "{\"results\":[";
  const auto snap = options.rules ? options.rules->get() : nullptr;
  if (snap && snap->kb && !core::is_blank(q) && q.size() <= 1000) {
    bool first = true;
    for (const auto& m : snap->kb->search(q, 8)) {
      if (!m.art) continue;
      if (!first) out += ',';
      first = false;
      out += "{\"id\":";
      log::append_json_string(out, m.art->id);
      out += ",\"title\":";
      log::append_json_string(out, m.art->title);
      out += ",\"answer\":";
      log::append_json_string(out, m.art->body);
      out += ",\"score\":";
      out += std::to_string(std::round(m.confidence * 1000) / 1000);
      out += '}';
    }
  }
  out += "]}\n";
  return out;
}

server::server(server_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

server::~server() {
  stop();
  impl_->ioc.stop();
}

core::status server::start() {
  auto& s = *impl_;
  if (!s.setup_error.ok()) return s.setup_error;
  if (auto st = s.load_static_files(); !st.ok()) return st;
  beast::error_code ec;
  const auto address = asio::ip::make_address(s.options.listen, ec);
  if (ec) return invalid_argument("listen: '" + s.options.listen + "' is not an IP address");
  const tcp::endpoint endpoint(address, s.options.port);
  s.acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(s.ioc));
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return io_error("cannot listen on " + s.options.listen + ":" + std::to_string(s.options.port) +
                    ": " + ec.message());
  }
  s.bound_port = s.acceptor->local_endpoint().port();
  if (s.hub) s.hub->load_queue();
  if (s.agents_desk) {
    s.desk_timer = std::make_unique<asio::steady_timer>(asio::make_strand(s.ioc));
    s.tick_desk();
  }
  asio::co_spawn(s.acceptor->get_executor(), s.accept_loop(), asio::detached);
  log::info(
      "listening",
      {{"address", s.options.listen}, {"port", s.bound_port}, {"threads", s.options.threads}});
  return {};
}

std::uint16_t server::port() const {
  return impl_->bound_port;
}

void server::run() {
  auto& s = *impl_;
  std::vector<std::thread> workers;
  for (int i = 1; i < s.options.threads; ++i) {
    workers.emplace_back([&s] {
      core::set_thread_name("sb-io");
      s.ioc.run();
    });
  }
  // The calling thread is an I/O thread too; it keeps its name (the
  // process's, which ps and pgrep show).
  s.ioc.run();
  for (auto& t : workers) t.join();
}

void server::stop() {
  auto& s = *impl_;
  if (s.stopping.exchange(true)) return;
  log::info("stopping", {});
  asio::post(s.ioc, [&s] { s.begin_stop(); });
}

}  // namespace bot::net
