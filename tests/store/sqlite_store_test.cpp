// The SQLite store through its public interface: writes with group commit,
// reads on the reader pool, validation, overload, close.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "bot/store/schema.hpp"
#include "bot/store/store.hpp"
#include "tests/store/temp_db.hpp"

using namespace bot;
using namespace bot::store;

namespace {

std::unique_ptr<store::store> open_store(const std::string& path,
                                         core::store_config cfg = test::test_config()) {
  auto s = open_sqlite_store(path, cfg, core::system_clock::instance());
  INFO((s.ok() ? std::string("ok") : s.error().to_string()));
  REQUIRE(s.ok());
  return std::move(s).value();
}

new_message msg(const std::string& conv, const std::string& cmid, const std::string& text,
                sender from = sender::visitor) {
  new_message m;
  m.conversation_id = conv;
  m.client_msg_id = cmid;
  m.from = from;
  m.text = text;
  return m;
}

core::result<conversation_row> create(store::store& s, const std::string& id, std::int64_t ts = 0) {
  return wait_for<conversation_row>([&](auto done) {
    s.create_conversation({id, "tok" + id, ts}, done);
  });
}

core::result<appended> append(store::store& s, new_message m) {
  return wait_for<appended>([&](auto done) { s.append_message(std::move(m), done); });
}

core::result<conversation_row> get(store::store& s, const std::string& id) {
  return wait_for<conversation_row>([&](auto done) { s.get_conversation(id, done); });
}

core::result<std::vector<message_row>> after(store::store& s, const std::string& id,
                                             std::int64_t seq, int limit = k_max_read_limit) {
  return wait_for<std::vector<message_row>>(
      [&](auto done) { s.messages_after(id, seq, limit, done); });
}

// Holds the writer thread inside a completion, so that the writes submitted
// meanwhile are committed together in the next batch.
class writer_gate {
 public:
  explicit writer_gate(store::store& s) {
    auto entered = std::make_shared<std::promise<void>>();
    auto entered_f = entered->get_future();
    auto open = open_.get_future().share();
    s.append_event({"gate", "", "", 0}, [entered, open](core::result<std::int64_t>) {
      entered->set_value();
      open.wait();
    });
    entered_f.wait();
  }
  writer_gate(const writer_gate&) = delete;
  writer_gate& operator=(const writer_gate&) = delete;
  ~writer_gate() { release(); }
  void release() {
    if (!released_) open_.set_value();
    released_ = true;
  }

 private:
  std::promise<void> open_;
  bool released_ = false;
};

}  // namespace

TEST_CASE("conversations are created and found by id and by token", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  CHECK(s->healthy());
  auto c = create(*s, "c_one", 1000);
  REQUIRE(c.ok());
  CHECK(c->id == "c_one");
  CHECK(c->state == "bot");
  CHECK(c->context_json == "{}");
  CHECK(c->last_seq == 0);
  CHECK(c->created_ms == 1000);

  auto g = get(*s, "c_one");
  REQUIRE(g.ok());
  CHECK(g->token_hash == "tokc_one");
  CHECK(g->updated_ms == 1000);

  auto t = wait_for<conversation_row>(
      [&](auto done) { s->find_conversation_by_token("tokc_one", done); });
  REQUIRE(t.ok());
  CHECK(t->id == "c_one");
  auto missing =
      wait_for<conversation_row>([&](auto done) { s->find_conversation_by_token("nope", done); });
  CHECK(missing.error().code() == core::errc::not_found);
  CHECK(get(*s, "c_two").error().code() == core::errc::not_found);

  // Same id, or another id with the same token: conflict.
  CHECK(create(*s, "c_one").error().code() == core::errc::conflict);
  auto same_token = wait_for<conversation_row>([&](auto done) {
    s->create_conversation({"c_x", "tokc_one", 0}, done);
  });
  CHECK(same_token.error().code() == core::errc::conflict);
  // A timestamp of 0 takes the clock's time.
  auto now = create(*s, "c_now");
  REQUIRE(now.ok());
  CHECK(now->created_ms > 1'600'000'000'000);
}

