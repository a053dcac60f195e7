// reloader: hot reload of the rules. A thread watches the rule folders (and
// every folder below them) with inotify, waits until edits have been quiet for `debounce_ms` (editors write
// in several steps), then builds and validates a new snapshot on its own
// thread (never an I/O thread) and swaps it in. A broken edit is logged with
// every file:line:col error, counted, and the old snapshot keeps serving.
//
// Thread-safety: start() and stop() from the owning thread; reload_now() from
// any thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bot/core/status.hpp"
#include "bot/dialog/snapshot_holder.hpp"

namespace bot::app {

class reloader {
 public:
  // `load` builds a snapshot from the files (or fails with every error, one per line).
  using loader = std::function<core::result<dialog::snapshot>()>;

  reloader(std::vector<std::string> dirs, loader load, dialog::snapshot_holder& holder, int debounce_ms = 300);
  ~reloader();
  reloader(const reloader&) = delete;
  reloader& operator=(const reloader&) = delete;

  // Starts watching. Fails when inotify or a folder cannot be watched.
  core::status start();
  void stop();

  // Loads now, on the caller's thread; returns what the reload did.
  core::status reload_now();

 private:
  void run();
  void add_watches();

  std::vector<std::string> dirs_;
  loader load_;
  dialog::snapshot_holder& holder_;
  int debounce_ms_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop()
  std::vector<int> watches_;
  std::vector<bool> root_existed_;  // per root: a folder at start()
  std::size_t missing_ = 0;         // roots that existed at start and are gone now
  std::mutex reload_mu_;  // one reload at a time
  std::thread thread_;
};

}  // namespace bot::app
