// Structured logging: one JSON object per line on stderr (or a sink set for
// tests), e.g.
//   {"ts":"2026-11-23T09:00:00.000Z","level":"info","event":"listening","port":8080}
// Fields are keys and scalar values. Pass a "conversation_id" field where there
// is one. Never log message bodies, tokens, passwords or cookies: log their
// length or id instead. All functions are thread-safe; a line is written with
// one call, so lines from different threads never interleave.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace bot::core::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };

std::string_view level_name(level l) noexcept;
std::optional<level> parse_level(std::string_view name) noexcept;

struct field {
  using value_type = std::variant<std::string_view, std::int64_t, double, bool>;

  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  field(std::string_view k, bool v) : key(k), value(v) {}
  field(std::string_view k, double v) : key(k), value(v) {}
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
  field(std::string_view k, I v) : key(k), value(static_cast<std::int64_t>(v)) {}

  std::string_view key;
  value_type value;
};

// Messages below `l` are dropped. Default: info.
void set_level(level l) noexcept;
level current_level() noexcept;

// Where finished lines go (without the trailing newline). Default, or after
// set_sink(nullptr): stderr.
void set_sink(std::function<void(std::string_view line)> sink);

// The JSON line for an entry, without writing it (used by write and tests).
std::string format(level l, std::string_view event, std::initializer_list<field> fields);

void write(level l, std::string_view event, std::initializer_list<field> fields);

inline void debug(std::string_view event, std::initializer_list<field> f = {}) { write(level::debug, event, f); }
inline void info(std::string_view event, std::initializer_list<field> f = {}) { write(level::info, event, f); }
inline void warn(std::string_view event, std::initializer_list<field> f = {}) { write(level::warn, event, f); }
inline void error(std::string_view event, std::initializer_list<field> f = {}) { write(level::error, event, f); }

// Appends `s` as a JSON string literal (with quotes) to `out`; invalid UTF-8
// is replaced by U+FFFD. Shared with other writers of JSON lines.
void append_json_string(std::string& out, std::string_view s);

}  // namespace bot::core::log
