// The RAII wrappers: db, statement, transaction, savepoint.
#include "bot/store/sqlite.hpp"

#include <catch2/catch.hpp>

#include "tests/store/temp_db.hpp"

using namespace bot;
using namespace bot::store;

namespace {

sqlite::db open_db(const std::string& path) {
  auto d = sqlite::db::open(path, sqlite::open_mode::read_write_create);
  REQUIRE(d.ok());
  REQUIRE(d->exec("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, "
                  "v TEXT, "
                  "x REAL, UNIQUE (v))")
              .ok());
  return std::move(d).value();
}

std::int64_t count_rows(sqlite::db& d) {
  auto n = d.query_int("SELECT count(*) FROM t");
  REQUIRE(n.ok());
  return *n;
}

core::status insert(sqlite::db& d, std::int64_t k, std::string_view v) {
  auto s = d.cached("INSERT INTO t (k, v) VALUES (?1, ?2)");
  if (!s) return s.error();
  if (auto st = (*s)->bind(1, k); !st.ok()) return st;
  if (auto st = (*s)->bind(2, v); !st.ok()) return st;
  return (*s)->run();
}

}  // namespace

TEST_CASE("statement binds and reads back every type", "[sqlite]") {
  test::temp_dir dir;
  auto d = open_db(dir.file("a.db"));
  auto ins = d.prepare("INSERT INTO t (k, v, x) VALUES (?1, ?2, ?3)");
  REQUIRE(ins.ok());
  REQUIRE(ins->bind(1, std::int64_t{1}).ok());
  REQUIRE(ins->bind(2, std::string_view("h\xc3\xa9llo")).ok());
  REQUIRE(ins->bind(3, 2.5).ok());
  REQUIRE(ins->run().ok());
  REQUIRE(d.changes() == 1);
  REQUIRE(d.last_insert_rowid() == 1);
  ins->reset();
  REQUIRE(ins->bind(1, std::int64_t{2}).ok());
  REQUIRE(ins->bind(2, std::string_view("")).ok());  // '' and not NULL
  REQUIRE(ins->bind_null(3).ok());
  REQUIRE(ins->run().ok());
  ins->reset();
  REQUIRE(ins->bind(1, std::int64_t{3}).ok());
  REQUIRE(ins->bind_text_or_null(2, "").ok());  // NULL
  REQUIRE(ins->run().ok());

  auto sel = d.prepare("SELECT k, v, x FROM t ORDER BY k");
  REQUIRE(sel.ok());
  REQUIRE(sel->column_count() == 3);
  auto r = sel->step();
  REQUIRE(r.ok());
  REQUIRE(*r == sqlite::step_result::row);
  CHECK(sel->column_int64(0) == 1);
  CHECK(sel->column_text(1) == "h\xc3\xa9llo");
  CHECK(sel->column_double(2) == 2.5);
  REQUIRE(*sel->step() == sqlite::step_result::row);
  CHECK(sel->column_text(1).empty());
  CHECK_FALSE(sel->column_is_null(1));
  CHECK(sel->column_is_null(2));
  REQUIRE(*sel->step() == sqlite::step_result::row);
  CHECK(sel->column_is_null(1));
  REQUIRE(*sel->step() == sqlite::step_result::done);
}

TEST_CASE("errors carry the SQL's first words and SQLite's message and a code", "[sqlite]") {
  test::temp_dir dir;
  auto d = open_db(dir.file("a.db"));
  REQUIRE(insert(d, 1, "x").ok());
  const core::status dup = insert(d, 2, "x");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.code() == core::errc::conflict);
  CHECK(dup.message().find("INSERT INTO t") == 0);
  CHECK(dup.message().find("UNIQUE constraint failed") != std::string::npos);

  auto bad = d.prepare("SELEC nonsense");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().find("SELEC nonsense") == 0);
  CHECK(bad.error().message().find("syntax error") != std::string::npos);

  auto two = d.prepare("SELECT 1; SELECT 2");
  REQUIRE_FALSE(two.ok());
  CHECK(two.error().code() == core::errc::invalid_argument);

  auto bind_out_of_range = d.prepare("SELECT ?1");
  REQUIRE(bind_out_of_range.ok());
  CHECK(bind_out_of_range->bind(2, std::int64_t{1}).code() == core::errc::invalid_argument);

  CHECK(sqlite::sql_label("  INSERT INTO messages(a, b) VALUES (?)") == "INSERT INTO messages");
}

