#include "bot/net/webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <mutex>
#include <random>
#include <set>

#include "bot/core/ids.hpp"
#include "bot/core/log.hpp"

namespace bot::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto k_max_backoff = std::chrono::minutes(5);
}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append(1, '.').append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "v1=";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::optional<webhook_url> parse_webhook_url(std::string_view url) {
  webhook_url u;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    url.remove_prefix(8);
  } else if (url.rfind("http://", 0) == 0) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const auto slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  if (port.empty()) {
    u.port = u.tls ? "443" : "80";
  } else {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return c >= '0' && c <= '9';
        }) || std::stoi(std::string(port)) > 65535)
      return std::nullopt;
    u.port = std::string(port);
  }
  return u;
}

struct webhooks::impl : std::enable_shared_from_this<webhooks::impl> {
  impl(asio::io_context& i, core::webhooks_config c) : ioc(i), cfg(std::move(c)) {
    tls.set_default_verify_paths();
    tls.set_verify_mode(ssl::verify_peer);
    for (const auto& u : cfg.urls) {
      if (auto p = parse_webhook_url(u)) {
        urls.push_back(std::move(*p));
        names.push_back(u);
      } else {
        core::log::error("webhook_bad_url", {{"url", u}});
      }
    }
  }

  asio::io_context& ioc;
  const core::webhooks_config cfg;
  ssl::context tls{ssl::context::tls_client};
  std::vector<webhook_url> urls;
  std::vector<std::string> names;  // as configured, for the logs
  counters stats;
  std::atomic<int> pending{0};
  std::mutex mu;  // guards timers and stopped
  std::set<std::shared_ptr<asio::steady_timer>> timers;  // retries waiting
  bool stopped = false;

  struct delivery {
    std::size_t url = 0;
    std::string id;
    std::string type;
    std::string body;
  };

  asio::awaitable<void> deliver(delivery d);
  // One POST; the HTTP status, or 0 when no answer came.
  asio::awaitable<unsigned> attempt(const delivery& d);
  template <typename Stream>
  asio::awaitable<unsigned> exchange(Stream& stream, const delivery& d);
};

webhooks::webhooks(asio::io_context& ioc, core::webhooks_config cfg)
    : impl_(std::make_shared<impl>(ioc, std::move(cfg))) {}

webhooks::~webhooks() { stop(); }

const webhooks::counters& webhooks::stats() const { return impl_->stats; }

bool webhooks::idle() const { return impl_->pending.load() == 0; }

void webhooks::publish(std::string_view type, const std::string& conversation_id,
                       const std::string& data_json, std::int64_t ts_ms) {
  auto& s = *impl_;
  if (s.urls.empty()) return;
  {
    std::lock_guard lock(s.mu);
    if (s.stopped) return;
  }
  const std::string id = "d_" + core::random_hex(16);
  std::string body = "{\"id\":";
  core::log::append_json_string(body, id);
  body += ",\"type\":";
  core::log::append_json_string(body, type);
  body += ",\"ts_ms\":" + std::to_string(ts_ms) + ",\"conversation_id\":";
  core::log::append_json_string(body, conversation_id);
  body += ",\"data\":";
  body += data_json.empty() ? std::string("{}") : data_json;
  body += '}';
  for (std::size_t i = 0; i < s.urls.size(); ++i) {
    if (s.pending.fetch_add(1) >= k_max_pending) {
      s.pending.fetch_sub(1);
      s.stats.dropped.fetch_add(1);
      core::log::warn("webhook_dropped", {{"url", s.names[i]}, {"type", type}});
      continue;
    }
    // (A named value: GCC 12 frees a prvalue coroutine argument twice.)
    impl::delivery d{i, id, std::string(type), body};
    asio::co_spawn(asio::make_strand(s.ioc), impl_->deliver(std::move(d)), asio::detached);
  }
}

void webhooks::stop() {
  std::lock_guard lock(impl_->mu);
  impl_->stopped = true;
  // Each timer is cancelled on its own strand (timers are not thread-safe).
  for (const auto& t : impl_->timers) asio::post(t->get_executor(), [t] { t->cancel(); });
}

