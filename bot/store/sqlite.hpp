// sqlite: thin RAII wrappers over the SQLite C API, in the manner of
// SQLiteCpp, with errors as values (core::status) instead of exceptions.
//
// - db owns one sqlite3 connection (closed in the destructor) and a small
//   per-connection cache of prepared statements.
// - statement owns one sqlite3_stmt (finalized in the destructor). Values are
//   always bound as parameters, never spliced into SQL text.
// - transaction and savepoint roll back in their destructor unless they were
//   committed / released. Destructors never throw.
//
// Thread-safety: none. A db, and every statement prepared on it, belongs to
// one thread at a time; a connection is never shared between threads (open
// one per thread instead). Errors carry sqlite3_errmsg and the first words of
// the SQL that failed ("INSERT INTO messages: UNIQUE constraint failed: ...").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bot/core/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace bot::store::sqlite {

// A status for SQLite result code `rc` (extended codes allowed) on `handle`:
// errc::conflict for constraint violations, unavailable for BUSY/LOCKED,
// corrupt for CORRUPT/NOTADB, invalid_argument for MISUSE/RANGE/TOOBIG,
// io_error otherwise. `what` names the operation (the SQL's first words).
core::status error_status(sqlite3* handle, int rc, std::string_view what);

// The first few words of `sql`, for error messages ("INSERT INTO messages").
std::string sql_label(std::string_view sql);

enum class step_result { row, done };

class statement {
 public:
  statement() = default;
  statement(statement&&) noexcept = default;
  statement& operator=(statement&&) noexcept = default;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() = default;

  bool valid() const noexcept { return stmt_ != nullptr; }
  sqlite3_stmt* handle() const noexcept { return stmt_.get(); }
  const std::string& label() const noexcept { return label_; }

  // Parameters are numbered from 1. Text is copied by SQLite (the view need
  // not outlive the call).
  core::status bind(int index, std::int64_t value);
  core::status bind(int index, double value);
  core::status bind(int index, std::string_view text);
  // Binds text without copying it: `text` must stay valid and unchanged
  // until the statement is reset or the parameter rebound. For hot paths.
  core::status bind_ref(int index, std::string_view text);
  core::status bind_null(int index);
  // Binds text, or NULL when `text` is empty.
  core::status bind_text_or_null(int index, std::string_view text);

  // One step: row (columns readable until the next step/reset) or done.
  // After an error the statement must be reset before it is used again.
  core::result<step_result> step();
  // Steps until done; a row is not an error (it is skipped).
  core::status run();

  // Columns are numbered from 0.
  int column_count() const noexcept;
  bool column_is_null(int index) const noexcept;
  std::int64_t column_int64(int index) const noexcept;
  double column_double(int index) const noexcept;
  // Valid until the next step, reset or column call on this column.
  std::string_view column_text_view(int index) const noexcept;
  std::string column_text(int index) const { return std::string(column_text_view(index)); }

  // Resets for re-execution and clears the bindings. Never fails (an earlier
  // step's error was already reported by that step).
  void reset() noexcept;

  // The SQLite extended result code of the last failed call on the
  // connection (e.g. SQLITE_CONSTRAINT_UNIQUE), for callers that must tell
  // one constraint from another.
  int last_extended_code() const noexcept;

 private:
  friend class db;
  struct finalizer {
    void operator()(sqlite3_stmt* s) const noexcept;
  };
  statement(sqlite3_stmt* s, sqlite3* owner, std::string label)
      : stmt_(s), db_(owner), label_(std::move(label)) {}
  core::status bind_result(int rc, int index);

  std::unique_ptr<sqlite3_stmt, finalizer> stmt_;
  sqlite3* db_ = nullptr;
  std::string label_;
};

// A borrowed cached statement: resets it (and clears its bindings) when it
// goes out of scope, so that no cached statement keeps a read transaction
// open between uses.
class statement_ref {
 public:
  explicit statement_ref(statement* s) noexcept : s_(s) {}
  statement_ref(statement_ref&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  statement_ref& operator=(statement_ref&&) = delete;
  statement_ref(const statement_ref&) = delete;
  statement_ref& operator=(const statement_ref&) = delete;
  ~statement_ref() {
    if (s_ != nullptr) s_->reset();
  }
  statement* operator->() const noexcept { return s_; }
  statement& operator*() const noexcept { return *s_; }

 private:
  statement* s_;
};

enum class open_mode { read_write_create, read_write, read_only };

enum class checkpoint_mode { passive, full, restart, truncate };

struct checkpoint_result {
  int wal_frames = 0;           // frames in the WAL
  int checkpointed_frames = 0;  // of which copied into the database file
};

class db {
 public:
  // Opens `path` (a file name, not a URI) in multi-thread mode (no SQLite
  // mutex: the connection is owned by one thread) with extended result codes.
  static core::result<db> open(const std::string& path, open_mode mode);

