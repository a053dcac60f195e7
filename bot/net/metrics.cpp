#include "bot/net/metrics.hpp"

#include <cstdio>

namespace bot::net {
namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void scalar(std::string& out, const char* name, const char* type, const char* help,
            std::uint64_t value) {
  header(out, name, type, help);
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

}  // namespace

void latency_histogram::observe_ns(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  const double s = static_cast<double>(ns) / 1e9;
  std::size_t i = 0;
  while (i < bounds_s.size() && s > bounds_s[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

void latency_histogram::render(std::string& out, const char* name, const char* help) const {
  header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_s.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out += std::string(name) + "_bucket{le=\"" + num(bounds_s[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += counts_[bounds_s.size()].load(std::memory_order_relaxed);
  out += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += std::string(name) + "_sum " +
         num(static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9) + "\n";
  out += std::string(name) + "_count " + std::to_string(cumulative) + "\n";
}

void net_metrics::render(std::string& out, std::uint64_t live_conversations) const {
  const auto get = [](const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  scalar(out, "supportbot_ws_connections_open", "gauge", "Open visitor WebSocket connections.",
         get(ws_open));
  scalar(out, "supportbot_ws_connections_total", "counter", "Visitor WebSocket upgrades accepted.",
         get(ws_accepted));
  scalar(out, "supportbot_ws_frames_in_total", "counter", "WebSocket frames received.",
         get(frames_in));
  scalar(out, "supportbot_ws_frames_out_total", "counter", "WebSocket frames sent.",
         get(frames_out));
  scalar(out, "supportbot_ws_frames_dropped_total", "counter",
         "Typing frames dropped because a client read too slowly.", get(frames_dropped));
  scalar(out, "supportbot_ws_slow_client_closes_total", "counter",
         "Connections closed with 1008 because their outbound queue was full.", get(slow_closes));
  scalar(out, "supportbot_ws_error_frames_total", "counter", "Error frames sent to clients.",
         get(frame_errors));
  header(out, "supportbot_rate_limit_hits_total", "counter", "Requests refused by a limit.");
  out += "supportbot_rate_limit_hits_total{limit=\"visitor_messages_per_10s\"} " +
         std::to_string(get(rate_limited)) + "\n";
  out += "supportbot_rate_limit_hits_total{limit=\"connections_per_ip\"} " +
         std::to_string(get(ip_limited)) + "\n";
  out += "supportbot_rate_limit_hits_total{limit=\"max_connections\"} " +
         std::to_string(get(server_full)) + "\n";
  scalar(out, "supportbot_ws_origin_refused_total", "counter",
         "WebSocket upgrades refused because the Origin is not allowed.", get(origin_refused));
  scalar(out, "supportbot_conversations_live", "gauge", "Conversations held in memory.",
         live_conversations);
  header(out, "supportbot_conversations_total", "counter", "Conversations opened, by how.");
  out += "supportbot_conversations_total{how=\"new\"} " + std::to_string(get(conversations_started)) +
         "\n";
  out += "supportbot_conversations_total{how=\"resumed\"} " +
         std::to_string(get(conversations_resumed)) + "\n";
  scalar(out, "supportbot_visitor_messages_total", "counter", "Visitor messages stored.",
         get(messages));
  scalar(out, "supportbot_visitor_duplicates_total", "counter",
         "Visitor messages sent again (acked with the first seq, not stored).", get(duplicates));
  header(out, "supportbot_decisions_total", "counter", "Bot decisions, by kind.");
  static constexpr const char* kinds[] = {"answer", "clarify", "fallback", "handoff"};
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    out += std::string("supportbot_decisions_total{kind=\"") + kinds[i] + "\"} " +
           std::to_string(get(decisions[i])) + "\n";
  }
  latency.render(out, "supportbot_message_latency_seconds",
                 "From a visitor frame read to the bot's reply queued for sending (after commit).");
}

}  // namespace bot::net
