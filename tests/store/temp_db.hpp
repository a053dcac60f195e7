// Test helpers: a temporary folder for a database (removed with its WAL
// files afterwards) and a counter to wait for asynchronous completions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>

#include "bot/core/config.hpp"

namespace bot::store::test {

class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    path_ = std::filesystem::temp_directory_path() / ("sb-store-test-" + std::to_string(gen()));
    std::filesystem::create_directories(path_);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

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