asio::awaitable<void> webhooks::impl::deliver(delivery d) {
  auto self = shared_from_this();
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  std::mt19937 rng(std::random_device{}());
  bool done = false;
  int attempts = 0;
  while (!done && attempts < cfg.max_attempts) {
    {
      std::lock_guard lock(mu);
      if (stopped) break;
    }
    ++attempts;
    const unsigned status = co_await attempt(d);
    if (status >= 200 && status < 300) {
      done = true;
      break;
    }
    core::log::info("webhook_attempt_failed", {{"url", names[d.url]},
                                               {"delivery", d.id},
                                               {"attempt", attempts},
                                               {"status", static_cast<int>(status)}});
    if (attempts >= cfg.max_attempts) break;
    stats.retried.fetch_add(1);
    auto wait = std::chrono::milliseconds(1000) * (1LL << std::min(attempts - 1, 20));
    wait = std::min<std::chrono::milliseconds>(wait, k_max_backoff);
    wait += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 250)(rng));
    timer->expires_after(wait);
    {
      std::lock_guard lock(mu);
      if (stopped) break;
      timers.insert(timer);
    }
    co_await timer->async_wait(use_tuple);
    std::lock_guard lock(mu);
    timers.erase(timer);
  }
  pending.fetch_sub(1);
  if (done) {
    stats.delivered.fetch_add(1);
    core::log::info("webhook_delivered",
                    {{"url", names[d.url]}, {"delivery", d.id}, {"type", d.type}});
  } else {
    stats.failed.fetch_add(1);
    core::log::error("webhook_failed", {{"url", names[d.url]},
                                        {"delivery", d.id},
                                        {"type", d.type},
                                        {"attempts", attempts}});
  }
}

asio::awaitable<unsigned> webhooks::impl::attempt(const delivery& d) {
  const webhook_url& u = urls[d.url];
  const auto ex = co_await asio::this_coro::executor;
  const auto timeout = std::chrono::seconds(cfg.timeout_s);
  // The guard's handler may run after this frame is gone: it holds the resolver.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer resolve_guard(ex);
  resolve_guard.expires_after(timeout);
  resolve_guard.async_wait([resolver](beast::error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto [rec, endpoints] = co_await resolver->async_resolve(u.host, u.port, use_tuple);
  resolve_guard.cancel();
  if (rec) co_return 0;
  beast::tcp_stream tcp_stream(ex);
  tcp_stream.expires_after(timeout);
  auto [cec, ep] = co_await tcp_stream.async_connect(endpoints, use_tuple);
  if (cec) co_return 0;
  if (!u.tls) {
    const unsigned status = co_await exchange(tcp_stream, d);
    beast::error_code ignored;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return status;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
  // SNI (SSL_set_tlsext_host_name, spelled out: the macro casts old-style).
  if (!SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                static_cast<void*>(const_cast<char*>(u.host.c_str()))))
    co_return 0;
  stream.set_verify_callback(ssl::host_name_verification(u.host));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) co_return 0;
  const unsigned status = co_await exchange(stream, d);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
  co_return status;
}

template <typename Stream>
asio::awaitable<unsigned> webhooks::impl::exchange(Stream& stream, const delivery& d) {
  const webhook_url& u = urls[d.url];
  const std::string ts = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  http::request<http::string_body> req{http::verb::post, u.target, 11};
  const bool default_port = u.port == (u.tls ? "443" : "80");
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  req.set(http::field::host, default_port ? host : host + ":" + u.port);
  req.set(http::field::user_agent, "supportbot-webhooks/1");
  req.set(http::field::content_type, "application/json");
  req.set("X-Supportbot-Event", d.type);
  req.set("X-Supportbot-Delivery", d.id);
  req.set("X-Supportbot-Timestamp", ts);
  req.set("X-Supportbot-Signature", webhook_signature(cfg.secret, ts, d.body));
  req.keep_alive(false);
  req.body() = d.body;
  req.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(cfg.timeout_s));
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) co_return 0;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // the answer is not read; a huge one is not waited for
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (rec && !parser.is_header_done()) co_return 0;
  co_return parser.get().result_int();
}

std::string webhooks::render_metrics() const {
  const auto& c = impl_->stats;
  std::string out =
      "# HELP supportbot_webhook_deliveries_total Webhook deliveries by outcome.\n"
      "# TYPE supportbot_webhook_deliveries_total counter\n";
  const std::pair<const char*, std::uint64_t> rows[] = {
      {"delivered", c.delivered.load()},
      {"retried", c.retried.load()},
      {"failed", c.failed.load()},
      {"dropped", c.dropped.load()},
  };
  for (const auto& [name, v] : rows)
    out += std::string("supportbot_webhook_deliveries_total{outcome=\"") + name + "\"} " +
           std::to_string(v) + "\n";
  out += "# HELP supportbot_webhook_pending Webhook deliveries not yet done.\n"
         "# TYPE supportbot_webhook_pending gauge\n"
         "supportbot_webhook_pending " +
         std::to_string(impl_->pending.load()) + "\n";
  return out;
}

}  // namespace bot::net
