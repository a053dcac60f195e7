#include "bot/store/sqlite.hpp"

#include <sqlite3.h>

#include <cctype>
#include <climits>

namespace bot::store::sqlite {

namespace {

bool is_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool ok = std::isalpha(c) != 0 || c == '_' || (i > 0 && std::isdigit(c) != 0);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

core::status error_status(sqlite3* handle, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on the connection,
  // which is the one `rc` came from when called right after it.
  if (handle != nullptr) {
    message += sqlite3_errmsg(handle);
  } else {
    message += sqlite3_errstr(rc);
  }
  core::errc code = core::errc::io_error;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      code = core::errc::conflict;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = core::errc::unavailable;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = core::errc::corrupt;
      break;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      code = core::errc::invalid_argument;
      break;
    case SQLITE_INTERNAL:
      code = core::errc::internal;
      break;
    default:
      break;
  }
  return {code, std::move(message)};
}

std::string sql_label(std::string_view sql) {
  // Up to three words, at most 48 characters: enough to find the statement.
  std::string out;
  int words = 0;
  std::size_t i = 0;
  while (i < sql.size() && words < 3) {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i])) != 0) ++i;
    const std::size_t start = i;
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i])) == 0 &&
           sql[i] != '(' && sql[i] != ';') {
      ++i;
    }
    if (i == start) break;
    if (!out.empty()) out += ' ';
    out.append(sql.substr(start, i - start));
    ++words;
  }
  if (out.size() > 48) out.resize(48);
  if (out.empty()) out = "(empty SQL)";
  return out;
}

// ---------------------------------------------------------------- statement

void statement::finalizer::operator()(sqlite3_stmt* s) const noexcept {
  sqlite3_finalize(s);
}

core::status statement::bind_result(int rc, int index) {
  if (rc == SQLITE_OK) return {};
  return error_status(db_, rc, label_ + " (bind ?" + std::to_string(index) + ")");
}

core::status statement::bind(int index, std::int64_t value) {
  return bind_result(sqlite3_bind_int64(stmt_.get(), index, value), index);
}

core::status statement::bind(int index, double value) {
  return bind_result(sqlite3_bind_double(stmt_.get(), index, value), index);
}

core::status statement::bind(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) {
    return core::invalid_argument(label_ + ": text parameter too large");
  }
  // A non-null pointer even for "", so that empty text binds '' and not NULL.
  const char* data = text.data() != nullptr ? text.data() : "";
  return bind_result(
      sqlite3_bind_text(stmt_.get(), index, data, static_cast<int>(text.size()), SQLITE_TRANSIENT),
      index);
}

core::status statement::bind_ref(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) {
    return core::invalid_argument(label_ + ": text parameter too large");
  }
  const char* data = text.data() != nullptr ? text.data() : "";
  return bind_result(
      sqlite3_bind_text(stmt_.get(), index, data, static_cast<int>(text.size()), SQLITE_STATIC),
      index);
}

core::status statement::bind_null(int index) {
  return bind_result(sqlite3_bind_null(stmt_.get(), index), index);
}

core::status statement::bind_text_or_null(int index, std::string_view text) {
  return text.empty() ? bind_null(index) : bind(index, text);
}

core::result<step_result> statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return step_result::row;
  if (rc == SQLITE_DONE) return step_result::done;
  return error_status(db_, rc, label_);
}

core::status statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (*r == step_result::done) return {};
  }
}

int statement::column_count() const noexcept {
  return sqlite3_column_count(stmt_.get());
}

bool statement::column_is_null(int index) const noexcept {
  return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL;
}

std::int64_t statement::column_int64(int index) const noexcept {
  return sqlite3_column_int64(stmt_.get(), index);
}

double statement::column_double(int index) const noexcept {
  return sqlite3_column_double(stmt_.get(), index);
}

std::string_view statement::column_text_view(int index) const noexcept {
  const unsigned char* p = sqlite3_column_text(stmt_.get(), index);
  if (p == nullptr) return {};
  const int n = sqlite3_column_bytes(stmt_.get(), index);
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}

void statement::reset() noexcept {
  if (!stmt_) return;
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

int statement::last_extended_code() const noexcept {
  return db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_OK;
}

// ----------------------------------------------------------------------- db

void db::closer::operator()(sqlite3* d) const noexcept {
  // close_v2 defers the close until every statement is finalized, so the
  // order of destruction can never leak the connection.
  sqlite3_close_v2(d);
}

core::result<db> db::open(const std::string& path, open_mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case open_mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case open_mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case open_mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // Owned before the error check: a failed open still allocates a handle.
  db d(raw, path);
  if (rc != SQLITE_OK) {
    return error_status(raw, rc, "open " + path);
  }
  sqlite3_extended_result_codes(raw, 1);
  return d;
}

core::status db::exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
  std::unique_ptr<char, decltype(&sqlite3_free)> err_owner(err, &sqlite3_free);
  if (rc == SQLITE_OK) return {};
  return error_status(db_.get(), rc, sql_label(sql));
}

core::result<statement> db::prepare(std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX))
    return core::invalid_argument("SQL too large");
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), 0, &raw, &tail);
  statement s(raw, db_.get(), sql_label(sql));
  if (rc != SQLITE_OK) return error_status(db_.get(), rc, s.label());
  if (raw == nullptr) return core::invalid_argument(s.label() + ": no statement in SQL");
  if (tail != nullptr) {
    for (const char* p = tail; p < sql.data() + sql.size(); ++p) {
      if (std::isspace(static_cast<unsigned char>(*p)) == 0 && *p != ';') {
        return core::invalid_argument(s.label() + ": more than one statement in SQL");
      }
    }
  }
  return s;
}