TEST_CASE("appends get gap-free seqs and messages_after returns them in order", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  REQUIRE(create(*s, "c1").ok());
  REQUIRE(create(*s, "c2").ok());
  for (int i = 1; i <= 10; ++i) {
    auto a = append(*s, msg("c1", "m" + std::to_string(i), "text " + std::to_string(i)));
    REQUIRE(a.ok());
    CHECK(a->seq == i);
    CHECK_FALSE(a->duplicate);
  }
  auto b = append(*s, msg("c2", "", "bot says hi", sender::bot));
  REQUIRE(b.ok());
  CHECK(b->seq == 1);
  new_message with_meta = msg("c1", "", "from the bot", sender::bot);
  with_meta.meta_json = R"({"source":{"kind":"intent","id":"x"}})";
  with_meta.ts_ms = 42;
  auto m = append(*s, with_meta);
  REQUIRE(m.ok());
  CHECK(m->seq == 11);
  CHECK(m->ts_ms == 42);

  auto all = after(*s, "c1", 0);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 11);
  for (std::size_t i = 0; i < all->size(); ++i)
    CHECK((*all)[i].seq == static_cast<std::int64_t>(i + 1));
  CHECK((*all)[0].client_msg_id == "m1");
  CHECK((*all)[0].from == "visitor");
  CHECK((*all)[0].text == "text 1");
  CHECK((*all)[10].from == "bot");
  CHECK((*all)[10].client_msg_id.empty());
  CHECK((*all)[10].meta_json == with_meta.meta_json);
  CHECK((*all)[10].ts_ms == 42);

  auto page = after(*s, "c1", 4, 3);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 3);
  CHECK((*page)[0].seq == 5);
  CHECK((*page)[2].seq == 7);
  auto tail = after(*s, "c1", 11);
  REQUIRE(tail.ok());
  CHECK(tail->empty());
  auto none = after(*s, "c_unknown", 0);
  REQUIRE(none.ok());
  CHECK(none->empty());

  CHECK(get(*s, "c1")->last_seq == 11);
  CHECK(get(*s, "c2")->last_seq == 1);
}

TEST_CASE("a repeated client_msg_id returns the first seq and stores nothing", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  REQUIRE(create(*s, "c1").ok());
  new_message first = msg("c1", "cm-1", "hello");
  first.ts_ms = 5000;
  auto a = append(*s, first);
  REQUIRE(a.ok());
  REQUIRE(append(*s, msg("c1", "cm-2", "second")).ok());

  new_message again = first;
  again.ts_ms = 9000;
  auto d = append(*s, again);
  REQUIRE(d.ok());
  CHECK(d->duplicate);
  CHECK(d->seq == a->seq);
  CHECK(d->ts_ms == 5000);

  auto other_text = append(*s, msg("c1", "cm-1", "something else"));
  CHECK(other_text.error().code() == core::errc::conflict);
  auto other_sender = append(*s, msg("c1", "cm-1", "hello", sender::agent));
  CHECK(other_sender.error().code() == core::errc::conflict);
  // The same client_msg_id in another conversation is another message.
  REQUIRE(create(*s, "c2").ok());
  auto elsewhere = append(*s, msg("c2", "cm-1", "hello"));
  REQUIRE(elsewhere.ok());
  CHECK_FALSE(elsewhere->duplicate);

  auto rows = after(*s, "c1", 0);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 2);
  CHECK(get(*s, "c1")->last_seq == 2);
  // The next append continues without a gap.
  CHECK(append(*s, msg("c1", "cm-3", "third"))->seq == 3);

  // Duplicates within one batch: the second completes with the first's seq.
  {
    writer_gate gate(*s);
    std::promise<core::result<appended>> p1, p2;
    s->append_message(msg("c1", "cm-4", "x"),
                      [&](core::result<appended> r) { p1.set_value(std::move(r)); });
    s->append_message(msg("c1", "cm-4", "x"),
                      [&](core::result<appended> r) { p2.set_value(std::move(r)); });
    gate.release();
    auto r1 = p1.get_future().get();
    auto r2 = p2.get_future().get();
    REQUIRE(r1.ok());
    REQUIRE(r2.ok());
    CHECK(r1->seq == 4);
    CHECK_FALSE(r1->duplicate);
    CHECK(r2->seq == 4);
    CHECK(r2->duplicate);
  }
  CHECK(after(*s, "c1", 0)->size() == 4);
}

