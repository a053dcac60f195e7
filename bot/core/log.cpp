#include "bot/core/log.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "bot/core/clock.hpp"
#include "bot/core/text.hpp"

namespace bot::core::log {
namespace {

std::atomic<int> g_level{static_cast<int>(level::info)};

struct sink_holder {
  std::mutex mu;
  std::function<void(std::string_view)> sink;
};

sink_holder& holder() {
  static sink_holder h;
  return h;
}

}  // namespace

std::string_view level_name(level l) noexcept {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

std::optional<level> parse_level(std::string_view name) noexcept {
  for (level l : {level::debug, level::info, level::warn, level::error}) {
    if (level_name(l) == name) return l;
  }
  return std::nullopt;
}

void set_level(level l) noexcept { g_level = static_cast<int>(l); }
level current_level() noexcept { return static_cast<level>(g_level.load()); }

void set_sink(std::function<void(std::string_view)> sink) {
  auto& h = holder();
  std::lock_guard lock(h.mu);
  h.sink = std::move(sink);
}

void append_json_string(std::string& out, std::string_view s) {
  const std::string clean = is_valid_utf8(s) ? std::string() : sanitize_utf8(s);
  const std::string_view v = clean.empty() ? s : std::string_view(clean);
  out += '"';
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string format(level l, std::string_view event, std::initializer_list<field> fields) {
  std::string line;
  line.reserve(128);
  line += "{\"ts\":\"";
  line += format_iso8601_ms(system_clock::instance().now_ms());
  line += "\",\"level\":\"";
  line += level_name(l);
  line += "\",\"event\":";
  append_json_string(line, event);
  for (const field& f : fields) {
    line += ',';
    append_json_string(line, f.key);
    line += ':';
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) {
            append_json_string(line, v);
          } else if constexpr (std::is_same_v<V, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<V, double>) {
            if (std::isfinite(v)) {
              char buf[32];
              std::snprintf(buf, sizeof buf, "%.6g", v);
              line += buf;
            } else {
              line += "null";
            }
          } else {
            line += std::to_string(v);
          }
        },
        f.value);
  }
  line += '}';
  return line;
}

void write(level l, std::string_view event, std::initializer_list<field> fields) {
  if (static_cast<int>(l) < g_level.load(std::memory_order_relaxed)) return;
  const std::string line = format(l, event, fields);
  auto& h = holder();
  std::lock_guard lock(h.mu);
  if (h.sink) {
    h.sink(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
}

}  // namespace bot::core::log
