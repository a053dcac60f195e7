#include "bot/store/schema.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include "bot/core/log.hpp"
#include "bot/store/store.hpp"

namespace bot::store {

namespace {

// Migration i takes the database from version i to i + 1. Never edit a
// migration that has shipped: append a new one.
//
// CHECKs list allowed values as `x = 'a' OR x = 'b' ...` and not as
// `x IN ('a', 'b', ...)`: SQLite builds a temporary B-tree for an IN list of
// more than two constants once per statement run, i.e. once per INSERT.
const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> scripts = {
      // ---- v1
      R"sql(
CREATE TABLE conversations (
  id            TEXT PRIMARY KEY NOT NULL,
  token_hash    TEXT NOT NULL UNIQUE,
  state         TEXT NOT NULL DEFAULT 'bot'
                CHECK (state = 'bot' OR state = 'queued' OR state = 'agent' OR state = 'ticket' OR
                       state = 'closed'),
  team          TEXT NOT NULL DEFAULT '',
  context_json  TEXT NOT NULL DEFAULT '{}',
  last_seq      INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  created_ms    INTEGER NOT NULL,
  updated_ms    INTEGER NOT NULL,
  closed_ms     INTEGER,
  visitor_email TEXT
) WITHOUT ROWID;
CREATE INDEX conversations_state ON conversations (state, updated_ms);

CREATE TABLE messages (
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  seq             INTEGER NOT NULL CHECK (seq >= 1),
  client_msg_id   TEXT,
  sender          TEXT NOT NULL
                  CHECK (sender = 'visitor' OR sender = 'bot' OR sender = 'agent' OR sender = 'system'),
  text            TEXT NOT NULL,
  meta_json       TEXT,
  ts_ms           INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
-- UNIQUE (conversation_id, client_msg_id) for the messages that have one:
-- bot and system messages (NULL) cost no index entry.
CREATE UNIQUE INDEX messages_client_msg_id ON messages (conversation_id, client_msg_id)
  WHERE client_msg_id IS NOT NULL;

CREATE TABLE agents (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  display_name  TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
  max_chats     INTEGER NOT NULL DEFAULT 5 CHECK (max_chats >= 0),
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_ms    INTEGER NOT NULL
);

CREATE TABLE agent_teams (
  agent_id INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  team     TEXT NOT NULL,
  PRIMARY KEY (agent_id, team)
) WITHOUT ROWID;
CREATE INDEX agent_teams_team ON agent_teams (team, agent_id);

CREATE TABLE agent_sessions (
  token_hash TEXT PRIMARY KEY NOT NULL,
  agent_id   INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  revoked_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

CREATE TABLE queue_entries (
  conversation_id TEXT PRIMARY KEY NOT NULL REFERENCES conversations (id),
  team            TEXT NOT NULL DEFAULT '',
  priority        INTEGER NOT NULL DEFAULT 0,
  reason          TEXT NOT NULL DEFAULT '',
  enqueued_ms     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX queue_entries_order ON queue_entries (team, priority DESC, enqueued_ms);

CREATE TABLE assignments (
  id              INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  agent_id        INTEGER NOT NULL REFERENCES agents (id),
  assigned_ms     INTEGER NOT NULL,
  released_ms     INTEGER,
  reason          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX assignments_conversation ON assignments (conversation_id, assigned_ms);
CREATE INDEX assignments_agent_open ON assignments (agent_id) WHERE released_ms IS NULL;
CREATE UNIQUE INDEX assignments_one_owner ON assignments (conversation_id) WHERE released_ms IS NULL;

CREATE TABLE notes (
  id              INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  agent_id        INTEGER REFERENCES agents (id),
  text            TEXT NOT NULL,
  ts_ms           INTEGER NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id, ts_ms);

CREATE TABLE tickets (
  id              INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  email           TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'open'
                  CHECK (status = 'open' OR status = 'answered' OR status = 'closed'),
  created_ms      INTEGER NOT NULL,
  answered_ms     INTEGER
);
CREATE INDEX tickets_status ON tickets (status, created_ms);
CREATE INDEX tickets_conversation ON tickets (conversation_id);

CREATE TABLE feedback (
  conversation_id TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  helpful         INTEGER NOT NULL CHECK (helpful IN (0, 1)),
  ts_ms           INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, seq),
  FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
) WITHOUT ROWID;

CREATE TABLE surveys (
  id              INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  csat            INTEGER NOT NULL CHECK (csat BETWEEN 1 AND 5),
  comment         TEXT NOT NULL DEFAULT '',
  ts_ms           INTEGER NOT NULL
);
CREATE INDEX surveys_conversation ON surveys (conversation_id);
CREATE INDEX surveys_ts ON surveys (ts_ms);

CREATE TABLE events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms           INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  conversation_id TEXT,
  data_json       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ts ON events (ts_ms);
CREATE INDEX events_kind_ts ON events (kind, ts_ms);
CREATE INDEX events_conversation ON events (conversation_id, id) WHERE conversation_id IS NOT NULL;
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;
)sql",
      // ---- v2: messages become a rowid table, and client_msg_id loses its
      // index. A new message is appended at the end of the table, to a page
      // shared with the other messages of its batch, instead of into its
      // conversation's own leaf (where rows of 100 - 500 bytes split a page
      // every few turns and rebalance its neighbours); (conversation_id,
      // seq) stays unique through an index of small entries. A
      // client_msg_id stays unique per conversation, checked by the store's
      // writer (the only writer of messages), which keeps a hash of every
      // client_msg_id of the conversations it writes to and reads the rows
      // only for a possible repeat: an index there wrote one more
      // per-conversation page per message. docs/store.md has the figures.
      // Runs with foreign keys off (open_write_connection turns them on
      // after migrating); migrate() checks them before committing.
      R"sql(
CREATE TABLE messages_v2 (
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  seq             INTEGER NOT NULL CHECK (seq >= 1),
  client_msg_id   TEXT,
  sender          TEXT NOT NULL
                  CHECK (sender = 'visitor' OR sender = 'bot' OR sender = 'agent' OR sender = 'system'),
  text            TEXT NOT NULL,
  meta_json       TEXT,
  ts_ms           INTEGER NOT NULL
);
INSERT INTO messages_v2 (conversation_id, seq, client_msg_id, sender, text, meta_json, ts_ms)
  SELECT conversation_id, seq, client_msg_id, sender, text, meta_json, ts_ms FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
-- The parent key of feedback's foreign key, and the replay's range scan.
CREATE UNIQUE INDEX messages_seq ON messages (conversation_id, seq);
)sql",
      // ---- v3: a turn writes no conversations row. The dialog context
      // goes on the last message of the turn that changed it (the context
      // after that message), and a conversation's last seq is max(seq) of
      // its messages (through messages_seq), so conversations.last_seq goes.
      // Updating the conversation's row per turn wrote one more page per
      // turn in every commit: about a third of the disk writes at 5,000
      // messages/s. conversations.context_json stays: the context set while
      // a conversation has no message. A v2 conversation's context is copied
      // onto its newest message, where a read finds it at once.
      // docs/store.md has the figures.
      R"sql(
ALTER TABLE messages ADD COLUMN context_json TEXT;
UPDATE messages SET context_json =
    (SELECT c.context_json FROM conversations c WHERE c.id = messages.conversation_id)
  WHERE rowid IN (SELECT (SELECT m.rowid FROM messages m WHERE m.conversation_id = c.id
                          ORDER BY m.seq DESC LIMIT 1) FROM conversations c);
ALTER TABLE conversations DROP COLUMN last_seq;
)sql",
  };
  return scripts;
}

core::status set_pragma(sqlite::db& d, std::string_view pragma) {
  // PRAGMA values cannot be bound; every caller passes a fixed text or a
  // validated number.
  return d.exec(pragma);
}

core::status check_version(sqlite::db& d) {
  auto app = d.query_int("PRAGMA application_id");
  if (!app) return app.error();
  if (*app != 0 && *app != k_application_id) {
    return core::invalid_argument(d.path() + ": not a supportbot database (application_id " +
                                  std::to_string(*app) + ")");
  }
  auto version = d.query_int("PRAGMA user_version");
  if (!version) return version.error();
  if (*version > current_schema_version()) {
    return core::invalid_argument(
        d.path() + ": database schema version " + std::to_string(*version) +
        " is newer than this supportbot knows (" + std::to_string(current_schema_version()) +
        "): upgrade supportbot");
  }
  if (*version < 0) {
    return core::invalid_argument(d.path() + ": invalid schema version " +
                                  std::to_string(*version));
  }
  return {};
}

}  // namespace