TEST_CASE("a failed write fails alone and the rest of its batch commits", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  REQUIRE(create(*s, "c1").ok());
  REQUIRE(create(*s, "c2").ok());
  std::promise<core::result<appended>> p1, p2, p3, p4;
  store_stats before;
  {
    writer_gate gate(*s);
    before = s->stats();
    s->append_message(msg("c1", "a", "one"),
                      [&](core::result<appended> r) { p1.set_value(std::move(r)); });
    s->append_message(msg("c_missing", "b", "two"),
                      [&](core::result<appended> r) { p2.set_value(std::move(r)); });
    s->append_message(msg("c2", "c", "three"),
                      [&](core::result<appended> r) { p3.set_value(std::move(r)); });
    s->append_message(msg("c1", "d", "four"),
                      [&](core::result<appended> r) { p4.set_value(std::move(r)); });
    CHECK(s->stats().queue_depth == 4);
  }
  auto r1 = p1.get_future().get();
  auto r2 = p2.get_future().get();
  auto r3 = p3.get_future().get();
  auto r4 = p4.get_future().get();
  const store_stats after_stats = s->stats();
  // All four went in one batch.
  CHECK(after_stats.batches == before.batches + 1);
  CHECK(after_stats.batch_size_sum == before.batch_size_sum + 4);
  CHECK(after_stats.writes_failed == before.writes_failed + 1);
  REQUIRE(r1.ok());
  CHECK(r2.error().code() == core::errc::not_found);
  REQUIRE(r3.ok());
  REQUIRE(r4.ok());
  CHECK(r1->seq == 1);
  CHECK(r3->seq == 1);
  CHECK(r4->seq == 2);
  CHECK(after(*s, "c1", 0)->size() == 2);
  CHECK(after(*s, "c2", 0)->size() == 1);
  CHECK(get(*s, "c1")->last_seq == 2);
}

TEST_CASE("bad input is refused with invalid_argument", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  REQUIRE(create(*s, "c1").ok());
  auto refused = [&](new_message m) {
    auto r = append(*s, std::move(m));
    INFO(r.error().to_string());
    CHECK(r.error().code() == core::errc::invalid_argument);
    return r.error().message();
  };
  CHECK(refused(msg("", "x", "t")).find("conversation id") != std::string::npos);
  refused(msg("c 1", "x", "t"));
  refused(msg(std::string(65, 'c'), "x", "t"));
  CHECK(refused(msg("c1", "x", std::string(k_max_text_bytes + 1, 'a'))).find("longer") !=
        std::string::npos);
  CHECK(refused(msg("c1", "x", "bad \xc3\x28 utf8")).find("UTF-8") != std::string::npos);
  refused(msg("c1", "bad \xff id", "t"));
  refused(msg("c1", std::string(k_max_client_msg_id_bytes + 1, 'x'), "t"));
  auto bad_meta = msg("c1", "x", "t");
  bad_meta.meta_json = "[1,2]";
  CHECK(refused(bad_meta).find("meta_json") != std::string::npos);
  auto bad_sender = msg("c1", "x", "t");
  bad_sender.from = static_cast<sender>(17);
  refused(bad_sender);
  auto bad_ts = msg("c1", "x", "t");
  bad_ts.ts_ms = -5;
  refused(bad_ts);
  // The largest text is accepted.
  REQUIRE(append(*s, msg("c1", "big", std::string(k_max_text_bytes, 'a'))).ok());

  auto state =
      wait_done([&](auto done) { s->set_conversation_state("c1", "asleep", "", 0, done); });
  CHECK(state.code() == core::errc::invalid_argument);
  CHECK(state.message().find("asleep") != std::string::npos);
  auto ctx = wait_done([&](auto done) { s->set_conversation_context("c1", "not json", 0, done); });
  CHECK(ctx.code() == core::errc::invalid_argument);
  auto ev = wait_for<std::int64_t>([&](auto done) {
    s->append_event({"kind", "", "\"str\"", 0}, done);
  });
  CHECK(ev.error().code() == core::errc::invalid_argument);
  auto ev_kind = wait_for<std::int64_t>([&](auto done) { s->append_event({"", "", "", 0}, done); });
  CHECK(ev_kind.error().code() == core::errc::invalid_argument);
  auto limit = after(*s, "c1", 0, 0);
  CHECK(limit.error().code() == core::errc::invalid_argument);
  auto token = wait_for<conversation_row>([&](auto done) {
    s->create_conversation({"c9", "", 0}, done);
  });
  CHECK(token.error().code() == core::errc::invalid_argument);
  // Nothing of it was stored.
  CHECK(after(*s, "c1", 0)->size() == 1);
}

