// Schema, migrations and connection settings.
#include "bot/store/schema.hpp"

#include <catch2/catch.hpp>

#include "bot/store/store.hpp"
#include "tests/store/temp_db.hpp"

using namespace bot;
using namespace bot::store;

namespace {

std::int64_t int_of(sqlite::db& d, const std::string& sql) {
  auto v = d.query_int(sql);
  INFO(sql);
  REQUIRE(v.ok());
  return *v;
}

std::string text_of(sqlite::db& d, const std::string& sql) {
  auto v = d.query_text(sql);
  INFO(sql);
  REQUIRE(v.ok());
  return *v;
}

}  // namespace

TEST_CASE("a new database is migrated to the current version with WAL and foreign keys",
          "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  auto w = open_write_connection(path, test::test_config());
  REQUIRE(w.ok());
  CHECK(current_schema_version() == 3);
  CHECK(int_of(*w, "PRAGMA user_version") == current_schema_version());
  CHECK(int_of(*w, "PRAGMA application_id") == k_application_id);
  CHECK(text_of(*w, "PRAGMA journal_mode") == "wal");
  CHECK(int_of(*w, "PRAGMA foreign_keys") == 1);
  CHECK(int_of(*w, "PRAGMA synchronous") == 2);  // FULL
  CHECK(int_of(*w, "PRAGMA busy_timeout") == 5000);
  CHECK(text_of(*w, "PRAGMA integrity_check") == "ok");

  for (const char* table :
       {"conversations", "messages", "agents", "agent_teams", "agent_sessions", "queue_entries",
        "assignments", "notes", "tickets", "feedback", "surveys", "events"}) {
    INFO(table);
    CHECK(int_of(*w, std::string(
                         "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '") +
                         table + "'") == 1);
  }

  // A second connection sees WAL (persistent) and the schema.
  auto r = open_read_connection(path, test::test_config());
  REQUIRE(r.ok());
  CHECK(text_of(*r, "PRAGMA journal_mode") == "wal");
  CHECK(int_of(*r, "PRAGMA query_only") == 1);
}

TEST_CASE("synchronous follows the config", "[schema]") {
  test::temp_dir dir;
  auto cfg = test::test_config();
  cfg.synchronous = "normal";
  cfg.busy_timeout_ms = 1234;
  auto w = open_write_connection(dir.file("s.db"), cfg);
  REQUIRE(w.ok());
  CHECK(int_of(*w, "PRAGMA synchronous") == 1);
  CHECK(int_of(*w, "PRAGMA busy_timeout") == 1234);

  cfg.synchronous = "off";
  auto bad = open_write_connection(dir.file("t.db"), cfg);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == core::errc::invalid_argument);
  CHECK(bad.error().message().find("store.synchronous") != std::string::npos);

  auto mem = open_write_connection(":memory:", test::test_config());
  REQUIRE_FALSE(mem.ok());
  CHECK(mem.error().code() == core::errc::invalid_argument);
}

TEST_CASE("re-opening is idempotent and keeps the data", "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  std::string schema_before;
  {
    auto w = open_write_connection(path, test::test_config());
    REQUIRE(w.ok());
    REQUIRE(w->exec("INSERT INTO conversations (id, token_hash, created_ms, updated_ms) "
                    "VALUES ('c1', 'h1', 1, 1)")
                .ok());
    schema_before = text_of(
        *w, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)");
  }
  for (int i = 0; i < 3; ++i) {
    auto w = open_write_connection(path, test::test_config());
    REQUIRE(w.ok());
    CHECK(int_of(*w, "PRAGMA user_version") == current_schema_version());
    CHECK(text_of(
              *w,
              "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)") ==
          schema_before);
    CHECK(int_of(*w, "SELECT count(*) FROM conversations") == 1);
    CHECK(text_of(*w, "PRAGMA integrity_check") == "ok");
  }
}

TEST_CASE("a database newer than the code is refused", "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  {
    auto w = open_write_connection(path, test::test_config());
    REQUIRE(w.ok());
    REQUIRE(w->exec("PRAGMA user_version = " + std::to_string(current_schema_version() + 1)).ok());
  }
  auto again = open_write_connection(path, test::test_config());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == core::errc::invalid_argument);
  CHECK(again.error().message().find("newer") != std::string::npos);

  core::manual_clock clock;
  auto s = open_sqlite_store(path, test::test_config(), clock);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message().find("newer") != std::string::npos);
}

