#include "bot/core/config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>

namespace bot::core {
namespace {

struct entry {
  config_key key;
  std::function<status(config&, std::string_view)> set_scalar;    // null for lists
  std::function<status(config&, const std::vector<std::string>&)> set_list;  // null for scalars
  std::function<std::string(const config&)> get;
};

template <typename Access>
entry int_key(std::string_view name, std::string_view help, std::int64_t lo, std::int64_t hi,
              Access access) {
  entry e{{name, key_kind::integer, help}, nullptr, nullptr, nullptr};
  e.set_scalar = [=](config& c, std::string_view text) -> status {
    std::int64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || p != end) {
      return invalid_argument(std::string(name) + ": expected an integer, got '" +
                              std::string(text) + "'");
    }
    if (v < lo || v > hi) {
      return invalid_argument(std::string(name) + ": " + std::to_string(v) +
                              " is out of range [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
    }
    using T = std::remove_reference_t<decltype(access(c))>;
    access(c) = static_cast<T>(v);
    return {};
  };
  e.get = [=](const config& c) { return std::to_string(access(const_cast<config&>(c))); };
  return e;
}

template <typename Access>
entry number_key(std::string_view name, std::string_view help, double lo, double hi,
                 Access access) {
  entry e{{name, key_kind::number, help}, nullptr, nullptr, nullptr};
  e.set_scalar = [=](config& c, std::string_view text) -> status {
    double v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || p != end || !std::isfinite(v)) {
      return invalid_argument(std::string(name) + ": expected a number, got '" +
                              std::string(text) + "'");
    }
    if (v < lo || v > hi) {
      return invalid_argument(std::string(name) + ": " + std::string(text) +
                              " is out of range [" + std::to_string(lo).substr(0, 4) + ", " +
                              std::to_string(hi).substr(0, 4) + "]");
    }
    access(c) = v;
    return {};
  };
  e.get = [=](const config& c) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, access(const_cast<config&>(c)));
    return std::string(buf, r.ptr);
  };
  return e;
}

template <typename Access>
entry string_key(std::string_view name, std::string_view help,
                 std::vector<std::string_view> allowed, Access access) {
  entry e{{name, key_kind::string, help}, nullptr, nullptr, nullptr};
  e.set_scalar = [=](config& c, std::string_view text) -> status {
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      std::string msg = std::string(name) + ": '" + std::string(text) + "' is not one of";
      for (auto a : allowed) msg += " " + std::string(a);
      return invalid_argument(msg);
    }
    if (allowed.empty() && text.empty()) {
      return invalid_argument(std::string(name) + ": must not be empty");
    }
    access(c) = std::string(text);
    return {};
  };
  e.get = [=](const config& c) { return access(const_cast<config&>(c)); };
  return e;
}

std::string list_text(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += '"' + v[i] + '"';
  }
  return out + "]";
}

status check_origin(std::string_view o) {
  const bool scheme = o.rfind("http://", 0) == 0 || o.rfind("https://", 0) == 0;
  const auto host_start = o.find("://");
  if (!scheme || host_start == std::string_view::npos || o.size() <= host_start + 3 ||
      o.back() == '/' || o.find(' ') != std::string_view::npos) {
    return invalid_argument("allowed_origins: '" + std::string(o) +
                            "' is not an origin like https://shop.example or http://localhost:*");
  }
  return {};
}

// The port of "host[:port][/...]", if any, is 1-65535 (IPv6 hosts in brackets).
bool url_port_ok(std::string_view rest) {
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return false;
    rest = rest.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return true;
    rest = rest.substr(colon);
  }
  const std::string_view port = rest.substr(1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  const int n = std::stoi(std::string(port));
  return n >= 1 && n <= 65535;
}

