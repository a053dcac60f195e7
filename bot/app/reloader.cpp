#include "bot/app/reloader.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "bot/core/log.hpp"
#include "bot/core/thread.hpp"

namespace bot::app {

using namespace bot::core;

namespace {

constexpr std::uint32_t k_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;

}  // namespace

reloader::reloader(std::vector<std::string> dirs, loader load, dialog::snapshot_holder& holder, int debounce_ms)
    : dirs_(std::move(dirs)), load_(std::move(load)), holder_(holder), debounce_ms_(debounce_ms) {}

reloader::~reloader() { stop(); }

void reloader::add_watches() {
  for (int w : watches_) inotify_rm_watch(inotify_fd_, w);
  watches_.clear();
  missing_ = 0;
  // Every folder below each root too: the knowledge base has topic folders.
  for (std::size_t r = 0; r < dirs_.size(); ++r) {
    const std::string& root = dirs_[r];
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) {
      // A folder that existed at start and is gone is being replaced (a git
      // checkout, a deploy): look for it again. One that never existed is
      // not watched (the knowledge base is optional).
      if (root_existed_[r]) ++missing_;
      continue;
    }
    std::vector<std::string> folders{root};
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) folders.push_back(it->path().string());
    }
    for (const auto& d : folders) {
      const int w = inotify_add_watch(inotify_fd_, d.c_str(), k_events);
      if (w >= 0) watches_.push_back(w);
    }
  }
}

core::status reloader::start() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return io_error(std::string("inotify_init1: ") + std::strerror(errno));
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return io_error(std::string("eventfd: ") + std::strerror(errno));
  root_existed_.clear();
  for (const auto& d : dirs_) {
    std::error_code ec;
    root_existed_.push_back(std::filesystem::is_directory(d, ec));
  }
  add_watches();
  if (watches_.empty()) return io_error("none of the rule folders can be watched");
  thread_ = std::thread([this] {
    core::set_thread_name("sb-reload");
    run();
  });
  return {};
}

void reloader::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

core::status reloader::reload_now() {
  std::lock_guard lock(reload_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  auto loaded = load_();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (!loaded.ok()) {
    holder_.count_failure();
    std::istringstream lines(loaded.error().message());
    int count = 0;
    for (std::string line; std::getline(lines, line);) {
      log::error("rules_reload_error", {{"error", line}});
      ++count;
    }
    log::error("rules_reload_failed", {{"errors", count}, {"kept", "previous rules"}, {"ms", ms}});
    return loaded.error();
  }
  const std::size_t intents = loaded->rules ? loaded->rules->intents().size() : 0;
  holder_.set(std::make_shared<const dialog::snapshot>(std::move(loaded.value())));
  log::info("rules_reloaded", {{"intents", intents}, {"ms", ms}});
  return {};
}

void reloader::run() {
  using clock = std::chrono::steady_clock;
  bool pending = false;
  bool rewatch = false;
  clock::time_point due{};
  alignas(inotify_event) char buf[8192];
  for (;;) {
    int timeout = -1;
    if (pending) {
      timeout = static_cast<int>(std::max<long long>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(due - clock::now()).count()));
    } else if (rewatch) {
      timeout = 500;  // a watched folder was replaced: look for it again
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) {
      log::error("rules_watch_failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents & POLLIN) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      for (;;) {
        const ssize_t len = ::read(inotify_fd_, buf, sizeof buf);
        if (len <= 0) break;
        for (ssize_t off = 0; off < len;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
          // A folder created, removed or replaced: watch the new tree.
          if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) ||
              ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))) {
            rewatch = true;
          }
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
        pending = true;
        due = clock::now() + std::chrono::milliseconds(debounce_ms_);
      }
    }
    if (rewatch) {
      add_watches();
      if (missing_ == 0) {
        rewatch = false;
        pending = true;
        due = clock::now() + std::chrono::milliseconds(debounce_ms_);
      }
    }
    if (pending && clock::now() >= due) {
      pending = false;
      (void)reload_now();
    }
  }
}

}  // namespace bot::app
