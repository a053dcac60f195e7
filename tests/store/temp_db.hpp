// Test helpers: a temporary folder for a database (removed with its WAL
// files afterwards) and a counter to wait for asynchronous completions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <random>

#include "tests/temp_dir.hpp"
#include <string>

#include "bot/core/config.hpp"

namespace bot::store::test {

using bot::testing::temp_dir;

// Counts outstanding completions; wait() returns when all have arrived.
class pending {
 public:
  void add(int n = 1) {
    std::lock_guard lk(mu_);
    count_ += n;
  }
  void done() {
    std::lock_guard lk(mu_);
    if (--count_ == 0) cv_.notify_all();
  }
  // False on timeout.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t count_ = 0;
};

inline core::store_config test_config() {
  core::store_config cfg;  // the defaults: synchronous = full
  cfg.read_connections = 2;
  return cfg;
}

}  // namespace bot::store::test