const std::vector<entry>& table() {
  static const std::vector<entry> t = [] {
    std::vector<entry> v;
    v.push_back(string_key("listen", "address to listen on (0.0.0.0 for all interfaces)", {},
                           [](config& c) -> std::string& { return c.listen; }));
    v.push_back(int_key("port", "TCP port; 0 picks a free one (logged at start)", 0, 65535,
                        [](config& c) -> int& { return c.port; }));
    v.push_back(int_key("threads", "I/O threads; 0 = number of cores", 0, 256,
                        [](config& c) -> int& { return c.threads; }));
    v.push_back(string_key("data_dir", "folder of the database (supportbot.db)", {},
                           [](config& c) -> std::string& { return c.data_dir; }));
    v.push_back(string_key("intents_dir", "folder of the intent rules (*.yaml)", {},
                           [](config& c) -> std::string& { return c.intents_dir; }));
    v.push_back(string_key("kb_dir", "folder of the knowledge base (*.md, *.csv)", {},
                           [](config& c) -> std::string& { return c.kb_dir; }));
    v.push_back(string_key("web_dir", "folder of the static web files", {},
                           [](config& c) -> std::string& { return c.web_dir; }));
    v.push_back(string_key("behind_https", "true behind a TLS proxy: agent cookies are Secure",
                           {"false", "true"}, [](config& c) -> std::string& { return c.behind_https; }));
    {
      entry e{{"allowed_origins", key_kind::string_list,
               "origins allowed to open WebSockets; host:* allows any port"},
              nullptr, nullptr, nullptr};
      e.set_list = [](config& c, const std::vector<std::string>& values) -> status {
        for (const auto& o : values) {
          if (auto s = check_origin(o); !s.ok()) return s;
        }
        c.allowed_origins = values;
        return {};
      };
      e.get = [](const config& c) { return list_text(c.allowed_origins); };
      v.push_back(std::move(e));
    }
    v.push_back(number_key("routing.answer_threshold", "answer when the top confidence is at least this",
                           0, 1, [](config& c) -> double& { return c.routing.answer_threshold; }));
    v.push_back(number_key("routing.clarify_threshold", "ask \"did you mean\" from this confidence on",
                           0, 1, [](config& c) -> double& { return c.routing.clarify_threshold; }));
    v.push_back(number_key("routing.ambiguity_margin", "answer only this far ahead of the runner-up",
                           0, 1, [](config& c) -> double& { return c.routing.ambiguity_margin; }));
    v.push_back(int_key("routing.fallbacks_before_handoff", "fallbacks in a row before a handoff; 0 = never",
                        0, 100, [](config& c) -> int& { return c.routing.fallbacks_before_handoff; }));
    v.push_back(int_key("routing.context_ttl", "turns a sets_context entry is kept", 1, 1000,
                        [](config& c) -> int& { return c.routing.context_ttl; }));
    {
      entry e{{"hours.timezone", key_kind::string, "IANA time zone of the opening hours"},
              nullptr, nullptr, nullptr};
      e.set_scalar = [](config& c, std::string_view text) -> status {
        if (text.empty() || text.find("..") != std::string_view::npos || text.front() == '/' ||
            text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
                std::string_view::npos) {
          return invalid_argument("hours.timezone: '" + std::string(text) +
                                  "' is not a time zone name like Europe/Berlin");
        }
        c.hours.timezone = std::string(text);
        return {};
      };
      e.get = [](const config& c) { return c.hours.timezone; };
      v.push_back(std::move(e));
    }
    {
      entry e{{"hours.open", key_kind::string_list,
               "weekly opening ranges like \"mon-fri 09:00-17:30\"; empty = always open"},
              nullptr, nullptr, nullptr};
      e.set_list = [](config& c, const std::vector<std::string>& values) -> status {
        std::vector<weekly_range> all;
        for (const auto& text : values) {
          auto r = parse_opening(text);
          if (!r.ok()) return invalid_argument("hours.open: " + r.error().message());
          all.insert(all.end(), r->begin(), r->end());
        }
        c.hours.open = values;
        c.hours.ranges = std::move(all);
        return {};
      };
      e.get = [](const config& c) { return list_text(c.hours.open); };
      v.push_back(std::move(e));
    }
    constexpr std::int64_t big = std::numeric_limits<int>::max();
    v.push_back(int_key("limits.max_frame_bytes", "largest WebSocket frame (close 1009 beyond)", 1024,
                        64 << 20, [](config& c) -> std::int64_t& { return c.limits.max_frame_bytes; }));
    v.push_back(int_key("limits.max_text_chars", "longest message text (error too_long beyond)", 1,
                        1 << 20, [](config& c) -> int& { return c.limits.max_text_chars; }));
    v.push_back(int_key("limits.handshake_timeout_s", "seconds to complete the WebSocket handshake", 1,
                        3600, [](config& c) -> int& { return c.limits.handshake_timeout_s; }));
    v.push_back(int_key("limits.idle_timeout_s", "seconds of silence before a connection is closed", 2,
                        86400, [](config& c) -> int& { return c.limits.idle_timeout_s; }));
    v.push_back(int_key("limits.outbound_queue", "frames queued per connection before close 1008", 1,
                        1 << 20, [](config& c) -> int& { return c.limits.outbound_queue; }));
    v.push_back(int_key("limits.visitor_messages_per_10s", "visitor messages per conversation per 10 s",
                        1, big, [](config& c) -> int& { return c.limits.visitor_messages_per_10s; }));
    v.push_back(int_key("limits.connections_per_ip", "open connections per client IP (503 beyond)", 1,
                        big, [](config& c) -> int& { return c.limits.connections_per_ip; }));
    v.push_back(int_key("limits.max_connections", "open WebSocket connections in all (503 beyond)", 1,
                        big, [](config& c) -> int& { return c.limits.max_connections; }));
    v.push_back(int_key("limits.agent_login_failures_per_min", "failed logins per name+IP per minute",
                        1, big, [](config& c) -> int& { return c.limits.agent_login_failures_per_min; }));
    v.push_back(int_key("limits.replay_window", "messages replayed on resume; more sends resync", 1,
                        1000000, [](config& c) -> int& { return c.limits.replay_window; }));
    v.push_back(int_key("limits.rule_file_bytes", "largest intents/KB file", 1024, 1LL << 30,
                        [](config& c) -> std::int64_t& { return c.limits.rule_file_bytes; }));
    v.push_back(int_key("limits.pattern_bytes", "longest RE2 pattern", 16, 1 << 20,
                        [](config& c) -> int& { return c.limits.pattern_bytes; }));
    v.push_back(int_key("limits.re2_max_mem_mb", "memory budget of the compiled RE2 set", 1, 4096,
                        [](config& c) -> int& { return c.limits.re2_max_mem_mb; }));
    v.push_back(int_key("store.batch_max", "appends committed in one transaction at most", 1, 100000,
                        [](config& c) -> int& { return c.store.batch_max; }));
    v.push_back(int_key("store.queue_max", "pending appends before new ones are refused", 1, 10000000,
                        [](config& c) -> int& { return c.store.queue_max; }));
    v.push_back(int_key("store.read_connections", "read-only database connections", 1, 64,
                        [](config& c) -> int& { return c.store.read_connections; }));
    v.push_back(int_key("store.busy_timeout_ms", "SQLite busy timeout", 0, 600000,
                        [](config& c) -> int& { return c.store.busy_timeout_ms; }));
    v.push_back(string_key("store.synchronous", "full: an ack survives power loss; normal: a crash",
                           {"full", "normal"},
                           [](config& c) -> std::string& { return c.store.synchronous; }));
    v.push_back(int_key("agents.session_ttl_s", "seconds an agent login lasts", 60, 30 * 86400,
                        [](config& c) -> int& { return c.agents.session_ttl_s; }));
    v.push_back(string_key("agents.auto_assign",
                           "true: hand waiting chats round-robin to online agents under max_chats",
                           {"false", "true"}, [](config& c) -> std::string& { return c.agents.auto_assign; }));
    v.push_back(int_key("agents.heartbeat_timeout_s", "seconds without a frame before a console counts as away",
                        5, 3600, [](config& c) -> int& { return c.agents.heartbeat_timeout_s; }));
    {
      entry e{{"webhooks.urls", key_kind::string_list,
               "URLs that get handoff, ticket and closed events (signed POSTs)"},
              nullptr, nullptr, nullptr};
      e.set_list = [](config& c, const std::vector<std::string>& values) -> status {
        for (const auto& u : values) {
          const bool scheme = u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
          const std::size_t host = u.find("://") + 3;
          if (!scheme || u.size() <= host || u.size() > 2048 ||
              u.find_first_of(" \t\r\n@") != std::string::npos || u[host] == '/' || u[host] == ':' ||
              !url_port_ok(std::string_view(u).substr(host))) {
            return invalid_argument("webhooks.urls: '" + u +
                                    "' is not a URL like https://hooks.example/supportbot");
          }
        }
        c.webhooks.urls = values;
        return {};
      };
      e.get = [](const config& c) { return list_text(c.webhooks.urls); };
      v.push_back(std::move(e));
    }
    {
      entry e{{"webhooks.secret", key_kind::string,
               "key of the HMAC-SHA256 signatures (set it by env: SUPPORTBOT_WEBHOOKS_SECRET)"},
              nullptr, nullptr, nullptr};
      e.set_scalar = [](config& c, std::string_view text) -> status {
        if (!text.empty() && text.size() < 16)
          return invalid_argument("webhooks.secret: at least 16 characters (or empty: none)");
        c.webhooks.secret = std::string(text);
        return {};
      };
      // Never printed back.
      e.get = [](const config& c) -> std::string {
        return c.webhooks.secret.empty() ? "" : "(set)";
      };
      v.push_back(std::move(e));
    }
    v.push_back(int_key("webhooks.max_attempts", "attempts per webhook delivery (backoff 1 s, 2 s, 4 s...)",
                        1, 30, [](config& c) -> int& { return c.webhooks.max_attempts; }));
    v.push_back(int_key("webhooks.timeout_s", "seconds per webhook attempt", 1, 300,
                        [](config& c) -> int& { return c.webhooks.timeout_s; }));
    v.push_back(string_key("log.level", "least severe level logged", {"debug", "info", "warn", "error"},
                           [](config& c) -> std::string& { return c.log.level; }));
    return v;
  }();
  return t;
}