core::result<statement_ref> db::cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    // Evicting could free a statement a caller still holds: refuse instead.
    if (cache_.size() >= k_statement_cache_max) {
      return core::internal_error(sql_label(sql) +
                                  ": statement cache full (SQL texts must be fixed)");
    }
    auto prepared = prepare(sql);
    if (!prepared) return prepared.error();
    it = cache_.emplace(std::string(sql), std::make_unique<statement>(std::move(prepared).value()))
             .first;
  } else {
    it->second->reset();
  }
  return statement_ref(it->second.get());
}

core::result<std::int64_t> db::query_int(std::string_view sql) {
  auto s = prepare(sql);
  if (!s) return s.error();
  auto r = s->step();
  if (!r) return r.error();
  if (*r == step_result::done) return core::not_found(s->label() + ": no row");
  return s->column_int64(0);
}

core::result<std::string> db::query_text(std::string_view sql) {
  auto s = prepare(sql);
  if (!s) return s.error();
  auto r = s->step();
  if (!r) return r.error();
  if (*r == step_result::done) return core::not_found(s->label() + ": no row");
  return s->column_text(0);
}

core::result<checkpoint_result> db::checkpoint(checkpoint_mode mode) {
  int m = SQLITE_CHECKPOINT_PASSIVE;
  if (mode == checkpoint_mode::full) m = SQLITE_CHECKPOINT_FULL;
  if (mode == checkpoint_mode::restart) m = SQLITE_CHECKPOINT_RESTART;
  if (mode == checkpoint_mode::truncate) m = SQLITE_CHECKPOINT_TRUNCATE;
  checkpoint_result r;
  const int rc =
      sqlite3_wal_checkpoint_v2(db_.get(), nullptr, m, &r.wal_frames, &r.checkpointed_frames);
  if (rc != SQLITE_OK) return error_status(db_.get(), rc, "checkpoint");
  return r;
}

int db::wal_hook_trampoline(void* arg, sqlite3*, const char*, int frames) {
  (*static_cast<std::function<void(int)>*>(arg))(frames);
  return SQLITE_OK;
}

void db::set_wal_hook(std::function<void(int frames)> hook) {
  if (!hook) {
    sqlite3_wal_hook(db_.get(), nullptr, nullptr);
    wal_hook_.reset();
    return;
  }
  auto owned = std::make_unique<std::function<void(int)>>(std::move(hook));
  sqlite3_wal_hook(db_.get(), &db::wal_hook_trampoline, owned.get());
  wal_hook_ = std::move(owned);
}

std::int64_t db::last_insert_rowid() const noexcept {
  return sqlite3_last_insert_rowid(db_.get());
}

std::int64_t db::changes() const noexcept {
  return sqlite3_changes64(db_.get());
}

bool db::in_transaction() const noexcept {
  return sqlite3_get_autocommit(db_.get()) == 0;
}

void db::set_busy_timeout(int ms) noexcept {
  sqlite3_busy_timeout(db_.get(), ms);
}

// -------------------------------------------------------------- transaction

core::result<transaction> transaction::begin(db& d, tx_mode mode) {
  std::string_view sql = "BEGIN IMMEDIATE";
  if (mode == tx_mode::deferred) sql = "BEGIN DEFERRED";
  if (mode == tx_mode::exclusive) sql = "BEGIN EXCLUSIVE";
  auto s = d.cached(sql);
  if (!s) return s.error();
  if (auto st = (*s)->run(); !st.ok()) return st;
  return transaction(&d);
}

transaction::~transaction() {
  if (db_ != nullptr) (void)rollback();
}

core::status transaction::commit() {
  if (db_ == nullptr) return core::internal_error("COMMIT: no active transaction");
  db* d = db_;
  auto s = d->cached("COMMIT");
  core::status st = s ? (*s)->run() : s.error();
  if (st.ok()) {
    db_ = nullptr;
    return st;
  }
  // A failed COMMIT (e.g. BUSY) may leave the transaction open: end it.
  if (d->in_transaction()) (void)rollback();
  db_ = nullptr;
  return st;
}

core::status transaction::rollback() {
  if (db_ == nullptr) return {};
  db* d = db_;
  db_ = nullptr;
  // SQLite may have rolled back already (after an I/O error or SQLITE_FULL).
  if (!d->in_transaction()) return {};
  auto s = d->cached("ROLLBACK");
  return s ? (*s)->run() : s.error();
}

// ---------------------------------------------------------------- savepoint

core::result<savepoint> savepoint::begin(db& d, std::string_view name) {
  if (!is_identifier(name)) return core::invalid_argument("SAVEPOINT: invalid name");
  auto s = d.cached("SAVEPOINT " + std::string(name));
  if (!s) return s.error();
  if (auto st = (*s)->run(); !st.ok()) return st;
  return savepoint(&d, std::string(name));
}

savepoint::~savepoint() {
  if (db_ != nullptr) (void)rollback();
}

core::status savepoint::release() {
  if (db_ == nullptr) return core::internal_error("RELEASE: no active savepoint");
  db* d = db_;
  auto s = d->cached("RELEASE " + name_);
  core::status st = s ? (*s)->run() : s.error();
  if (st.ok()) db_ = nullptr;
  // On failure the savepoint is still open; the destructor rolls it back.
  return st;
}

core::status savepoint::rollback() {
  if (db_ == nullptr) return {};
  db* d = db_;
  db_ = nullptr;
  // Nothing to undo when SQLite already rolled back the whole transaction.
  if (!d->in_transaction()) return {};
  auto back = d->cached("ROLLBACK TO " + name_);
  core::status st = back ? (*back)->run() : back.error();
  auto rel = d->cached("RELEASE " + name_);
  core::status st2 = rel ? (*rel)->run() : rel.error();
  return st.ok() ? st2 : st;
}

}  // namespace bot::store::sqlite
