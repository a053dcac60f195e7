// The child of the crash test: opens the store at argv[1] and appends until
// it is killed. Every acknowledged append prints one line
//   ACK <conversation_id> <seq> <client_msg_id>
// from its completion, i.e. only after COMMIT returned, and flushes it.
// Usage: store_crash_child DB RUN
//   RUN (a number) makes the client_msg_ids and the new conversation of
//   this run unique; conversations k0..k5 are shared by every run.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bot/core/log.hpp"
#include "bot/store/store.hpp"

using namespace bot;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_crash_child DB RUN\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::string run = argv[2];
  core::log::set_level(core::log::level::warn);
  core::store_config cfg;  // synchronous = full
  cfg.batch_max = 256;
  auto opened = store::open_sqlite_store(path, cfg, core::system_clock::instance());
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  auto& s = **opened;

  // Existing conversations continue; one new conversation per run.
  std::vector<std::string> conversations;
  for (int k = 0; k < 6; ++k) conversations.push_back("k" + std::to_string(k));
  conversations.push_back("r" + run);
  for (const auto& id : conversations) {
    auto c = store::wait_for<store::conversation_row>([&](auto done) {
      s.create_conversation({id, "tok" + id, 0}, done);
    });
    if (!c && c.error().code() != core::errc::conflict) {
      std::fprintf(stderr, "create %s: %s\n", id.c_str(), c.error().to_string().c_str());
      return 1;
    }
  }
  std::printf("READY\n");
  std::fflush(stdout);

  constexpr int k_in_flight = 400;
  std::atomic<int> in_flight{0};
  for (std::uint64_t i = 0;; ++i) {
    while (in_flight.load() >= k_in_flight)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    // Every 16th append repeats an earlier one (same text): its ack names
    // the first row.
    const std::uint64_t n = (i % 16 == 15 && i > 64) ? i - 37 : i;
    const std::string& conv = conversations[n % conversations.size()];
    store::new_message m;
    m.conversation_id = conv;
    m.client_msg_id = run + "-" + std::to_string(n);
    m.text = "message " + std::to_string(n) + " of run " + run;
    in_flight.fetch_add(1);
    s.append_message(std::move(m), [&in_flight, conv, cmid = run + "-" + std::to_string(n)](
                                       core::result<store::appended> r) {
      if (r.ok()) {
        std::printf("ACK %s %lld %s\n", conv.c_str(), static_cast<long long>(r->seq), cmid.c_str());
      } else {
        std::printf("ERR %s %s\n", conv.c_str(), r.error().to_string().c_str());
      }
      std::fflush(stdout);
      in_flight.fetch_sub(1);
    });
  }
}
