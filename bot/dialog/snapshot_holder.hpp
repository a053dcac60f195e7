// snapshot_holder: the live rules. Readers take a shared_ptr copy per message
// (a conversation mid-flow keeps the snapshot it started the turn with); a
// reload swaps in a whole new snapshot atomically. A failed reload is counted
// and leaves the old snapshot serving.
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "bot/dialog/router.hpp"

namespace bot::dialog {

class snapshot_holder {
 public:
  std::shared_ptr<const snapshot> get() const {
    std::lock_guard lock(mu_);
    return current_;
  }

  // Counted under the lock, so that whoever sees the new snapshot also sees
  // the count that includes it.
  void set(std::shared_ptr<const snapshot> s) {
    std::lock_guard lock(mu_);
    current_ = std::move(s);
    reloads_.fetch_add(1, std::memory_order_relaxed);
  }

  void count_failure() { failures_.fetch_add(1, std::memory_order_relaxed); }

  // Successful loads (the first one included) and failed reloads.
  std::uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const snapshot> current_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace bot::dialog