  db(db&&) noexcept = default;
  db& operator=(db&&) noexcept = default;
  db(const db&) = delete;
  db& operator=(const db&) = delete;
  ~db() = default;

  sqlite3* handle() const noexcept { return db_.get(); }
  const std::string& path() const noexcept { return path_; }

  // Runs one or more statements without parameters (schema, PRAGMAs).
  core::status exec(std::string_view sql);
  // Prepares one statement (trailing text other than whitespace is an error).
  core::result<statement> prepare(std::string_view sql);
  // A prepared statement from this connection's cache, prepared on first use
  // and reset; it is reset again when the returned ref goes out of scope.
  // The cache holds at most k_statement_cache_max statements; beyond that
  // cached() fails with errc::internal: callers use a fixed set of SQL texts
  // (values are bound, never formatted into the SQL).
  core::result<statement_ref> cached(std::string_view sql);
  static constexpr std::size_t k_statement_cache_max = 128;

  // The first column of the first row as an integer / text (PRAGMAs,
  // counts). not_found when the statement returns no row.
  core::result<std::int64_t> query_int(std::string_view sql);
  core::result<std::string> query_text(std::string_view sql);

  // Copies WAL frames into the database file (sqlite3_wal_checkpoint_v2).
  // PASSIVE never waits for other connections and never blocks a writer.
  core::result<checkpoint_result> checkpoint(checkpoint_mode mode);

  // Calls `hook(frames_in_wal)` on this connection's thread after each
  // COMMIT in WAL mode. Replaces SQLite's automatic checkpoints
  // (wal_autocheckpoint) on this connection: the hook decides. The hook
  // must not use this connection. Pass nullptr to restore no hook.
  void set_wal_hook(std::function<void(int frames)> hook);

  std::int64_t last_insert_rowid() const noexcept;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  std::int64_t changes() const noexcept;
  // True while a transaction is open (not in autocommit mode).
  bool in_transaction() const noexcept;
  void set_busy_timeout(int ms) noexcept;

 private:
  struct closer {
    void operator()(sqlite3* d) const noexcept;
  };
  db(sqlite3* d, std::string path) : db_(d), path_(std::move(path)) {}
  static int wal_hook_trampoline(void* arg, sqlite3* d, const char* name, int frames);

  // The hook lives at a stable address (SQLite keeps a pointer to it); it
  // outlives the connection.
  std::unique_ptr<std::function<void(int)>> wal_hook_;
  // Declared before the cache, destroyed after: statements are finalized
  // before close.
  std::unique_ptr<sqlite3, closer> db_;
  std::string path_;
  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<statement>, text_hash, std::equal_to<>> cache_;
};

enum class tx_mode { deferred, immediate, exclusive };

// BEGIN ... COMMIT; rolls back in the destructor unless committed.
class transaction {
 public:
  static core::result<transaction> begin(db& d, tx_mode mode = tx_mode::immediate);

  transaction(transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  transaction& operator=(transaction&&) = delete;
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();

  // COMMIT. On failure the transaction is rolled back (by SQLite or by this
  // call) and is no longer active.
  core::status commit();
  core::status rollback();
  bool active() const noexcept { return db_ != nullptr; }

 private:
  explicit transaction(db* d) noexcept : db_(d) {}
  db* db_;
};

// SAVEPOINT name ... RELEASE name, inside a transaction (or as one). Rolls
// back to the savepoint (and releases it) in the destructor unless released,
// so that a failed step undoes only its own changes. `name` must be a plain
// identifier ([A-Za-z_][A-Za-z0-9_]*).
class savepoint {
 public:
  static core::result<savepoint> begin(db& d, std::string_view name);

  savepoint(savepoint&& o) noexcept : db_(o.db_), name_(std::move(o.name_)) { o.db_ = nullptr; }
  savepoint& operator=(savepoint&&) = delete;
  savepoint(const savepoint&) = delete;
  savepoint& operator=(const savepoint&) = delete;
  ~savepoint();

  core::status release();
  core::status rollback();
  bool active() const noexcept { return db_ != nullptr; }

 private:
  savepoint(db* d, std::string name) noexcept : db_(d), name_(std::move(name)) {}
  db* db_;
  std::string name_;
};

}  // namespace bot::store::sqlite
