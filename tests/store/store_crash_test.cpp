// Crash safety: an acknowledged append survives SIGKILL of the writer's
// process at any moment. A child (store_crash_child) appends and prints an
// ACK line per commit-acknowledged append; we kill it at a random moment,
// reopen the database and check every ACK, the integrity of the file, and
// that every conversation's seqs are still gap-free. Repeated on one file.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bot/store/schema.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"
#include "tests/store/temp_db.hpp"

#ifndef STORE_CRASH_CHILD_PATH
#error "STORE_CRASH_CHILD_PATH must name the store_crash_child executable"
#endif

using namespace bot;
using namespace bot::store;

namespace {

struct ack_line {
  std::string conversation_id;
  std::int64_t seq = 0;
  std::string client_msg_id;
};

struct child_run {
  std::vector<ack_line> acks;
  std::vector<std::string> errors;  // ERR lines and malformed lines
  bool ready = false;
  int exit_signal = 0;
};

using steady = std::chrono::steady_clock;

// Reads what is available from `fd` until `deadline` (or EOF), appending to
// `buffer`. Returns false at EOF.
bool pump(int fd, std::string& buffer, steady::time_point deadline) {
  char chunk[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return true;  // deadline
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EOF (or error: treated the same)
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

// Parses the complete lines of `buffer`; an unterminated last line (the
// child was killed while writing it) is ignored.
void parse_lines(const std::string& buffer, child_run& out) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    const std::string line = buffer.substr(start, nl - start);
    start = nl + 1;
    if (line == "READY") {
      out.ready = true;
      continue;
    }
    std::istringstream in(line);
    std::string word;
    ack_line a;
    if (in >> word && word == "ACK" && in >> a.conversation_id >> a.seq >> a.client_msg_id) {
      out.acks.push_back(std::move(a));
    } else {
      out.errors.push_back(line);
    }
  }
}

// Starts the child, kills it with SIGKILL `delay` after it printed READY (or
// after it started, when `before_ready`), and collects its output.
child_run run_child(const std::string& db_path, int run, std::chrono::milliseconds delay,
                    bool before_ready) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string run_text = std::to_string(run);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const char* argv[] = {STORE_CRASH_CHILD_PATH, db_path.c_str(), run_text.c_str(), nullptr};
    ::execv(STORE_CRASH_CHILD_PATH, const_cast<char* const*>(argv));  // NOLINT: execv's signature
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string buffer;
  bool open = true;
  child_run out;
  if (!before_ready) {
    const auto ready_deadline = steady::now() + std::chrono::seconds(20);
    while (open && buffer.find("READY\n") == std::string::npos && steady::now() < ready_deadline) {
      open = pump(fds[0], buffer,
                  std::min(ready_deadline, steady::now() + std::chrono::milliseconds(10)));
    }
  }
  const auto kill_at = steady::now() + delay;
  while (open && steady::now() < kill_at) open = pump(fds[0], buffer, kill_at);
  ::kill(pid, SIGKILL);
  while (open) open = pump(fds[0], buffer, steady::now() + std::chrono::seconds(10));
  ::close(fds[0]);
  int wstatus = 0;
  REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
  if (WIFSIGNALED(wstatus)) out.exit_signal = WTERMSIG(wstatus);
  parse_lines(buffer, out);
  return out;
}

