// The store's turn, feedback and survey writes: a visitor message with its
// replies, context and state in one transaction; duplicates write nothing.
#include <catch2/catch.hpp>

#include "bot/store/schema.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"
#include "tests/store/temp_db.hpp"

using namespace bot;
using namespace bot::store;

namespace {

struct fixture {
  test::temp_dir dir;
  std::string path = dir.file("t.db");
  std::unique_ptr<store::store> db;

  fixture() {
    auto s = open_sqlite_store(path, test::test_config(), core::system_clock::instance());
    REQUIRE(s.ok());
    db = std::move(s).value();
    auto c = wait_for<conversation_row>([&](auto done) {
      db->create_conversation({"c1", "h1", 1}, done);
    });
    REQUIRE(c.ok());
  }

  core::result<turn_appended> turn(new_turn t) {
    return wait_for<turn_appended>([&](auto done) { db->append_turn(std::move(t), done); });
  }
  std::vector<message_row> messages() {
    auto r = wait_for<std::vector<message_row>>(
        [&](auto done) { db->messages_after("c1", 0, 100, done); });
    REQUIRE(r.ok());
    return r.value();
  }
  conversation_row row() {
    auto r = wait_for<conversation_row>([&](auto done) { db->get_conversation("c1", done); });
    REQUIRE(r.ok());
    return r.value();
  }
};

new_message visitor(const std::string& cmid, const std::string& text) {
  new_message m;
  m.conversation_id = "c1";
  m.client_msg_id = cmid;
  m.from = sender::visitor;
  m.text = text;
  return m;
}

new_message bot_reply(const std::string& text) {
  new_message m;
  m.conversation_id = "c1";
  m.from = sender::bot;
  m.text = text;
  m.meta_json = R"({"source":{"kind":"intent","id":"x","confidence":1}})";
  return m;
}

new_turn exchange(const std::string& cmid, const std::string& text, const std::string& reply) {
  new_turn t;
  t.visitor = visitor(cmid, text);
  t.replies.push_back(bot_reply(reply));
  t.context_json = R"({"turns":1})";
  t.events.push_back({"decision", "c1", R"({"kind":"answer"})", 0});
  return t;
}

}  // namespace

TEST_CASE("a turn stores the visitor message then its replies with consecutive seqs") {
  fixture f;
  auto a = f.turn(exchange("m1", "hello", "hi there"));
  REQUIRE(a.ok());
  CHECK(a.value().visitor.seq == 1);
  CHECK_FALSE(a.value().visitor.duplicate);
  REQUIRE(a.value().replies.size() == 1);
  CHECK(a.value().replies[0].seq == 2);
  auto b = f.turn(exchange("m2", "where is my order", "here"));
  REQUIRE(b.ok());
  CHECK(b.value().visitor.seq == 3);
  CHECK(b.value().replies[0].seq == 4);
  const auto rows = f.messages();
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].from == "visitor");
  CHECK(rows[0].client_msg_id == "m1");
  CHECK(rows[1].from == "bot");
  CHECK(rows[1].text == "hi there");
  CHECK(rows[1].meta_json.find("\"intent\"") != std::string::npos);
  CHECK(f.row().last_seq == 4);
  CHECK(f.row().context_json == R"({"turns":1})");
}

TEST_CASE("a repeated turn is a duplicate and writes no reply context or state") {
  fixture f;
  REQUIRE(f.turn(exchange("m1", "hello", "hi")).ok());
  new_turn again = exchange("m1", "hello", "a second reply");
  again.context_json = R"({"changed":true})";
  again.state = state_change{"queued", "billing"};
  auto r = f.turn(std::move(again));
  REQUIRE(r.ok());
  CHECK(r.value().visitor.duplicate);
  CHECK(r.value().visitor.seq == 1);
  CHECK(r.value().replies.empty());
  CHECK(f.messages().size() == 2);
  const auto row = f.row();
  CHECK(row.state == "bot");
  CHECK(row.context_json == R"({"turns":1})");
  // The next new message continues without a gap.
  auto n = f.turn(exchange("m2", "next", "ok"));
  REQUIRE(n.ok());
  CHECK(n.value().visitor.seq == 3);
}