TEST_CASE("another application's database is refused and left alone", "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("other.db");
  {
    auto d = sqlite::db::open(path, sqlite::open_mode::read_write_create);
    REQUIRE(d.ok());
    REQUIRE(d->exec("PRAGMA application_id = 42; CREATE TABLE x (a)").ok());
  }
  auto w = open_write_connection(path, test::test_config());
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().message().find("not a supportbot database") != std::string::npos);
  auto d = sqlite::db::open(path, sqlite::open_mode::read_only);
  REQUIRE(d.ok());
  CHECK(text_of(*d, "PRAGMA journal_mode") == "delete");
  CHECK(int_of(*d, "PRAGMA user_version") == 0);
}

TEST_CASE("constraints guard the data", "[schema]") {
  test::temp_dir dir;
  auto w = open_write_connection(dir.file("s.db"), test::test_config());
  REQUIRE(w.ok());
  REQUIRE(w->exec("INSERT INTO conversations (id, token_hash, created_ms, updated_ms) VALUES "
                  "('c1', 'h1', 1, 1)")
              .ok());
  // Foreign keys: a message of an unknown conversation.
  auto fk = w->exec(
      "INSERT INTO messages (conversation_id, seq, sender, text, ts_ms) VALUES ('nope', 1, 'bot', "
      "'x', 1)");
  REQUIRE_FALSE(fk.ok());
  CHECK(fk.message().find("FOREIGN KEY") != std::string::npos);
  // CHECKs.
  CHECK_FALSE(w->exec("UPDATE conversations SET state = 'sleeping' WHERE id = 'c1'").ok());
  CHECK_FALSE(w->exec("INSERT INTO messages (conversation_id, seq, sender, text, ts_ms) "
                      "VALUES ('c1', 1, 'robot', 'x', 1)")
                  .ok());
  CHECK_FALSE(
      w->exec("INSERT INTO surveys (conversation_id, csat, ts_ms) VALUES ('c1', 6, 1)").ok());
  CHECK(w->exec("INSERT INTO surveys (conversation_id, csat, ts_ms) VALUES ('c1', 5, 1)").ok());
  // Unique token hashes and (conversation, seq). A client_msg_id is unique
  // per conversation too, but the store's writer checks that (schema v2,
  // sqlite_store_test), not an index.
  CHECK_FALSE(w->exec("INSERT INTO conversations (id, token_hash, created_ms, updated_ms) VALUES "
                      "('c2', 'h1', 1, 1)")
                  .ok());
  CHECK(
      w->exec(
           "INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, ts_ms) VALUES "
           "('c1', 1, 'm1', 'visitor', 'a', 1), ('c1', 2, NULL, 'bot', 'b', 1), ('c1', 3, NULL, "
           "'bot', 'c', 1)")
          .ok());
  CHECK_FALSE(
      w->exec(
           "INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, ts_ms) VALUES "
           "('c1', 3, 'm9', 'visitor', 'a', 1)")
          .ok());
  // One open assignment per conversation.
  REQUIRE(
      w->exec("INSERT INTO agents (id, name, password_hash, created_ms) VALUES (1, 'ann', 'x', 1), "
              "(2, 'bob', 'x', 1)")
          .ok());
  CHECK(w->exec(
             "INSERT INTO assignments (conversation_id, agent_id, assigned_ms) VALUES ('c1', 1, 1)")
            .ok());
  CHECK_FALSE(
      w->exec(
           "INSERT INTO assignments (conversation_id, agent_id, assigned_ms) VALUES ('c1', 2, 2)")
          .ok());
  // Events are append-only.
  REQUIRE(w->exec("INSERT INTO events (ts_ms, kind) VALUES (1, 'x')").ok());
  auto upd = w->exec("UPDATE events SET kind = 'y'");
  REQUIRE_FALSE(upd.ok());
  CHECK(upd.message().find("append-only") != std::string::npos);
  // No row anywhere violates a foreign key.
  auto fkc = w->query_text("PRAGMA foreign_key_check");
  CHECK(fkc.error().code() == core::errc::not_found);
}

