// Counters of the chat server for /metrics: lock-free, updated from any
// thread, rendered as Prometheus text.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace bot::net {

class latency_histogram {
 public:
  static constexpr std::array<double, 14> bounds_s = {0.0005, 0.001, 0.002, 0.005, 0.01,
                                                      0.02,   0.05,  0.1,   0.2,   0.5,
                                                      1,      2,     5,     10};
  void observe_ns(std::int64_t ns) noexcept;
  void render(std::string& out, const char* name, const char* help) const;

 private:
  std::array<std::atomic<std::uint64_t>, bounds_s.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct net_metrics {
  std::atomic<std::uint64_t> ws_open{0};  // gauge
  std::atomic<std::uint64_t> ws_accepted{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> frames_dropped{0};  // typing frames dropped for a slow reader
  std::atomic<std::uint64_t> slow_closes{0};     // closed 1008: outbound queue full
  std::atomic<std::uint64_t> frame_errors{0};    // error frames sent
  std::atomic<std::uint64_t> rate_limited{0};    // messages refused by the per-conversation limit
  std::atomic<std::uint64_t> ip_limited{0};      // upgrades refused: connections_per_ip
  std::atomic<std::uint64_t> server_full{0};     // upgrades refused: max_connections
  std::atomic<std::uint64_t> origin_refused{0};  // upgrades refused: Origin not allowed
  std::atomic<std::uint64_t> conversations_started{0};
  std::atomic<std::uint64_t> conversations_resumed{0};
  std::atomic<std::uint64_t> messages{0};  // visitor messages stored (duplicates excluded)
  std::atomic<std::uint64_t> duplicates{0};
  std::array<std::atomic<std::uint64_t>, 4> decisions{};  // by dialog::decision_kind
  latency_histogram latency;  // visitor frame read -> bot reply queued to the socket

  // Appends every metric above. `live_conversations` comes from the hub.
  void render(std::string& out, std::uint64_t live_conversations) const;
};

}  // namespace bot::net
