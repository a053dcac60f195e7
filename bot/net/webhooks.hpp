// webhooks: signed HTTP notifications of conversation events (config
// `webhooks`, docs/webhooks.md). Every `handoff`, `ticket` and `closed`
// event is POSTed as JSON to each configured URL with
//   X-Supportbot-Event:     the event type
//   X-Supportbot-Delivery:  a delivery id (the same on every retry)
//   X-Supportbot-Timestamp: Unix seconds of this attempt
//   X-Supportbot-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// A delivery is retried with exponential backoff (1 s, 2 s, 4 s ... at most
// 5 min apart, with jitter) until a 2xx answer or webhooks.max_attempts.
// publish() never blocks and never fails the conversation: deliveries run on
// the server's io_context; beyond 10,000 pending ones new events are dropped
// (logged and counted).
//
// Thread-safety: publish(), stop() and stats() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bot/core/config.hpp"

namespace boost::asio {
class io_context;
}

namespace bot::net {

class webhooks {
 public:
  webhooks(boost::asio::io_context& ioc, core::webhooks_config cfg);
  ~webhooks();
  webhooks(const webhooks&) = delete;
  webhooks& operator=(const webhooks&) = delete;

  // Queues one event for every URL. `data_json` is a JSON object.
  void publish(std::string_view type, const std::string& conversation_id,
               const std::string& data_json, std::int64_t ts_ms);
  // Server shutdown: waiting retries are abandoned (logged), attempts in
  // flight end at their timeout at the latest.
  void stop();

  struct counters {
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> retried{0};  // failed attempts followed by another
    std::atomic<std::uint64_t> failed{0};   // gave up after max_attempts (or at stop)
    std::atomic<std::uint64_t> dropped{0};  // never queued: too many pending
  };
  const counters& stats() const;
  // No delivery is pending (none queued, waiting or in flight).
  bool idle() const;
  // Prometheus text of the counters.
  std::string render_metrics() const;

  static constexpr int k_max_pending = 10000;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// "v1=" and the lower-case hex HMAC-SHA256 of `timestamp + "." + body`.
std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body);

struct webhook_url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, "/" at least
};
// http[s]://host[:port][/path]; nullopt when not such a URL. IPv6 literals
// go in brackets.
std::optional<webhook_url> parse_webhook_url(std::string_view url);

}  // namespace bot::net