TEST_CASE("a repeated client_msg_id with another text fails the turn with conflict") {
  fixture f;
  REQUIRE(f.turn(exchange("m1", "hello", "hi")).ok());
  auto r = f.turn(exchange("m1", "something else", "x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == core::errc::conflict);
  CHECK(f.messages().size() == 2);
}

TEST_CASE("a turn that fails part way leaves nothing and no seq gap") {
  fixture f;
  new_turn bad = exchange("m1", "hello", "hi");
  bad.state = state_change{"queued", "general"};
  // An event naming another conversation is refused before anything is queued.
  bad.events.push_back({"handoff", "c2", "", 0});
  auto r = f.turn(std::move(bad));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == core::errc::invalid_argument);
  // A turn for a missing conversation fails inside the transaction.
  new_turn missing;
  missing.visitor = visitor("m1", "x");
  missing.visitor->conversation_id = "nope";
  auto m = f.turn(std::move(missing));
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().code() == core::errc::not_found);
  CHECK(f.messages().empty());
  auto ok = f.turn(exchange("m1", "hello", "hi"));
  REQUIRE(ok.ok());
  CHECK(ok.value().visitor.seq == 1);
  CHECK(ok.value().replies[0].seq == 2);
}

TEST_CASE("a turn changes state and team and a turn without a visitor message closes") {
  fixture f;
  new_turn t = exchange("m1", "a human please", "connecting you");
  t.state = state_change{"queued", "billing"};
  REQUIRE(f.turn(std::move(t)).ok());
  CHECK(f.row().state == "queued");
  CHECK(f.row().team == "billing");
  new_turn close;
  close.conversation_id = "c1";
  close.state = state_change{"closed", ""};
  close.events.push_back({"closed", "c1", R"({"by":"visitor"})", 0});
  auto r = f.turn(std::move(close));
  REQUIRE(r.ok());
  CHECK(r.value().visitor.seq == 0);
  CHECK(f.row().state == "closed");
  CHECK(f.row().team.empty());
  CHECK(f.messages().size() == 2);
}

TEST_CASE("feedback is recorded for bot messages only and a second rating replaces the first") {
  fixture f;
  REQUIRE(f.turn(exchange("m1", "hello", "hi")).ok());
  const auto rate = [&](std::int64_t seq, bool helpful) {
    return wait_done([&](auto done) { f.db->record_feedback("c1", seq, helpful, 0, done); });
  };
  CHECK(rate(2, true).ok());
  CHECK(rate(2, false).ok());
  const auto visitor_seq = rate(1, true);
  REQUIRE_FALSE(visitor_seq.ok());
  CHECK(visitor_seq.code() == core::errc::not_found);
  CHECK(rate(99, true).code() == core::errc::not_found);
  CHECK(rate(0, true).code() == core::errc::invalid_argument);
  f.db->close();
  auto d = sqlite::db::open(f.path, sqlite::open_mode::read_only);
  REQUIRE(d.ok());
  auto s = d.value().prepare("SELECT seq, helpful FROM feedback WHERE conversation_id = 'c1'");
  REQUIRE(s.ok());
  auto step = s.value().step();
  REQUIRE(step.ok());
  REQUIRE(step.value() == sqlite::step_result::row);
  CHECK(s.value().column_int64(0) == 2);
  CHECK(s.value().column_int64(1) == 0);
  CHECK(s.value().step().value() == sqlite::step_result::done);
}

TEST_CASE("surveys are stored with their comment and csat outside 1 to 5 is refused") {
  fixture f;
  const auto survey = [&](int csat, std::string comment) {
    return wait_for<std::int64_t>(
        [&](auto done) { f.db->record_survey("c1", csat, std::move(comment), 0, done); });
  };
  auto ok = survey(5, "quick and friendly");
  REQUIRE(ok.ok());
  CHECK(ok.value() > 0);
  // One per close: a second one before the conversation changes is refused.
  CHECK(survey(1, "again").error().code() == core::errc::conflict);
  CHECK(survey(0, "").error().code() == core::errc::invalid_argument);
  CHECK(survey(6, "").error().code() == core::errc::invalid_argument);
  CHECK(survey(3, std::string(k_max_comment_bytes + 1, 'x')).error().code() ==
        core::errc::invalid_argument);
  auto unknown =
      wait_for<std::int64_t>([&](auto done) { f.db->record_survey("c9", 4, "", 0, done); });
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == core::errc::not_found);
  f.db->close();
  auto d = sqlite::db::open(f.path, sqlite::open_mode::read_only);
  REQUIRE(d.ok());
  auto s = d.value().prepare("SELECT csat, comment FROM surveys");
  REQUIRE(s.ok());
  REQUIRE(s.value().step().value() == sqlite::step_result::row);
  CHECK(s.value().column_int64(0) == 5);
  CHECK(s.value().column_text(1) == "quick and friendly");
  CHECK(s.value().step().value() == sqlite::step_result::done);
}