TEST_CASE("opening a missing file read-only fails with a message", "[sqlite]") {
  test::temp_dir dir;
  auto d = sqlite::db::open(dir.file("missing.db"), sqlite::open_mode::read_only);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message().find("missing.db") != std::string::npos);
}

TEST_CASE("cached statements are reused and come back reset", "[sqlite]") {
  test::temp_dir dir;
  auto d = open_db(dir.file("a.db"));
  REQUIRE(insert(d, 1, "a").ok());
  REQUIRE(insert(d, 2, "b").ok());
  const char* sql = "SELECT v FROM t WHERE k >= ?1 ORDER BY k";
  sqlite::statement* first = nullptr;
  {
    auto s = d.cached(sql);
    REQUIRE(s.ok());
    first = &**s;
    REQUIRE((*s)->bind(1, std::int64_t{1}).ok());
    REQUIRE(*(*s)->step() == sqlite::step_result::row);
    CHECK((*s)->column_text(0) == "a");
    // Left in the middle of its rows: the ref resets it.
  }
  auto s = d.cached(sql);
  REQUIRE(s.ok());
  CHECK(&**s == first);
  // Bindings were cleared: ?1 is NULL, so no row matches.
  REQUIRE(*(*s)->step() == sqlite::step_result::done);
}

TEST_CASE("a transaction rolls back unless committed", "[sqlite]") {
  test::temp_dir dir;
  auto d = open_db(dir.file("a.db"));
  {
    auto tx = sqlite::transaction::begin(d);
    REQUIRE(tx.ok());
    REQUIRE(d.in_transaction());
    REQUIRE(insert(d, 1, "lost").ok());
    CHECK(count_rows(d) == 1);
  }  // not committed
  CHECK_FALSE(d.in_transaction());
  CHECK(count_rows(d) == 0);

  {
    auto tx = sqlite::transaction::begin(d);
    REQUIRE(tx.ok());
    REQUIRE(insert(d, 2, "kept").ok());
    REQUIRE(tx->commit().ok());
    CHECK_FALSE(tx->active());
  }
  CHECK(count_rows(d) == 1);

  {
    auto tx = sqlite::transaction::begin(d, sqlite::tx_mode::deferred);
    REQUIRE(tx.ok());
    REQUIRE(insert(d, 3, "explicit").ok());
    REQUIRE(tx->rollback().ok());
    CHECK_FALSE(d.in_transaction());
  }
  CHECK(count_rows(d) == 1);

  // A second connection sees only committed rows.
  auto other = sqlite::db::open(dir.file("a.db"), sqlite::open_mode::read_only);
  REQUIRE(other.ok());
  auto n = other->query_int("SELECT count(*) FROM t WHERE v = 'kept'");
  REQUIRE(n.ok());
  CHECK(*n == 1);
}

TEST_CASE("BEGIN IMMEDIATE takes the write lock", "[sqlite]") {
  test::temp_dir dir;
  auto a = open_db(dir.file("a.db"));
  auto b = open_db(dir.file("a.db"));
  b.set_busy_timeout(0);
  auto tx = sqlite::transaction::begin(a);
  REQUIRE(tx.ok());
  auto tx2 = sqlite::transaction::begin(b);
  REQUIRE_FALSE(tx2.ok());
  CHECK(tx2.error().code() == core::errc::unavailable);
}

TEST_CASE("a savepoint undoes only its own changes", "[sqlite]") {
  test::temp_dir dir;
  auto d = open_db(dir.file("a.db"));
  auto tx = sqlite::transaction::begin(d);
  REQUIRE(tx.ok());
  REQUIRE(insert(d, 1, "outer").ok());
  {
    auto sp = sqlite::savepoint::begin(d, "job");
    REQUIRE(sp.ok());
    REQUIRE(insert(d, 2, "inner").ok());
    REQUIRE_FALSE(insert(d, 3, "outer").ok());  // the job's second statement fails
  }                                             // not released: rolled back to the savepoint
  CHECK(d.in_transaction());
  {
    auto sp = sqlite::savepoint::begin(d, "job");
    REQUIRE(sp.ok());
    REQUIRE(insert(d, 4, "released").ok());
    REQUIRE(sp->release().ok());
  }
  REQUIRE(tx->commit().ok());
  auto v = d.query_text("SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY k)");
  REQUIRE(v.ok());
  CHECK(*v == "outer,released");

  CHECK_FALSE(sqlite::savepoint::begin(d, "bad name; DROP TABLE t").ok());
}