const entry* find_entry(std::string_view name) {
  for (const auto& e : table()) {
    if (e.key.name == name) return &e;
  }
  return nullptr;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

int parse_weekday(std::string_view d) {
  static constexpr std::string_view names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 7; ++i) {
    if (names[i] == d) return i;
  }
  return -1;
}

int parse_hhmm(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return -1;
  const auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9' ? t[i] - '0' : -100; };
  const int h = digit(0) * 10 + digit(1);
  const int m = digit(3) * 10 + digit(4);
  if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

}  // namespace

const std::vector<config_key>& config_keys() {
  static const std::vector<config_key> keys = [] {
    std::vector<config_key> k;
    for (const auto& e : table()) k.push_back(e.key);
    return k;
  }();
  return keys;
}

const config_key* find_config_key(std::string_view name) {
  const entry* e = find_entry(name);
  return e ? &e->key : nullptr;
}

status set_config_value(config& c, std::string_view key, std::string_view value) {
  const entry* e = find_entry(key);
  if (!e) return invalid_argument("unknown key '" + std::string(key) + "'");
  if (!e->set_scalar) {
    return invalid_argument(std::string(key) + ": expected a list");
  }
  return e->set_scalar(c, value);
}

status set_config_list(config& c, std::string_view key, const std::vector<std::string>& values) {
  const entry* e = find_entry(key);
  if (!e) return invalid_argument("unknown key '" + std::string(key) + "'");
  if (!e->set_list) {
    return invalid_argument(std::string(key) + ": expected a single value, not a list");
  }
  return e->set_list(c, values);
}