TEST_CASE("a read connection cannot write", "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  auto w = open_write_connection(path, test::test_config());
  REQUIRE(w.ok());
  auto r = open_read_connection(path, test::test_config());
  REQUIRE(r.ok());
  auto st = r->exec("INSERT INTO events (ts_ms, kind) VALUES (1, 'x')");
  REQUIRE_FALSE(st.ok());
  CHECK(int_of(*w, "SELECT count(*) FROM events") == 0);
}

TEST_CASE("the hot queries use their indexes", "[schema]") {
  test::temp_dir dir;
  auto w = open_write_connection(dir.file("s.db"), test::test_config());
  REQUIRE(w.ok());
  auto plan = [&](const std::string& sql) {
    auto s = w->prepare("EXPLAIN QUERY PLAN " + sql);
    REQUIRE(s.ok());
    std::string out;
    while (*s->step() == sqlite::step_result::row) out += s->column_text(3) + "\n";
    return out;
  };
  const std::string dup =
      plan("SELECT seq FROM messages WHERE conversation_id = ?1 AND client_msg_id = ?2");
  CHECK(dup.find("messages_seq") != std::string::npos);  // the conversation's rows only
  const std::string replay = plan(
      "SELECT seq, text FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT "
      "?3");
  CHECK(replay.find("messages_seq") != std::string::npos);
  CHECK(replay.find("TEMP B-TREE") == std::string::npos);  // no sort
  CHECK(plan("SELECT id FROM conversations WHERE token_hash = ?1").find("USING INDEX") !=
        std::string::npos);
  // A conversation's context, last seq and last activity (schema v3): from
  // the end of its messages, through messages_seq, with no sort.
  for (const char* sql :
       {"SELECT context_json FROM messages WHERE conversation_id = ?1 AND context_json IS NOT NULL "
        "ORDER BY seq DESC LIMIT 1",
        "SELECT max(seq) FROM messages WHERE conversation_id = ?1",
        "SELECT ts_ms FROM messages WHERE conversation_id = ?1 ORDER BY seq DESC LIMIT 1"}) {
    INFO(sql);
    const std::string p = plan(sql);
    CHECK(p.find("messages_seq") != std::string::npos);
    CHECK(p.find("TEMP B-TREE") == std::string::npos);
  }
}

namespace {

// A database at schema v1 (messages WITHOUT ROWID, keyed by conversation and
// seq) with two conversations, their messages and a rating.
void make_v1_database(const std::string& path) {
  auto opened = sqlite::db::open(path, sqlite::open_mode::read_write_create);
  REQUIRE(opened.ok());
  sqlite::db d = std::move(opened).value();
  REQUIRE(d.query_text("PRAGMA journal_mode = WAL").ok());
  REQUIRE(migrate(d, 1).ok());
  REQUIRE(int_of(d, "PRAGMA user_version") == 1);
  REQUIRE(
      text_of(d, "SELECT sql FROM sqlite_schema WHERE name = 'messages'").find("WITHOUT ROWID") !=
      std::string::npos);
  REQUIRE(d.exec("PRAGMA foreign_keys = ON").ok());
  REQUIRE(d.exec(R"sql(
INSERT INTO conversations (id, token_hash, created_ms, updated_ms, last_seq)
  VALUES ('c1', 'h1', 1, 5, 3), ('c2', 'h2', 2, 4, 2);
INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, meta_json, ts_ms) VALUES
  ('c1', 1, 'm1', 'visitor', 'where is my order?', NULL, 1),
  ('c2', 1, 'x1', 'visitor', 'hello', NULL, 2),
  ('c1', 2, NULL, 'bot', 'It ships in **2 days**.', '{"decision":"answer"}', 3),
  ('c2', 2, NULL, 'bot', 'Hi!', NULL, 4),
  ('c1', 3, 'm2', 'visitor', 'thanks', NULL, 5);
INSERT INTO feedback (conversation_id, seq, helpful, ts_ms) VALUES ('c1', 2, 1, 6);
)sql")
              .ok());
}

