// status and result<T>: errors as values.
//
// A status is either ok or carries an error code and a message a person can
// act on ("intents/orders.yaml:12:7: unknown key 'pattern'"). result<T> holds
// a T or a non-ok status. Both are plain values: safe to copy and move between
// threads; a single object is not synchronised.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace bot::core {

enum class errc {
  ok = 0,
  invalid_argument,  // the caller's input is wrong; retrying will not help
  not_found,
  conflict,     // e.g. a client_msg_id reused with a different text
  unavailable,  // overloaded or shutting down; may succeed later
  io_error,     // the OS or the database failed
  corrupt,      // data on disk is not what we wrote
  internal,     // a bug
};

std::string_view errc_name(errc code) noexcept;

class [[nodiscard]] status {
 public:
  status() = default;  // ok
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  static status ok_status() { return {}; }
  bool ok() const noexcept { return code_ == errc::ok; }
  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "invalid_argument: message", or "ok".
  std::string to_string() const;

 private:
  errc code_ = errc::ok;
  std::string message_;
};

inline status invalid_argument(std::string m) { return {errc::invalid_argument, std::move(m)}; }
inline status not_found(std::string m) { return {errc::not_found, std::move(m)}; }
inline status conflict(std::string m) { return {errc::conflict, std::move(m)}; }
inline status unavailable(std::string m) { return {errc::unavailable, std::move(m)}; }
inline status io_error(std::string m) { return {errc::io_error, std::move(m)}; }
inline status internal_error(std::string m) { return {errc::internal, std::move(m)}; }

template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(status s) : v_(std::move(s)) {      // NOLINT: implicit by design
    assert(!std::get<status>(v_).ok() && "result<T> needs a value or an error");
  }

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // The error; an ok status when a value is held.
  status error() const { return ok() ? status{} : std::get<status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, status> v_;
};

}  // namespace bot::core
