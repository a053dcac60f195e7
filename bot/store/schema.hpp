// schema: the SQLite schema of supportbot, its migrations, and how every
// connection is set up. docs/store.md describes the tables.
//
// The schema version is PRAGMA user_version; migration N (1-based) takes a
// database from version N-1 to N inside one BEGIN IMMEDIATE transaction, so
// two processes opening the same new file cannot both migrate it. A database
// whose version is newer than current_schema_version() is refused.
//
// Thread-safety: the functions are thread-safe; each returned connection
// belongs to the thread that uses it (see sqlite.hpp).
#pragma once

#include <string>

#include "bot/core/config.hpp"
#include "bot/core/status.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"

namespace bot::store {

// PRAGMA application_id of a supportbot database ("SBot"). A database with
// another non-zero application id is refused.
inline constexpr int k_application_id = 0x53426f74;

// Applies the missing migrations to `d` (a read-write connection with
// foreign keys off), up to `target_version` (tests build older databases),
// in one transaction, and checks the foreign keys before committing. Errors:
// invalid_argument when the file is newer than this code or belongs to
// another application; the SQLite error otherwise.
core::status migrate(sqlite::db& d, int target_version = current_schema_version());

// Checks the store settings (synchronous is "full" or "normal", sizes
// positive). The message names the key: "store.synchronous: ...".
core::status validate_store_config(const core::store_config& cfg);

// Opens (creating when missing) the database at `path` for writing:
// journal_mode=WAL, synchronous from cfg, foreign_keys=ON, busy_timeout from
// cfg, then migrates it. `path` must be a file name (not ":memory:").
core::result<sqlite::db> open_write_connection(const std::string& path,
                                               const core::store_config& cfg);

// Opens an existing, migrated database for checkpoints only (copying the
// WAL into the database file beside the writer): read-write, synchronous and
// busy_timeout from cfg, no migration.
core::result<sqlite::db> open_checkpoint_connection(const std::string& path,
                                                    const core::store_config& cfg);

// Opens an existing, migrated database read-only (SQLITE_OPEN_READONLY,
// query_only) with busy_timeout from cfg. Refuses an unexpected schema
// version.
core::result<sqlite::db> open_read_connection(const std::string& path,
                                              const core::store_config& cfg);

}  // namespace bot::store