std::string all_messages(sqlite::db& d) {
  return text_of(d,
                 "SELECT group_concat(row, '|') FROM (SELECT conversation_id || ',' || seq || ',' "
                 "|| coalesce(client_msg_id, '-') || ',' || sender || ',' || text || ',' || "
                 "coalesce(meta_json, '-') || ',' || ts_ms AS row FROM messages ORDER BY "
                 "conversation_id, seq)");
}

}  // namespace

TEST_CASE("a v1 database is migrated to the current schema with its messages, ratings and constraints",
          "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  make_v1_database(path);
  const std::string expected =
      "c1,1,m1,visitor,where is my order?,-,1|c1,2,-,bot,It ships in **2 days**.,"
      "{\"decision\":\"answer\"},3|c1,3,m2,visitor,thanks,-,5|c2,1,x1,visitor,hello,-,2|"
      "c2,2,-,bot,Hi!,-,4";

  {
    auto w = open_write_connection(path, test::test_config());
    REQUIRE(w.ok());
    CHECK(int_of(*w, "PRAGMA user_version") == current_schema_version());
    CHECK(int_of(*w, "PRAGMA foreign_keys") == 1);
    CHECK(all_messages(*w) == expected);
    // A rowid table now, with one index.
    CHECK(text_of(*w, "SELECT sql FROM sqlite_schema WHERE name = 'messages'")
              .find("WITHOUT ROWID") == std::string::npos);
    CHECK(text_of(*w,
                  "SELECT group_concat(name) FROM sqlite_schema WHERE type = 'index' AND "
                  "tbl_name = 'messages'") == "messages_seq");
    CHECK(int_of(*w, "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_v2'") == 0);
    CHECK(int_of(*w, "SELECT helpful FROM feedback WHERE conversation_id = 'c1' AND seq = 2") == 1);
    CHECK(text_of(*w, "PRAGMA integrity_check") == "ok");
    CHECK(int_of(*w, "SELECT count(*) FROM pragma_foreign_key_check") == 0);

    // The constraints hold on the new table.
    CHECK_FALSE(w->exec("INSERT INTO messages (conversation_id, seq, sender, text, ts_ms) "
                        "VALUES ('c1', 3, 'bot', 'same seq', 7)")
                    .ok());
    CHECK_FALSE(w->exec("INSERT INTO messages (conversation_id, seq, sender, text, ts_ms) "
                        "VALUES ('nope', 1, 'bot', 'no conversation', 7)")
                    .ok());
    CHECK_FALSE(w->exec("INSERT INTO feedback (conversation_id, seq, helpful, ts_ms) "
                        "VALUES ('c2', 9, 0, 7)")
                    .ok());  // no such message
    CHECK(w->exec("INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, ts_ms) "
                  "VALUES ('c2', 3, 'x2', 'visitor', 'next', 7)")
              .ok());
  }

  // Reopening migrates nothing more.
  auto again = open_write_connection(path, test::test_config());
  REQUIRE(again.ok());
  CHECK(int_of(*again, "PRAGMA user_version") == current_schema_version());
  CHECK(int_of(*again, "SELECT count(*) FROM messages") == 6);
}

TEST_CASE("a migration that would break a foreign key changes nothing", "[schema]") {
  test::temp_dir dir;
  const std::string path = dir.file("s.db");
  make_v1_database(path);
  {
    // A message whose conversation is gone: possible only with foreign keys
    // off, which is how a migration runs.
    auto d = sqlite::db::open(path, sqlite::open_mode::read_write);
    REQUIRE(d.ok());
    REQUIRE(d->exec("INSERT INTO messages (conversation_id, seq, sender, text, ts_ms) "
                    "VALUES ('gone', 1, 'bot', 'orphan', 9)")
                .ok());
  }
  auto w = open_write_connection(path, test::test_config());
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().message().find("foreign key violations") != std::string::npos);
  auto d = sqlite::db::open(path, sqlite::open_mode::read_write);
  REQUIRE(d.ok());
  CHECK(int_of(*d, "PRAGMA user_version") == 1);
  CHECK(
      text_of(*d, "SELECT sql FROM sqlite_schema WHERE name = 'messages'").find("WITHOUT ROWID") !=
      std::string::npos);
  CHECK(int_of(*d, "SELECT count(*) FROM messages") == 6);
}