TEST_CASE("state and context changes are validated and stored", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  REQUIRE(create(*s, "c1", 100).ok());
  for (const auto state : k_states) {
    CHECK(is_valid_state(state));
    auto st = wait_done([&](auto done) {
      s->set_conversation_state("c1", std::string(state), "orders", 200, done);
    });
    REQUIRE(st.ok());
    auto g = get(*s, "c1");
    CHECK(g->state == state);
    CHECK(g->team == "orders");
    CHECK(g->updated_ms == 200);
  }
  CHECK_FALSE(is_valid_state("Bot"));
  CHECK_FALSE(is_valid_state(""));
  REQUIRE(
      wait_done([&](auto done) { s->set_conversation_state("c1", "bot", "", 300, done); }).ok());
  CHECK(get(*s, "c1")->team.empty());
  auto unknown =
      wait_done([&](auto done) { s->set_conversation_state("c_nope", "bot", "", 0, done); });
  CHECK(unknown.code() == core::errc::not_found);

  REQUIRE(wait_done([&](auto done) {
            s->set_conversation_context("c1", R"({"topic":"orders"})", 400, done);
          }).ok());
  CHECK(get(*s, "c1")->context_json == R"({"topic":"orders"})");
  REQUIRE(wait_done([&](auto done) { s->set_conversation_context("c1", "", 400, done); }).ok());
  CHECK(get(*s, "c1")->context_json == "{}");
  auto ctx_unknown =
      wait_done([&](auto done) { s->set_conversation_context("c_nope", "{}", 0, done); });
  CHECK(ctx_unknown.code() == core::errc::not_found);

  CHECK(sender_name(sender::visitor) == "visitor");
  CHECK(sender_name(sender::system) == "system");
}

TEST_CASE("events are appended with increasing ids", "[store]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  {
    auto s = open_store(path);
    REQUIRE(create(*s, "c1").ok());
    std::int64_t last = 0;
    for (int i = 0; i < 5; ++i) {
      auto id = wait_for<std::int64_t>([&](auto done) {
        s->append_event(
            {"decision", i % 2 == 0 ? "c1" : "", R"({"n":)" + std::to_string(i) + "}", 10 + i},
            done);
      });
      REQUIRE(id.ok());
      CHECK(*id > last);
      last = *id;
    }
  }
  auto d = sqlite::db::open(path, sqlite::open_mode::read_only);
  REQUIRE(d.ok());
  CHECK(*d->query_int("SELECT count(*) FROM events WHERE kind = 'decision'") == 5);
  CHECK(*d->query_int("SELECT count(*) FROM events WHERE conversation_id = 'c1'") == 3);
  CHECK(*d->query_int("SELECT count(*) FROM events WHERE conversation_id IS NULL") == 2);
  CHECK(*d->query_text("SELECT data_json FROM events ORDER BY id DESC LIMIT 1") == R"({"n":4})");
}

TEST_CASE("a full queue refuses writes with unavailable", "[store]") {
  test::temp_dir dir;
  auto cfg = test::test_config();
  cfg.queue_max = 4;
  auto s = open_store(dir.file("s.db"), cfg);
  REQUIRE(create(*s, "c1").ok());
  std::vector<std::future<core::result<appended>>> accepted;
  std::vector<std::shared_ptr<std::promise<core::result<appended>>>> promises;
  {
    writer_gate gate(*s);
    for (int i = 0; i < 4; ++i) {
      auto p = std::make_shared<std::promise<core::result<appended>>>();
      accepted.push_back(p->get_future());
      s->append_message(msg("c1", "q" + std::to_string(i), "t"),
                        [p](core::result<appended> r) { p->set_value(std::move(r)); });
    }
    // The fifth completes at once, on this thread.
    std::optional<core::result<appended>> refused;
    const auto me = std::this_thread::get_id();
    std::thread::id ran_on;
    s->append_message(msg("c1", "q4", "t"), [&](core::result<appended> r) {
      refused.emplace(std::move(r));
      ran_on = std::this_thread::get_id();
    });
    REQUIRE(refused.has_value());
    CHECK(ran_on == me);
    CHECK(refused->error().code() == core::errc::unavailable);
    CHECK(refused->error().message() == "store overloaded");
    CHECK(s->stats().queue_depth == 4);
  }
  for (auto& f : accepted) CHECK(f.get().ok());
  CHECK(after(*s, "c1", 0)->size() == 4);
}

