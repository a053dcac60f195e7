// Store throughput: acknowledged appends per second with group commit.
//
// Producers submit appends asynchronously across 64 conversations, keeping
// up to `window` appends in flight (submitted, not yet acknowledged); an
// append counts when its completion arrives, i.e. after its batch's COMMIT.
//
//   BM_acked_appends/sync:1/window:20000/batch:1024   synchronous=full
//   BM_acked_appends/sync:0/...                       synchronous=normal
//   BM_acked_appends/.../window:1                     one at a time (commit latency)
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bot/core/ids.hpp"
#include "bot/core/log.hpp"
#include "bot/store/store.hpp"

#include "tests/temp_dir.hpp"

using namespace bot;

namespace {

using bot::testing::temp_dir;

// Bounds the appends in flight (one producer thread); completions (on the
// writer thread) release. A blocked producer resumes when the window is half
// empty, not on every completion.
class window {
 public:
  explicit window(std::int64_t size) : size_(size) {}
  void acquire() {
    if (in_flight_.load() >= size_) wait_until_at_most(size_ / 2);
    in_flight_.fetch_add(1);
  }
  void release() {
    const std::int64_t left = in_flight_.fetch_sub(1) - 1;
    if (left <= wake_at_.load()) {
      std::lock_guard lk(mu_);
      cv_.notify_all();
    }
  }
  void drain() { wait_until_at_most(0); }

 private:
  void wait_until_at_most(std::int64_t n) {
    std::unique_lock lk(mu_);
    wake_at_.store(n);
    cv_.wait(lk, [&] { return in_flight_.load() <= n; });
    wake_at_.store(-1);
  }

  const std::int64_t size_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> wake_at_{-1};
  std::mutex mu_;
  std::condition_variable cv_;
};

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void BM_acked_appends(benchmark::State& state) {
  core::log::set_level(core::log::level::warn);
  const bool full = state.range(0) != 0;
  const std::int64_t window_size = state.range(1);
  core::store_config cfg;
  cfg.synchronous = full ? "full" : "normal";
  cfg.batch_max = static_cast<int>(state.range(2));
  cfg.queue_max = 100000;
  temp_dir dir;
  auto opened = store::open_sqlite_store(dir.file("bench.db"), cfg, core::system_clock::instance());
  if (!opened) {
    state.SkipWithError(opened.error().to_string().c_str());
    return;
  }
  auto& s = **opened;
  std::vector<std::string> conversations;
  for (int i = 0; i < 64; ++i) {
    conversations.push_back(core::new_conversation_id());
    auto c = store::wait_for<store::conversation_row>([&](auto done) {
      s.create_conversation({conversations.back(), core::random_hex(16), 0}, done);
    });
    if (!c) {
      state.SkipWithError(c.error().to_string().c_str());
      return;
    }
  }

  // Appends per iteration: enough that start-up and drain are noise.
  const std::int64_t per_iteration = window_size > 1 ? 200000 : 200;
  window w(window_size);
  std::atomic<std::int64_t> acked{0};
  std::atomic<std::int64_t> failed{0};
  std::int64_t next = 0;
  const std::string text =
      "Hello, I ordered a pair of shoes last week and they have not arrived yet.";
  const store::store_stats before = s.stats();  // without the set-up writes
  const double cpu_before = process_cpu_seconds();
  for (auto _ : state) {
    for (std::int64_t i = 0; i < per_iteration; ++i, ++next) {
      w.acquire();
      store::new_message m;
      m.conversation_id = conversations[static_cast<std::size_t>(next % 64)];
      m.client_msg_id = "m" + std::to_string(next);
      m.text = text;
      s.append_message(std::move(m), [&](core::result<store::appended> r) {
        (r.ok() ? acked : failed).fetch_add(1, std::memory_order_relaxed);
        w.release();
      });
    }
    w.drain();
  }
  const double cpu = process_cpu_seconds() - cpu_before;
  const store::store_stats st = s.stats();
  s.close();
  if (failed.load() != 0) state.SkipWithError("some appends failed");
  state.SetItemsProcessed(acked.load());
  // CPU of every thread (producer, writer, checkpointer) per acknowledged
  // append: steadier than the rate when other processes share the cores.
  state.counters["cpu_us_per_append"] =
      acked.load() ? 1e6 * cpu / static_cast<double>(acked.load()) : 0;
  const auto batches = static_cast<double>(st.batches - before.batches);
  state.counters["batches"] = batches;
  state.counters["avg_batch"] =
      batches > 0 ? (st.batch_size_sum - before.batch_size_sum) / batches : 0;
  state.counters["avg_commit_ms"] =
      batches > 0 ? 1000 * (st.commit_seconds_sum - before.commit_seconds_sum) / batches : 0;
}

BENCHMARK(BM_acked_appends)
    ->ArgNames({"sync", "window", "batch"})
    ->Args({1, 20000, 1024})
    ->Args({0, 20000, 1024})
    ->Args({1, 20000, 4096})
    ->Args({1, 20000, 8192})
    ->Args({0, 20000, 8192})
    ->Args({1, 1, 1024})
    ->Args({0, 1, 1024})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