// A turn writes its conversation's last_seq with its context (one UPDATE);
// the batch's flush writes it for the rest. Whatever mix shares a batch
// (turns with context, turns that fail after their context update, plain
// appends without one), the row's last_seq is the last message's seq, and a
// reopened store goes on from there.
TEST_CASE("last_seq follows the messages whatever shares a batch") {
  fixture f;
  test::pending wait;
  std::mutex mu;
  int ok = 0, failed = 0;
  const auto count = [&](bool good) {
    std::lock_guard lk(mu);
    (good ? ok : failed) += 1;
  };
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 60; ++i) {
      const std::string n = std::to_string(round) + "-" + std::to_string(i);
      wait.add();
      if (i % 4 == 0) {
        f.db->append_turn(exchange("g" + n, "question", "answer"),
                          [&](core::result<turn_appended> r) {
                            count(r.ok());
                            wait.done();
                          });
      } else if (i % 4 == 1) {
        // Fails after its messages and context are written: no such agent.
        // The two plain appends after it bring the seq to what it wrote.
        new_turn bad = exchange("b" + n, "question", "answer");
        bad.assign_agent = 999999;
        f.db->append_turn(std::move(bad), [&](core::result<turn_appended> r) {
          count(r.ok());
          wait.done();
        });
      } else {
        f.db->append_message(visitor("v" + n, "no context"), [&](core::result<appended> r) {
          count(r.ok());
          wait.done();
        });
      }
    }
    REQUIRE(wait.wait());
  }
  CHECK(ok == 225);
  CHECK(failed == 75);
  auto rows = wait_for<std::vector<message_row>>(
      [&](auto done) { f.db->messages_after("c1", 0, 1000, done); });
  REQUIRE(rows.ok());
  REQUIRE(rows.value().size() == 300);  // 75 turns of 2 and 150 plain messages
  for (std::size_t i = 0; i < rows.value().size(); ++i) {
    CHECK(rows.value()[i].seq == std::int64_t(i) + 1);
  }
  CHECK(f.row().last_seq == 300);

  f.db->close();
  auto reopened = open_sqlite_store(f.path, test::test_config(), core::system_clock::instance());
  REQUIRE(reopened.ok());
  f.db = std::move(reopened).value();
  CHECK(f.row().last_seq == 300);
  auto next = f.turn(exchange("after", "again", "yes"));
  REQUIRE(next.ok());
  CHECK(next.value().visitor.seq == 301);
}

// Since schema v2 no index has client_msg_id: the writer keeps a hash of
// each conversation's ids and reads the rows only for a possible repeat.
TEST_CASE("a turn that fails inside the transaction forgets its client_msg_id") {
  fixture f;
  REQUIRE(f.turn(exchange("m1", "hello", "hi")).ok());
  // The visitor message is written, then the assignment fails (no agent 99):
  // the savepoint undoes the row, so m2 is new the next time.
  new_turn bad = exchange("m2", "I want a person", "one moment");
  bad.assign_agent = 99;
  auto r = f.turn(std::move(bad));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == core::errc::not_found);
  auto again = f.turn(exchange("m2", "I want a person", "one moment"));
  REQUIRE(again.ok());
  CHECK_FALSE(again.value().visitor.duplicate);
  CHECK(again.value().visitor.seq == 3);
  auto repeat = f.turn(exchange("m2", "I want a person", "one moment"));
  REQUIRE(repeat.ok());
  CHECK(repeat.value().visitor.duplicate);
  CHECK(repeat.value().visitor.seq == 3);
  CHECK(f.messages().size() == 4);
}

