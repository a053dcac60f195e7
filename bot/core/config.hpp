// The server's settings (DESIGN §4, §8): plain structs whose defaults are the
// documented defaults, and a table of every key so that the YAML loader (app)
// and environment overrides set them through one validating path.
//
// Keys are dotted paths: "port", "routing.answer_threshold", "limits.outbound_queue".
// The environment variable for a key is SUPPORTBOT_ + the key upper-cased with
// dots turned into underscores: SUPPORTBOT_ROUTING_ANSWER_THRESHOLD.
// A config is a value; share it read-only between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bot/core/status.hpp"

namespace bot::core {

struct routing_config {
  double answer_threshold = 0.6;    // top candidate at least this: answer
  double clarify_threshold = 0.35;  // at least this (and not an answer): "did you mean"
  double ambiguity_margin = 0.1;    // answer only when this far ahead of the runner-up
  int fallbacks_before_handoff = 2;  // fallbacks in a row before a handoff
  int context_ttl = 3;               // turns a sets_context entry lives
};

struct limits_config {
  std::int64_t max_frame_bytes = 65536;  // larger WebSocket frame: close 1009
  int max_text_chars = 4000;              // longer message text: error too_long
  int handshake_timeout_s = 10;
  int idle_timeout_s = 60;  // pings at half of it
  int outbound_queue = 256;  // frames queued per connection
  int visitor_messages_per_10s = 30;
  int connections_per_ip = 20;
  int max_connections = 20000;  // WebSocket connections in all (sizes the open-files limit)
  int agent_login_failures_per_min = 5;
  int replay_window = 500;                   // messages replayed on resume, else resync
  std::int64_t rule_file_bytes = 1 << 20;    // per intents/KB file
  int pattern_bytes = 1024;                  // per RE2 pattern
  int re2_max_mem_mb = 64;                   // RE2::Set DFA budget
};

struct store_config {
  int batch_max = 8192;        // appends committed in one transaction at most
  int queue_max = 100000;      // pending appends before new ones are refused
  int read_connections = 2;    // read-only connections (and reader threads)
  int busy_timeout_ms = 5000;
  std::string synchronous = "full";  // full | normal (SQLite PRAGMA synchronous)
};

struct log_config {
  std::string level = "info";  // debug | info | warn | error
};

// One opening range of a weekday; minutes from midnight, end exclusive.
struct weekly_range {
  int weekday = 0;  // 0 = Monday .. 6 = Sunday
  int start_min = 0;
  int end_min = 0;
};

struct hours_config {
  std::string timezone = "UTC";   // IANA name, e.g. Europe/Berlin
  std::vector<std::string> open;  // "mon-fri 09:00-17:30"; empty = always open
  std::vector<weekly_range> ranges;  // parsed from `open`
};

// The agent console (DESIGN §7).
struct agents_config {
  int session_ttl_s = 12 * 3600;  // a login lasts this long
  // "true": waiting conversations go round-robin to online agents of the
  // team under their max_chats; claiming by hand works either way.
  std::string auto_assign = "false";
  int heartbeat_timeout_s = 60;  // a console silent this long counts as away
};

// Signed event notifications (docs/webhooks.md).
struct webhooks_config {
  std::vector<std::string> urls;  // http:// or https://; empty = off
  std::string secret;             // HMAC-SHA256 key; required with urls
  int max_attempts = 8;           // per delivery, with exponential backoff
  int timeout_s = 10;             // per attempt
};

struct config {
  std::string listen = "127.0.0.1";
  int port = 8080;
  int threads = 0;  // 0 = number of cores
  std::string data_dir = "var";
  std::string intents_dir = "intents";
  std::string kb_dir = "knowledge_base";
  std::string web_dir = "bot/web";
  // Exact origins; "http://host:*" allows any port of that scheme and host.
  std::vector<std::string> allowed_origins = {"http://localhost:*", "http://127.0.0.1:*"};
  // "true" when clients reach the server through HTTPS (a TLS proxy): the
  // agent session cookie is then marked Secure.
  std::string behind_https = "false";
  agents_config agents;
  webhooks_config webhooks;
  routing_config routing;
  limits_config limits;
  store_config store;
  log_config log;
  hours_config hours;
};

enum class key_kind { integer, number, string, string_list };

struct config_key {
  std::string_view name;  // dotted path
  key_kind kind;
  std::string_view help;  // one line for deploy/supportbot.yaml and --help
};

// Every key, in the order of deploy/supportbot.yaml.
const std::vector<config_key>& config_keys();

// The key named `name`, or nullptr.
const config_key* find_config_key(std::string_view name);

// Sets a scalar key from its text ("0.7", "8080", "info"). Errors name the key
// and the accepted values, without a location (the caller adds file:line).
status set_config_value(config& c, std::string_view key, std::string_view value);

// Sets a list key.
status set_config_list(config& c, std::string_view key, const std::vector<std::string>& values);

// The current value of `key` as YAML text ("0.6", "[a, b]").
std::string config_value_text(const config& c, std::string_view key);

// Checks that span several keys (e.g. clarify_threshold <= answer_threshold).
status validate_config(const config& c);

// Applies SUPPORTBOT_* variables from `environ`-style "NAME=value" entries.
// A SUPPORTBOT_ variable that names no key is an error (typos must not pass
// silently); list keys take comma-separated values.
status apply_env_overrides(config& c, const std::vector<std::string>& environment);

// The environment variable name of a key.
std::string env_name(std::string_view key);

// Parses "mon-fri 09:00-17:30" or "sat 10:00-14:00" into ranges.
result<std::vector<weekly_range>> parse_opening(std::string_view text);

}  // namespace bot::core