int current_schema_version() noexcept {
  return static_cast<int>(migrations().size());
}

core::status migrate(sqlite::db& d, int target_version) {
  // Check and migrate under one write lock: another process may be
  // migrating the same file right now.
  auto tx = sqlite::transaction::begin(d, sqlite::tx_mode::immediate);
  if (!tx) return tx.error();
  if (auto st = check_version(d); !st.ok()) return st;
  auto version = d.query_int("PRAGMA user_version");
  if (!version) return version.error();
  const auto& scripts = migrations();
  const auto last = static_cast<std::size_t>(std::min(target_version, current_schema_version()));
  for (auto v = static_cast<std::size_t>(*version); v < last; ++v) {
    if (auto st = d.exec(scripts[v]); !st.ok()) {
      return {st.code(), "migration to schema v" + std::to_string(v + 1) + ": " + st.message()};
    }
    if (auto st = set_pragma(d, "PRAGMA user_version = " + std::to_string(v + 1)); !st.ok())
      return st;
  }
  // Migrations that rebuild a table run with foreign keys off: check them
  // all before committing.
  if (static_cast<std::size_t>(*version) < last) {
    auto violations = d.query_int("SELECT count(*) FROM pragma_foreign_key_check");
    if (!violations) return violations.error();
    if (*violations != 0) {
      return core::internal_error(d.path() + ": migration to schema v" + std::to_string(last) +
                                  " left " + std::to_string(*violations) +
                                  " foreign key violations; nothing was changed");
    }
    core::log::info("store_migrated", {{"path", d.path()},
                                       {"from_version", *version},
                                       {"to_version", static_cast<std::int64_t>(last)}});
  }
  if (auto st = set_pragma(d, "PRAGMA application_id = " + std::to_string(k_application_id));
      !st.ok()) {
    return st;
  }
  return tx->commit();
}