TEST_CASE("a repeated client_msg_id is found in a long conversation after a reopen") {
  fixture f;
  for (int i = 0; i < 300; ++i) {
    REQUIRE(
        f.turn(exchange("m" + std::to_string(i), "question " + std::to_string(i), "answer")).ok());
  }
  f.db->close();
  auto reopened = open_sqlite_store(f.path, test::test_config(), core::system_clock::instance());
  REQUIRE(reopened.ok());
  f.db = std::move(reopened).value();
  // The first of 300, the middle one and the last: each answered with its
  // first seq, and nothing stored.
  for (int i : {0, 150, 299}) {
    INFO(i);
    auto r = f.turn(exchange("m" + std::to_string(i), "question " + std::to_string(i), "answer"));
    REQUIRE(r.ok());
    CHECK(r.value().visitor.duplicate);
    CHECK(r.value().visitor.seq == 2 * i + 1);
    CHECK(r.value().replies.empty());
  }
  auto other = f.turn(exchange("m150", "another text", "answer"));
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code() == core::errc::conflict);
  auto next = f.turn(exchange("m300", "question 300", "answer"));
  REQUIRE(next.ok());
  CHECK_FALSE(next.value().visitor.duplicate);
  CHECK(next.value().visitor.seq == 601);
  auto all = wait_for<std::vector<message_row>>(
      [&](auto done) { f.db->messages_after("c1", 0, k_max_read_limit, done); });
  REQUIRE(all.ok());
  CHECK(all.value().size() == 602);
}

TEST_CASE("a client_msg_id another process stored is a repeat for the store") {
  fixture f;
  REQUIRE(f.turn(exchange("m1", "hello", "hi")).ok());
  {
    // Another writer (a CLI command beside the server, say) appends to c1.
    auto other = sqlite::db::open(f.path, sqlite::open_mode::read_write);
    REQUIRE(other.ok());
    other->set_busy_timeout(5000);
    REQUIRE(other
                ->exec("INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, "
                       "ts_ms) VALUES ('c1', 3, 'ext', 'visitor', 'from elsewhere', 5)")
                .ok());
  }
  auto r = f.turn(exchange("ext", "from elsewhere", "reply"));
  REQUIRE(r.ok());
  CHECK(r.value().visitor.duplicate);
  CHECK(r.value().visitor.seq == 3);
  auto next = f.turn(exchange("m2", "and now", "reply"));
  REQUIRE(next.ok());
  CHECK(next.value().visitor.seq == 4);
}

TEST_CASE("a turn writes no conversations row: its context goes on its last message") {
  fixture f;
  const auto stored_row = [&] {
    auto d = sqlite::db::open(f.path, sqlite::open_mode::read_only);
    REQUIRE(d.ok());
    auto t = d->query_text("SELECT context_json || '|' || updated_ms FROM conversations WHERE id = 'c1'");
    REQUIRE(t.ok());
    return t.value();
  };
  const std::string before = stored_row();
  new_turn t = exchange("m1", "hello", "hi");
  t.ts_ms = 50;
  t.visitor->ts_ms = 50;
  t.replies[0].ts_ms = 51;
  t.context_json = R"({"turns":1})";
  REQUIRE(f.turn(t).ok());
  CHECK(stored_row() == before);
  // The row the store reads back is the conversation's as of its messages.
  CHECK(f.row().context_json == R"({"turns":1})");
  CHECK(f.row().last_seq == 2);
  CHECK(f.row().updated_ms == 51);
  {
    auto d = sqlite::db::open(f.path, sqlite::open_mode::read_only);
    REQUIRE(d.ok());
    CHECK(d->query_int("SELECT count(*) FROM messages WHERE context_json IS NOT NULL").value() == 1);
    CHECK(d->query_text("SELECT context_json FROM messages WHERE seq = 2").value() == R"({"turns":1})");
  }

  // A turn without a context keeps the last one; a turn with only a visitor
  // message puts its context there.
  new_turn quiet = exchange("m2", "ok", "fine");
  quiet.context_json.reset();
  REQUIRE(f.turn(quiet).ok());
  CHECK(f.row().context_json == R"({"turns":1})");
  CHECK(f.row().last_seq == 4);
  new_turn lone;
  lone.visitor = visitor("m3", "anyone?");
  lone.context_json = R"({"turns":3})";
  REQUIRE(f.turn(lone).ok());
  CHECK(f.row().context_json == R"({"turns":3})");
  CHECK(f.row().last_seq == 5);
  CHECK(stored_row() == before);
}