TEST_CASE("close() commits everything queued and later calls are unavailable", "[store]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  const int n = 5000;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  {
    auto s = open_store(path);
    REQUIRE(create(*s, "c1").ok());
    for (int i = 0; i < n; ++i) {
      s->append_message(msg("c1", "m" + std::to_string(i), "t"),
                        [&](core::result<appended> r) { (r.ok() ? ok : failed).fetch_add(1); });
    }
    s->close();
    CHECK(ok.load() == n);
    CHECK(failed.load() == 0);
    CHECK_FALSE(s->healthy());
    s->close();  // idempotent
    auto late = append(*s, msg("c1", "late", "t"));
    CHECK(late.error().code() == core::errc::unavailable);
    auto late_read = get(*s, "c1");
    CHECK(late_read.error().code() == core::errc::unavailable);
    const store_stats st = s->stats();
    CHECK(st.writes_ok == static_cast<std::uint64_t>(n) + 1);
    CHECK(st.queue_depth == 0);
  }
  auto s = open_store(path);
  auto rows = after(*s, "c1", 0);
  REQUIRE(rows.ok());
  CHECK(rows->size() == static_cast<std::size_t>(n));
  CHECK(get(*s, "c1")->last_seq == n);
  CHECK(append(*s, msg("c1", "next", "t"))->seq == n + 1);
}

TEST_CASE("completions may issue further writes", "[store]") {
  test::temp_dir dir;
  auto s = open_store(dir.file("s.db"));
  REQUIRE(create(*s, "c1").ok());
  // The conversation pattern: ack the visitor's message, then append the
  // bot's reply from the completion.
  std::promise<core::result<appended>> reply;
  s->append_message(msg("c1", "v1", "hi"), [&](core::result<appended> r) {
    if (!r.ok()) {  // no Catch2 assertions off the test's thread
      reply.set_value(r.error());
      return;
    }
    s->append_message(msg("c1", "", "hello!", sender::bot),
                      [&](core::result<appended> r2) { reply.set_value(std::move(r2)); });
  });
  auto r = reply.get_future().get();
  REQUIRE(r.ok());
  CHECK(r->seq == 2);
}

