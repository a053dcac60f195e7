// clock: wall time and monotonic time behind one injectable interface, so
// tests can move time by hand (LevelDB's Env idea, for time only).
// system_clock is stateless and thread-safe; manual_clock is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace bot::core {

class clock {
 public:
  virtual ~clock() = default;
  // Milliseconds since the Unix epoch (UTC). For timestamps that are stored.
  virtual std::int64_t now_ms() const = 0;
  // Monotonic nanoseconds from an arbitrary origin. For durations and timeouts.
  virtual std::int64_t steady_ns() const = 0;
};

class system_clock final : public clock {
 public:
  std::int64_t now_ms() const override;
  std::int64_t steady_ns() const override;
  // The process-wide instance.
  static const system_clock& instance();
};

class manual_clock final : public clock {
 public:
  explicit manual_clock(std::int64_t start_ms = 1'700'000'000'000) : ms_(start_ms), ns_(0) {}
  std::int64_t now_ms() const override { return ms_.load(); }
  std::int64_t steady_ns() const override { return ns_.load(); }
  void advance_ms(std::int64_t ms) {
    ms_ += ms;
    ns_ += ms * 1'000'000;
  }

 private:
  std::atomic<std::int64_t> ms_;
  std::atomic<std::int64_t> ns_;
};

// "2026-11-23T08:58:15.123Z" for a Unix time in milliseconds.
std::string format_iso8601_ms(std::int64_t unix_ms);

}  // namespace bot::core