core::status validate_store_config(const core::store_config& cfg) {
  if (cfg.synchronous != "full" && cfg.synchronous != "normal") {
    return core::invalid_argument("store.synchronous: '" + cfg.synchronous +
                                  "' is not one of full, normal");
  }
  if (cfg.batch_max < 1) return core::invalid_argument("store.batch_max: must be at least 1");
  if (cfg.queue_max < 1) return core::invalid_argument("store.queue_max: must be at least 1");
  if (cfg.read_connections < 1 || cfg.read_connections > 64) {
    return core::invalid_argument("store.read_connections: must be between 1 and 64");
  }
  if (cfg.busy_timeout_ms < 0)
    return core::invalid_argument("store.busy_timeout_ms: must not be negative");
  return {};
}

core::result<sqlite::db> open_write_connection(const std::string& path,
                                               const core::store_config& cfg) {
  if (auto st = validate_store_config(cfg); !st.ok()) return st;
  if (path.empty() || path == ":memory:" || path.starts_with("file:")) {
    return core::invalid_argument("store path '" + path + "': must be a file name");
  }
  auto opened = sqlite::db::open(path, sqlite::open_mode::read_write_create);
  if (!opened) return opened.error();
  sqlite::db d = std::move(opened).value();
  d.set_busy_timeout(cfg.busy_timeout_ms);

  // Refuse a foreign file before changing anything in it.
  if (auto st = check_version(d); !st.ok()) return st;

  auto mode = d.query_text("PRAGMA journal_mode = WAL");
  if (!mode) return mode.error();
  if (*mode != "wal")
    return core::io_error(path + ": cannot enable WAL (journal_mode is " + *mode + ")");
  const std::string sync = cfg.synchronous == "normal" ? "NORMAL" : "FULL";
  for (const std::string& pragma : {
           "PRAGMA synchronous = " + sync,
           // The writer's working set: the hot B-tree pages of messages and
           // conversations, and a batch's dirty pages (negative = KiB).
           std::string("PRAGMA cache_size = -16384"),
           std::string("PRAGMA temp_store = MEMORY"),
           // SQLite's own checkpoint after about 16 MiB of WAL (the store
           // replaces it with a background checkpointer), and a WAL file
           // truncated back to at most 64 MiB after it restarts.
           std::string("PRAGMA wal_autocheckpoint = 4000"),
           std::string("PRAGMA journal_size_limit = 67108864"),
       }) {
    if (auto st = set_pragma(d, pragma); !st.ok()) return st;
  }
  // Migrations run with foreign keys off (a table rebuild drops a parent
  // table before its copy takes its name); migrate() checks them.
  if (auto st = migrate(d); !st.ok()) return st;
  if (auto st = set_pragma(d, "PRAGMA foreign_keys = ON"); !st.ok()) return st;
  auto fk = d.query_int("PRAGMA foreign_keys");
  if (!fk) return fk.error();
  if (*fk != 1)
    return core::internal_error(path + ": foreign keys unavailable in this SQLite build");
  return d;
}

core::result<sqlite::db> open_checkpoint_connection(const std::string& path,
                                                    const core::store_config& cfg) {
  if (auto st = validate_store_config(cfg); !st.ok()) return st;
  auto opened = sqlite::db::open(path, sqlite::open_mode::read_write);
  if (!opened) return opened.error();
  sqlite::db d = std::move(opened).value();
  d.set_busy_timeout(cfg.busy_timeout_ms);
  const std::string sync = cfg.synchronous == "normal" ? "NORMAL" : "FULL";
  if (auto st = set_pragma(d, "PRAGMA synchronous = " + sync); !st.ok()) return st;
  if (auto st = set_pragma(d, "PRAGMA wal_autocheckpoint = 0"); !st.ok()) return st;
  return d;
}

core::result<sqlite::db> open_read_connection(const std::string& path,
                                              const core::store_config& cfg) {
  auto opened = sqlite::db::open(path, sqlite::open_mode::read_only);
  if (!opened) return opened.error();
  sqlite::db d = std::move(opened).value();
  d.set_busy_timeout(cfg.busy_timeout_ms);
  if (auto st = set_pragma(d, "PRAGMA query_only = ON"); !st.ok()) return st;
  if (auto st = set_pragma(d, "PRAGMA cache_size = -16384"); !st.ok()) return st;
  if (auto st = check_version(d); !st.ok()) return st;
  auto version = d.query_int("PRAGMA user_version");
  if (!version) return version.error();
  if (*version != current_schema_version()) {
    return core::invalid_argument(path + ": schema version " + std::to_string(*version) +
                                  ", expected " + std::to_string(current_schema_version()));
  }
  return d;
}

}  // namespace bot::store