TEST_CASE("concurrent appends from 8 threads keep every conversation gap-free", "[store]") {
  test::temp_dir dir;
  auto cfg = test::test_config();
  cfg.batch_max = 64;  // many batches
  auto s = open_store(dir.file("s.db"), cfg);
  const int threads = 8;
  const int per_thread = 600;
  const int conversations = 6;
  for (int c = 0; c < conversations; ++c) REQUIRE(create(*s, "c" + std::to_string(c)).ok());

  struct ack {
    int conv = -1;
    std::int64_t seq = 0;
    bool ok = false;
  };
  std::vector<std::vector<ack>> acks(threads, std::vector<ack>(per_thread));
  test::pending pending;
  pending.add(threads * per_thread);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int conv = (t + i) % conversations;
        ack* slot = &acks[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
        s->append_message(
            msg("c" + std::to_string(conv), "t" + std::to_string(t) + "-" + std::to_string(i),
                "text " + std::to_string(i)),
            [slot, conv, &pending](core::result<appended> r) {
              slot->conv = conv;
              slot->ok = r.ok() && !r->duplicate;
              slot->seq = r.ok() ? r->seq : -1;
              pending.done();
            });
      }
    });
  }
  for (auto& th : pool) th.join();
  REQUIRE(pending.wait());

  // Every append succeeded; per thread and conversation, seqs increase in
  // submission order.
  std::map<int, std::set<std::int64_t>> seqs;
  for (int t = 0; t < threads; ++t) {
    std::map<int, std::int64_t> last;
    for (int i = 0; i < per_thread; ++i) {
      const ack& a = acks[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
      REQUIRE(a.ok);
      CHECK(a.seq > last[a.conv]);
      last[a.conv] = a.seq;
      CHECK(seqs[a.conv].insert(a.seq).second);  // no seq handed out twice
    }
  }
  std::size_t total = 0;
  for (int c = 0; c < conversations; ++c) {
    const std::string id = "c" + std::to_string(c);
    auto rows = after(*s, id, 0);
    REQUIRE(rows.ok());
    total += rows->size();
    for (std::size_t i = 0; i < rows->size(); ++i) {
      REQUIRE((*rows)[i].seq == static_cast<std::int64_t>(i + 1));  // gap-free from 1
      // The row holds the message whose completion got this seq.
      const auto& cm = (*rows)[i].client_msg_id;
      const auto dash = cm.find('-');
      const int t = std::stoi(cm.substr(1, dash - 1));
      const int n = std::stoi(cm.substr(dash + 1));
      CHECK(acks[static_cast<std::size_t>(t)][static_cast<std::size_t>(n)].seq == (*rows)[i].seq);
      CHECK(acks[static_cast<std::size_t>(t)][static_cast<std::size_t>(n)].conv == c);
    }
    CHECK(get(*s, id)->last_seq == static_cast<std::int64_t>(rows->size()));
    CHECK(seqs[c].size() == rows->size());
  }
  CHECK(total == static_cast<std::size_t>(threads * per_thread));
  const store_stats st = s->stats();
  CHECK(st.batches > 1);
  std::uint64_t buckets = 0;
  for (auto b : st.batch_size_buckets) buckets += b;
  CHECK(buckets == st.batches);
  std::uint64_t commit_buckets = 0;
  for (auto b : st.commit_seconds_buckets) commit_buckets += b;
  CHECK(commit_buckets == st.batches);
}

TEST_CASE("reads see committed writes from the pool of read connections", "[store]") {
  test::temp_dir dir;
  auto cfg = test::test_config();
  cfg.read_connections = 3;
  auto s = open_store(dir.file("s.db"), cfg);
  REQUIRE(create(*s, "c1").ok());
  REQUIRE(append(*s, msg("c1", "a", "x")).ok());
  test::pending pending;
  std::atomic<int> good{0};
  const int n = 200;
  pending.add(n);
  for (int i = 0; i < n; ++i) {
    s->messages_after("c1", 0, 10, [&](core::result<std::vector<message_row>> r) {
      if (r.ok() && r->size() == 1) good.fetch_add(1);
      pending.done();
    });
  }
  REQUIRE(pending.wait());
  CHECK(good.load() == n);
}

TEST_CASE("a bad config is refused at open", "[store]") {
  test::temp_dir dir;
  auto cfg = test::test_config();
  cfg.batch_max = 0;
  auto s = open_sqlite_store(dir.file("s.db"), cfg, core::system_clock::instance());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message().find("store.batch_max") != std::string::npos);
  auto missing_dir = open_sqlite_store(dir.file("no/such/dir/s.db"), test::test_config(),
                                       core::system_clock::instance());
  REQUIRE_FALSE(missing_dir.ok());
}

namespace {

// The names of this process's threads (/proc/self/task/*/comm), with repeats.
std::multiset<std::string> thread_names() {
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

}  // namespace

TEST_CASE("the store's threads carry names that top -H and perf show", "[store]") {
  test::temp_dir dir;
  core::store_config cfg = test::test_config();
  cfg.read_connections = 3;
  auto s = open_store(dir.file("s.db"), cfg);
  // Each thread names itself when it starts.
  auto names = thread_names();
  for (int i = 0; i < 500 && names.count("sb-store-read") + names.count("sb-checkpoint") +
                                     names.count("sb-store-write") <
                                 5;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    names = thread_names();
  }
  CHECK(names.count("sb-store-write") == 1);
  CHECK(names.count("sb-checkpoint") == 1);
  CHECK(names.count("sb-store-read") == 3);
  s->close();
  CHECK(thread_names().count("sb-store-write") == 0);
}