// Opens the file as a new process would after the crash (recovering the
// WAL) and checks it. Returns the number of messages.
std::int64_t check_database(const std::string& path, const std::vector<ack_line>& acks) {
  auto d = sqlite::db::open(path, sqlite::open_mode::read_write);
  REQUIRE(d.ok());
  d->set_busy_timeout(5000);
  auto integrity = d->query_text("PRAGMA integrity_check");
  REQUIRE(integrity.ok());
  REQUIRE(*integrity == "ok");
  auto fk = d->query_text("PRAGMA foreign_key_check");
  REQUIRE(fk.error().code() == core::errc::not_found);  // no violation
  auto version = d->query_int("PRAGMA user_version");
  if (version.ok() && *version == 0) return 0;  // killed before the first migration committed

  // Gap-free: per conversation, seqs are exactly 1..count.
  auto per_conv = d->prepare(
      "SELECT c.id, count(m.seq), coalesce(min(m.seq), 1), coalesce(max(m.seq), 0) "
      "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id");
  REQUIRE(per_conv.ok());
  std::int64_t total = 0;
  for (;;) {
    auto r = per_conv->step();
    REQUIRE(r.ok());
    if (*r == sqlite::step_result::done) break;
    INFO("conversation " << per_conv->column_text(0));
    const std::int64_t count = per_conv->column_int64(1);
    CHECK(per_conv->column_int64(2) == 1);
    CHECK(per_conv->column_int64(3) == count);
    total += count;
  }

  auto row =
      d->prepare("SELECT client_msg_id FROM messages WHERE conversation_id = ?1 AND seq = ?2");
  REQUIRE(row.ok());
  std::size_t missing = 0;
  for (const ack_line& a : acks) {
    // Plain checks in this loop: one Catch2 assertion per ack is slow.
    row->reset();
    const bool bound =
        row->bind(1, std::string_view(a.conversation_id)).ok() && row->bind(2, a.seq).ok();
    auto r = row->step();
    if (!bound || !r.ok()) FAIL("query failed: " << r.error().to_string());
    if (*r != sqlite::step_result::row || row->column_text(0) != a.client_msg_id) {
      if (++missing <= 10) {
        UNSCOPED_INFO("acked but not stored: " << a.conversation_id << " " << a.seq << " "
                                               << a.client_msg_id);
      }
    }
  }
  CHECK(missing == 0);
  return total;
}

}  // namespace

TEST_CASE("every acked append survives SIGKILL of the writer process", "[store][crash]") {
  test::temp_dir dir;
  const std::string path = dir.file("crash.db");
  std::random_device rd;
  std::mt19937 gen(rd());
  std::uniform_int_distribution<int> delay_ms(5, 80);
  std::uniform_int_distribution<int> early_ms(0, 5);
  std::uniform_int_distribution<int> percent(0, 99);

  const int runs = 60;
  std::vector<ack_line> all_acks;
  int runs_with_acks = 0;
  std::int64_t messages = 0;
  for (int run = 0; run < runs; ++run) {
    // Mostly killed while appending; sometimes while opening/migrating.
    const bool early = run > 0 && percent(gen) < 10;
    const auto delay = std::chrono::milliseconds(early ? early_ms(gen) : delay_ms(gen));
    child_run c = run_child(path, run, delay, early);
    INFO("run " << run << " delay " << delay.count() << "ms early " << early << " acks "
                << c.acks.size());
    CHECK(c.exit_signal == SIGKILL);
    for (const auto& e : c.errors) UNSCOPED_INFO("child: " << e);
    CHECK(c.errors.empty());
    if (!early) REQUIRE(c.ready);
    if (!c.acks.empty()) ++runs_with_acks;
    all_acks.insert(all_acks.end(), c.acks.begin(), c.acks.end());
    const std::int64_t now = check_database(path, c.acks);
    CHECK(now >= messages);  // nothing committed is ever lost
    messages = now;
  }
  // The kills landed while appends were in flight, not only before.
  CHECK(runs_with_acks >= runs / 2);
  // Every ack of every run is still there at the end.
  CHECK(check_database(path, all_acks) == messages);
  CHECK(messages > 0);

  // And the store opens and continues where the last run stopped.
  auto s = open_sqlite_store(path, core::store_config{}, core::system_clock::instance());
  REQUIRE(s.ok());
  auto conv = wait_for<conversation_row>([&](auto done) { (*s)->get_conversation("k0", done); });
  REQUIRE(conv.ok());
  new_message m;
  m.conversation_id = "k0";
  m.client_msg_id = "after-crashes";
  m.text = "still here";
  auto a = wait_for<appended>([&](auto done) { (*s)->append_message(std::move(m), done); });
  REQUIRE(a.ok());
  CHECK(a->seq == conv->last_seq + 1);
}