std::string config_value_text(const config& c, std::string_view key) {
  const entry* e = find_entry(key);
  return e ? e->get(c) : std::string();
}

status validate_config(const config& c) {
  if (c.routing.clarify_threshold > c.routing.answer_threshold) {
    return invalid_argument("routing.clarify_threshold (" + config_value_text(c, "routing.clarify_threshold") +
                            ") must not exceed routing.answer_threshold (" +
                            config_value_text(c, "routing.answer_threshold") + ")");
  }
  if (c.limits.max_text_chars > c.limits.max_frame_bytes) {
    return invalid_argument("limits.max_text_chars (" + std::to_string(c.limits.max_text_chars) +
                            ") must not exceed limits.max_frame_bytes (" +
                            std::to_string(c.limits.max_frame_bytes) + ")");
  }
  if (c.limits.handshake_timeout_s > c.limits.idle_timeout_s) {
    return invalid_argument("limits.handshake_timeout_s must not exceed limits.idle_timeout_s");
  }
  if (!c.webhooks.urls.empty() && c.webhooks.secret.empty()) {
    return invalid_argument("webhooks.urls needs webhooks.secret (receivers verify signatures with it)");
  }
  return {};
}

std::string env_name(std::string_view key) {
  std::string out = "SUPPORTBOT_";
  for (char ch : key) {
    out += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

status apply_env_overrides(config& c, const std::vector<std::string>& environment) {
  constexpr std::string_view prefix = "SUPPORTBOT_";
  for (const auto& item : environment) {
    if (item.rfind(prefix, 0) != 0) continue;
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    const entry* match = nullptr;
    for (const auto& e : table()) {
      if (env_name(e.key.name) == name) match = &e;
    }
    if (!match) {
      return invalid_argument("environment " + name + ": no such setting (see deploy/supportbot.yaml)");
    }
    const status s = match->set_scalar ? match->set_scalar(c, value)
                                       : match->set_list(c, split_list(value));
    if (!s.ok()) return invalid_argument("environment " + name + ": " + s.message());
  }
  return {};
}

result<std::vector<weekly_range>> parse_opening(std::string_view text) {
  const auto bad = [&] {
    return invalid_argument("'" + std::string(text) +
                            "' is not like \"mon-fri 09:00-17:30\" (days mon..sun, 24 h times)");
  };
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return bad();
  const std::string_view days = text.substr(0, space);
  std::string_view times = text.substr(space + 1);
  while (!times.empty() && times.front() == ' ') times.remove_prefix(1);
  const auto dash = days.find('-');
  const int d0 = parse_weekday(days.substr(0, dash));
  const int d1 = dash == std::string_view::npos ? d0 : parse_weekday(days.substr(dash + 1));
  const auto tdash = times.find('-');
  if (d0 < 0 || d1 < 0 || d1 < d0 || tdash == std::string_view::npos) return bad();
  const int t0 = parse_hhmm(times.substr(0, tdash));
  const int t1 = parse_hhmm(times.substr(tdash + 1));
  if (t0 < 0 || t1 < 0 || t1 <= t0) return bad();
  std::vector<weekly_range> out;
  for (int d = d0; d <= d1; ++d) out.push_back({d, t0, t1});
  return out;
}

}  // namespace bot::core