TEST_CASE("a context set apart from a turn goes on the last message, or on the row before any") {
  fixture f;
  const auto set = [&](const std::string& ctx, std::int64_t ts = 70) {
    return wait_done([&](auto done) { f.db->set_conversation_context("c1", ctx, ts, done); });
  };
  REQUIRE(set(R"({"early":true})").ok());
  CHECK(f.row().context_json == R"({"early":true})");
  REQUIRE(f.turn(exchange("m1", "hello", "hi")).ok());
  CHECK(f.row().context_json == R"({"turns":1})");
  // Newer than the turn's: it replaces the context after the last message,
  // and is a change of the conversation's row.
  REQUIRE(set(R"({"later":true})", 90).ok());
  CHECK(f.row().context_json == R"({"later":true})");
  {
    auto d = sqlite::db::open(f.path, sqlite::open_mode::read_only);
    REQUIRE(d.ok());
    CHECK(d->query_int("SELECT updated_ms FROM conversations WHERE id = 'c1'").value() == 90);
  }
  REQUIRE(f.turn(exchange("m2", "again", "yes")).ok());
  CHECK(f.row().context_json == R"({"turns":1})");
  auto missing = wait_done(
      [&](auto done) { f.db->set_conversation_context("nope", "{}", 70, done); });
  CHECK(missing.code() == core::errc::not_found);
}

TEST_CASE("a v2 conversation keeps its context and last seq through the v3 migration") {
  test::temp_dir dir;
  const std::string path = dir.file("v2.db");
  {
    auto opened = sqlite::db::open(path, sqlite::open_mode::read_write_create);
    REQUIRE(opened.ok());
    sqlite::db d = std::move(opened).value();
    REQUIRE(d.query_text("PRAGMA journal_mode = WAL").ok());
    REQUIRE(migrate(d, 2).ok());
    REQUIRE(d.exec(R"sql(
INSERT INTO conversations (id, token_hash, context_json, last_seq, created_ms, updated_ms)
  VALUES ('c1', 'h1', '{"topic":"orders"}', 2, 1, 9);
INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, ts_ms) VALUES
  ('c1', 1, 'm1', 'visitor', 'where is my order?', 3),
  ('c1', 2, NULL, 'bot', 'It ships in 2 days.', 4);
)sql")
                .ok());
  }
  auto s = open_sqlite_store(path, test::test_config(), core::system_clock::instance());
  REQUIRE(s.ok());
  auto& db = *s.value();
  const auto row = [&] {
    auto r = wait_for<conversation_row>([&](auto done) { db.get_conversation("c1", done); });
    REQUIRE(r.ok());
    return r.value();
  };
  CHECK(row().context_json == R"({"topic":"orders"})");
  CHECK(row().last_seq == 2);
  CHECK(row().updated_ms == 9);
  {
    // The migration put the context on the newest message, and only there.
    auto d = sqlite::db::open(path, sqlite::open_mode::read_only);
    REQUIRE(d.ok());
    CHECK(d->query_text("SELECT group_concat(seq || ':' || coalesce(context_json, '-'), ' ') FROM "
                        "(SELECT seq, context_json FROM messages ORDER BY seq)")
              .value() == R"(1:- 2:{"topic":"orders"})");
    CHECK(d->query_int("SELECT count(*) FROM pragma_table_info('conversations') WHERE name = 'last_seq'")
              .value() == 0);
  }
  auto again = wait_for<turn_appended>(
      [&](auto done) { db.append_turn(exchange("m1", "where is my order?", "x"), done); });
  REQUIRE(again.ok());
  CHECK(again.value().visitor.duplicate);  // v2's client_msg_ids still count
  auto next = wait_for<turn_appended>([&](auto done) { db.append_turn(exchange("m2", "thanks", "np"), done); });
  REQUIRE(next.ok());
  CHECK(next.value().visitor.seq == 3);
  CHECK(row().context_json == R"({"turns":1})");
  CHECK(row().last_seq == 4);
}
