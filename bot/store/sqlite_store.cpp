// The SQLite backend of store: one writer thread with group commit, a pool of
// reader threads with read-only connections. See store.hpp for the contract
// and docs/store.md for the design.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bot/core/log.hpp"
#include "bot/core/text.hpp"
#include "bot/core/thread.hpp"
#include "bot/store/schema.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"

namespace bot::store {

std::string_view sender_name(sender s) noexcept {
  switch (s) {
    case sender::visitor:
      return "visitor";
    case sender::bot:
      return "bot";
    case sender::agent:
      return "agent";
    case sender::system:
      return "system";
  }
  return "";
}

bool is_valid_state(std::string_view s) noexcept {
  return std::find(std::begin(k_states), std::end(k_states), s) != std::end(k_states);
}

namespace {

// The seq cache holds the last seq of at most this many conversations; it is
// cleared (at a batch boundary) when it grows beyond.
constexpr std::size_t k_seq_cache_max = 100000;

// WAL checkpoints (copying committed pages from the WAL into the database
// file) run on their own thread and connection, so that the writer keeps
// committing meanwhile. Requested when the WAL holds this many frames
// (pages; about 2 MiB)... Small checkpoints keep the latency tail short: a
// checkpoint's writes and fsync of the database file share the disk with
// the writer's WAL fsyncs, and a 16 MiB one (4000 frames) held some commits
// back for 5 - 25 ms. At 10,000 messages/s the chat server's p99 was 41 - 51
// ms with 4000, 17 - 18 ms with 1000 and 10 - 14 ms with 500, for about 25 %
// more bytes written (pages rewritten by several checkpoints instead of one;
// docs/performance.md).
constexpr int k_wal_checkpoint_frames = 500;
// ...and done by the writer itself, between batches, when the WAL has grown
// to this many (about 256 MiB): back-pressure when checkpoints fall behind.
constexpr int k_wal_hard_frames = 64000;

// ------------------------------------------------------------- validation

bool is_id_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

core::status check_id(std::string_view what, std::string_view id, std::size_t max) {
  if (id.empty()) return core::invalid_argument(std::string(what) + " is empty");
  if (id.size() > max) {
    return core::invalid_argument(std::string(what) + " is longer than " + std::to_string(max) +
                                  " bytes");
  }
  if (!std::all_of(id.begin(), id.end(), is_id_char)) {
    return core::invalid_argument(std::string(what) + " may only hold A-Z a-z 0-9 _ -");
  }
  return {};
}

core::status check_agent_name(std::string_view name) {
  if (name.empty()) return core::invalid_argument("agent name is empty");
  if (name.size() > k_max_agent_name_bytes) {
    return core::invalid_argument("agent name is longer than " +
                                  std::to_string(k_max_agent_name_bytes) + " bytes");
  }
  if (!std::all_of(name.begin(), name.end(), [](char c) { return is_id_char(c) || c == '.'; })) {
    return core::invalid_argument("agent name may only hold A-Z a-z 0-9 _ - .");
  }
  return {};
}

core::status check_text(std::string_view what, std::string_view text, std::size_t max) {
  if (text.size() > max) {
    return core::invalid_argument(std::string(what) + " is longer than " + std::to_string(max) +
                                  " bytes");
  }
  if (!core::is_valid_utf8(text))
    return core::invalid_argument(std::string(what) + " is not valid UTF-8");
  return {};
}

// Not a JSON parser (store does not depend on one): the caller produced the
// JSON; this catches values that are plainly not an object.
core::status check_json_object(std::string_view what, std::string_view json) {
  if (json.empty()) return {};
  if (auto st = check_text(what, json, k_max_json_bytes); !st.ok()) return st;
  const auto t = core::trim(json);
  if (t.empty() || t.front() != '{' || t.back() != '}') {
    return core::invalid_argument(std::string(what) + " must be a JSON object ({...})");
  }
  return {};
}

core::status check_ts(std::int64_t ts_ms) {
  if (ts_ms < 0) return core::invalid_argument("ts_ms is negative");
  return {};
}

core::status check_message(const new_message& m) {
  if (auto st = check_id("conversation id", m.conversation_id, k_max_id_bytes); !st.ok()) return st;
  if (auto st = check_text("client_msg_id", m.client_msg_id, k_max_client_msg_id_bytes); !st.ok())
    return st;
  if (sender_name(m.from).empty()) return core::invalid_argument("unknown sender");
  if (auto st = check_text("message text", m.text, k_max_text_bytes); !st.ok()) return st;
  if (auto st = check_json_object("meta_json", m.meta_json); !st.ok()) return st;
  return check_ts(m.ts_ms);
}

core::status check_event(const new_event& e) {
  if (e.kind.empty() || e.kind.size() > k_max_kind_bytes ||
      !std::all_of(e.kind.begin(), e.kind.end(),
                   [](char ch) { return is_id_char(ch) || ch == '.' || ch == ':'; })) {
    return core::invalid_argument("event kind must be 1-" + std::to_string(k_max_kind_bytes) +
                                  " characters of A-Z a-z 0-9 _ - . :");
  }
  if (!e.conversation_id.empty()) {
    if (auto st = check_id("conversation id", e.conversation_id, k_max_id_bytes); !st.ok())
      return st;
  }
  if (auto st = check_json_object("data_json", e.data_json); !st.ok()) return st;
  return check_ts(e.ts_ms);
}

// Every part of a turn names the same conversation; defaults are filled in.
core::status check_turn(new_turn& t) {
  const std::string id = t.visitor ? t.visitor->conversation_id : t.conversation_id;
  if (auto st = check_id("conversation id", id, k_max_id_bytes); !st.ok()) return st;
  const auto same = [&](const std::string& other) {
    return other == id ? core::status()
                       : core::invalid_argument("a turn must name one conversation");
  };
  if (t.visitor) {
    if (t.visitor->from != sender::visitor || t.visitor->client_msg_id.empty()) {
      return core::invalid_argument(
          "a turn's visitor message needs sender visitor and a client_msg_id");
    }
    if (t.visitor->ts_ms == 0) t.visitor->ts_ms = t.ts_ms;
    if (auto st = check_message(*t.visitor); !st.ok()) return st;
  }
  for (auto& r : t.replies) {
    if (r.ts_ms == 0) r.ts_ms = t.ts_ms;
    if (auto st = same(r.conversation_id); !st.ok()) return st;
    if (auto st = check_message(r); !st.ok()) return st;
  }
  if (t.context_json) {
    if (t.context_json->empty()) *t.context_json = "{}";
    if (auto st = check_json_object("context_json", *t.context_json); !st.ok()) return st;
  }
  if (t.state && !is_valid_state(t.state->state)) return core::invalid_argument("invalid state");
  if (auto st = check_text("ticket email", t.ticket_email, 254); !st.ok()) return st;
  if (t.state) {
    if (auto st = check_text("team", t.state->team, k_max_team_bytes); !st.ok()) return st;
  }
  for (auto& e : t.events) {
    if (e.ts_ms == 0) e.ts_ms = t.ts_ms;
    if (auto st = same(e.conversation_id); !st.ok()) return st;
    if (auto st = check_event(e); !st.ok()) return st;
  }
  return check_ts(t.ts_ms);
}

// ------------------------------------------------------------------- SQL

// context_json: the dialog context after this message, on the last message a
// turn writes when the turn has one (schema v3); otherwise NULL.
constexpr std::string_view k_insert_message =
    "INSERT INTO messages (conversation_id, seq, client_msg_id, sender, text, meta_json, ts_ms, "
    "context_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
// The conversation's last seq, including rows inserted by the open batch;
// no row when the conversation does not exist.
constexpr std::string_view k_select_last_seq =
    "SELECT coalesce((SELECT max(seq) FROM messages WHERE conversation_id = ?1), 0) "
    "FROM conversations c WHERE id = ?1";
// No index has client_msg_id (schema v2): this reads the conversation's rows
// through messages_seq. Only run when the writer's client_msg_id hashes say
// the id may be a repeat.
constexpr std::string_view k_select_by_client_msg_id =
    "SELECT seq, sender, text, ts_ms FROM messages WHERE conversation_id = ?1 AND client_msg_id = "
    "?2";
constexpr std::string_view k_select_client_msg_ids =
    "SELECT client_msg_id FROM messages WHERE conversation_id = ?1 AND client_msg_id IS NOT NULL";
constexpr std::string_view k_insert_conversation =
    "INSERT INTO conversations (id, token_hash, state, team, context_json, created_ms, updated_ms) "
    "VALUES (?1, ?2, 'bot', '', '{}', ?3, ?3)";
constexpr std::string_view k_update_state =
    "UPDATE conversations SET state = ?2, team = ?3, updated_ms = max(updated_ms, ?4), "
    "closed_ms = CASE WHEN ?2 = 'closed' THEN ?4 ELSE NULL END WHERE id = ?1";
// A context set outside a turn: on the conversation's last message, or on
// the conversation itself while it has none.
constexpr std::string_view k_update_last_message_context =
    "UPDATE messages SET context_json = ?2 WHERE rowid = (SELECT rowid FROM messages WHERE "
    "conversation_id = ?1 ORDER BY seq DESC LIMIT 1)";
constexpr std::string_view k_update_context =
    "UPDATE conversations SET context_json = ?2, updated_ms = max(updated_ms, ?3) WHERE id = ?1";
constexpr std::string_view k_touch_conversation =
    "UPDATE conversations SET updated_ms = max(updated_ms, ?2) WHERE id = ?1";
// Only a bot message can be rated; a second rating replaces the first.
constexpr std::string_view k_upsert_feedback =
    "INSERT INTO feedback (conversation_id, seq, helpful, ts_ms) "
    "SELECT ?1, ?2, ?3, ?4 FROM messages WHERE conversation_id = ?1 AND seq = ?2 AND sender = "
    "'bot' "
    "ON CONFLICT (conversation_id, seq) DO UPDATE SET helpful = excluded.helpful, ts_ms = "
    "excluded.ts_ms";
// A survey taken since the conversation last changed (its close): one per close.
constexpr std::string_view k_survey_taken =
    "SELECT EXISTS (SELECT 1 FROM surveys s JOIN conversations c ON c.id = s.conversation_id "
    "WHERE s.conversation_id = ?1 AND s.ts_ms >= c.updated_ms)";
constexpr std::string_view k_insert_survey =
    "INSERT INTO surveys (conversation_id, csat, comment, ts_ms) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view k_insert_event =
    "INSERT INTO events (ts_ms, kind, conversation_id, data_json) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view k_insert_agent =
    "INSERT INTO agents (name, display_name, password_hash, is_admin, max_chats, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr std::string_view k_insert_agent_team =
    "INSERT INTO agent_teams (agent_id, team) VALUES (?1, ?2)";
constexpr std::string_view k_update_agent_password =
    "UPDATE agents SET password_hash = ?2 WHERE name = ?1";
constexpr std::string_view k_update_agent_disabled =
    "UPDATE agents SET disabled = ?2 WHERE name = ?1";
constexpr std::string_view k_select_agents =
    "SELECT id, name, display_name, password_hash, is_admin, max_chats, disabled, created_ms "
    "FROM agents ORDER BY name";
constexpr std::string_view k_select_agent_by_name =
    "SELECT id, name, display_name, password_hash, is_admin, max_chats, disabled, created_ms "
    "FROM agents WHERE name = ?1";
constexpr std::string_view k_select_agent_teams =
    "SELECT team FROM agent_teams WHERE agent_id = ?1 ORDER BY team";
// A conversation_row, in read_conversation()'s order, from `conversations c`
// and a condition. Its context, last seq and last activity come from its
// messages (schema v3: a turn writes no conversations row): the context is
// that of the newest message with one, else the row's own (set while the
// conversation had no message, or by a schema before v3).
std::string select_conversation(std::string_view condition) {
  return std::string(
             "SELECT id, token_hash, state, team, "
             "coalesce((SELECT m.context_json FROM messages m WHERE m.conversation_id = c.id AND "
             "m.context_json IS NOT NULL ORDER BY m.seq DESC LIMIT 1), c.context_json), "
             "coalesce((SELECT max(m.seq) FROM messages m WHERE m.conversation_id = c.id), 0), "
             "created_ms, "
             "max(c.updated_ms, coalesce((SELECT m.ts_ms FROM messages m WHERE m.conversation_id = "
             "c.id ORDER BY m.seq DESC LIMIT 1), 0)), "
             "(SELECT agent_id FROM assignments a WHERE a.conversation_id = c.id AND "
             "a.released_ms IS NULL), "
             "coalesce(visitor_email, '') FROM conversations c ") +
         std::string(condition);
}
const std::string k_select_conversation_by_id = select_conversation("WHERE id = ?1");
const std::string k_select_conversation_by_token = select_conversation("WHERE token_hash = ?1");
// By the row's own last change (creation, state, a context set apart: the
// index), oldest first.
const std::string k_select_conversations_in_state =
    select_conversation("WHERE state = ?1 ORDER BY c.updated_ms LIMIT ?2");
constexpr std::string_view k_insert_note =
    "INSERT INTO notes (conversation_id, agent_id, text, ts_ms) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view k_select_notes =
    "SELECT n.id, coalesce(a.display_name, ''), n.text, n.ts_ms FROM notes n LEFT JOIN agents a ON "
    "a.id = n.agent_id "
    "WHERE n.conversation_id = ?1 ORDER BY n.ts_ms, n.id LIMIT 1000";
constexpr std::string_view k_insert_ticket =
    "INSERT INTO tickets (conversation_id, email, created_ms) VALUES (?1, ?2, ?3)";
constexpr std::string_view k_set_visitor_email =
    "UPDATE conversations SET visitor_email = ?2 WHERE id = ?1";
constexpr std::string_view k_answer_ticket =
    "UPDATE tickets SET status = 'answered', answered_ms = ?2 WHERE conversation_id = ?1 AND "
    "status = 'open'";
constexpr std::string_view k_insert_assignment =
    "INSERT INTO assignments (conversation_id, agent_id, assigned_ms) VALUES (?1, ?2, ?3)";
constexpr std::string_view k_release_assignment =
    "UPDATE assignments SET released_ms = ?2 WHERE conversation_id = ?1 AND released_ms IS NULL";
constexpr std::string_view k_select_messages_after =
    "SELECT conversation_id, seq, client_msg_id, sender, text, meta_json, ts_ms FROM messages "
    "WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";

// Binds each argument in order, from ?1; stops at the first error.
template <typename... Args>
core::status bind_all(sqlite::statement& s, const Args&... args) {
  core::status st;
  int index = 0;
  auto one = [&](const auto& v) {
    ++index;
    if (!st.ok()) return;
    using V = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<V, std::nullptr_t>) {
      st = s.bind_null(index);
    } else if constexpr (std::is_integral_v<V>) {
      st = s.bind(index, static_cast<std::int64_t>(v));
    } else {
      st = s.bind(index, std::string_view(v));
    }
  };
  (one(args), ...);
  return st;
}

conversation_row read_conversation(const sqlite::statement& s) {
  conversation_row c;
  c.id = s.column_text(0);
  c.token_hash = s.column_text(1);
  c.state = s.column_text(2);
  c.team = s.column_text(3);
  c.context_json = s.column_text(4);
  c.last_seq = s.column_int64(5);
  c.created_ms = s.column_int64(6);
  c.updated_ms = s.column_int64(7);
  c.agent_id = s.column_int64(8);  // NULL reads as 0
  c.visitor_email = s.column_text(9);
  return c;
}

// ------------------------------------------------------------------ writer

// What the writer thread owns: the only write connection and the seq cache.
class writer {
 public:
  explicit writer(sqlite::db d) : db_(std::move(d)) {}

  sqlite::db& db() noexcept { return db_; }

  // Starts a batch: forgets the cache when another connection (another
  // process) committed since our last transaction.
  core::status begin_batch() {
    auto v = db_.cached("PRAGMA data_version");
    if (!v) return v.error();
    auto r = (*v)->step();
    if (!r) return r.error();
    const std::int64_t version = *r == sqlite::step_result::row ? (*v)->column_int64(0) : -1;
    if (version != data_version_) {
      seq_cache_.clear();
      data_version_ = version;
    }
    return {};
  }

  // Before COMMIT: the entries appended to in this batch are settled. (No
  // row of `conversations` is written for them: its last seq and context
  // are read from the messages, schema v3.)
  void end_batch() {
    for (auto& [id, entry] : dirty_) entry->dirty = false;
    dirty_.clear();
  }

  // After COMMIT returned.
  void batch_committed() {
    if (seq_cache_.size() > k_seq_cache_max) seq_cache_.clear();
  }

  // After a failed batch: nothing of it is on disk, so the cache may be ahead.
  void batch_failed() {
    seq_cache_.clear();
    dirty_.clear();
  }

  // `context`, when given, is the dialog context after this message.
  core::result<appended> append(const new_message& m, const std::string* context = nullptr) {
    auto found = seq_entry_for(m.conversation_id);
    if (!found) return found.error();
    auto& [key, entry] = **found;
    // A client_msg_id is unique per conversation: the entry holds the hash
    // of every one the conversation has, so only a possible repeat reads
    // the database (a hash collision reads it and inserts after all).
    const std::uint64_t id_hash = m.client_msg_id.empty() ? 0 : client_msg_id_hash(m.client_msg_id);
    if (!m.client_msg_id.empty() &&
        std::find(entry.client_msg_ids.begin(), entry.client_msg_ids.end(), id_hash) !=
            entry.client_msg_ids.end()) {
      auto first = find_duplicate(m);
      if (!first) return first.error();
      if (*first) return **first;
    }
    const std::int64_t seq = entry.last_seq + 1;
    const std::string_view from = sender_name(m.from);
    auto s = db_.cached(k_insert_message);
    if (!s) return s.error();
    // The message outlives the step, so its text is bound without a copy.
    // Empty client_msg_id and meta_json are stored as NULL.
    sqlite::statement& ins = **s;
    core::status st = ins.bind_ref(1, m.conversation_id);
    if (st.ok()) st = ins.bind(2, seq);
    if (st.ok()) st = m.client_msg_id.empty() ? ins.bind_null(3) : ins.bind_ref(3, m.client_msg_id);
    if (st.ok()) st = ins.bind_ref(4, from);
    if (st.ok()) st = ins.bind_ref(5, m.text);
    if (st.ok()) st = m.meta_json.empty() ? ins.bind_null(6) : ins.bind_ref(6, m.meta_json);
    if (st.ok()) st = ins.bind(7, m.ts_ms);
    if (st.ok()) st = context ? ins.bind_ref(8, *context) : ins.bind_null(8);
    if (st.ok()) st = ins.run();
    if (!st.ok()) {
      const int code = (*s)->last_extended_code();
      // Our cache was wrong (it cannot be when this process is the only
      // writer of messages): forget it and fail this append only. An entry
      // appended to in this batch is right (we hold the write lock) and is
      // referenced by dirty_, so it stays.
      if (!entry.dirty) seq_cache_.erase(m.conversation_id);
      if (code == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return core::not_found("conversation " + m.conversation_id + " not found");
      }
      return st;
    }
    entry.last_seq = seq;
    if (!m.client_msg_id.empty()) entry.client_msg_ids.push_back(id_hash);
    if (!entry.dirty) {
      entry.dirty = true;
      dirty_.emplace_back(&key, &entry);
    }
    return appended{seq, m.ts_ms, false};
  }

  // One turn, inside the job's savepoint. When the job fails after an
  // append, the savepoint undoes the rows, so the seq cache is put back too.
  core::result<turn_appended> append_turn(const new_turn& t) {
    const std::string& id = t.visitor ? t.visitor->conversation_id : t.conversation_id;
    auto found = seq_entry_for(id);
    if (!found) return found.error();
    seq_entry& entry = (*found)->second;
    const std::int64_t last_seq = entry.last_seq;
    const std::size_t ids = entry.client_msg_ids.size();
    auto result = write_turn(t);
    if (!result) {
      // The savepoint undid the rows: so is the cache.
      entry.last_seq = last_seq;
      entry.client_msg_ids.resize(ids);
    }
    return result;
  }

  core::status record_feedback(const std::string& id, std::int64_t seq, bool helpful,
                               std::int64_t ts_ms) {
    auto s = db_.cached(k_upsert_feedback);
    if (!s) return s.error();
    if (auto st = bind_all(**s, id, seq, helpful ? 1 : 0, ts_ms); !st.ok()) return st;
    if (auto st = (*s)->run(); !st.ok()) return st;
    if (db_.changes() == 0) {
      return core::not_found("conversation " + id + " has no bot message " + std::to_string(seq));
    }
    return {};
  }

  core::result<std::int64_t> record_survey(const std::string& id, int csat,
                                           const std::string& comment, std::int64_t ts_ms) {
    auto taken = db_.cached(k_survey_taken);
    if (!taken) return taken.error();
    if (auto st = bind_all(**taken, id); !st.ok()) return st;
    auto row = (*taken)->step();
    if (!row) return row.error();
    const bool already = *row == sqlite::step_result::row && (*taken)->column_int64(0) != 0;
    (*taken)->reset();
    if (already) return core::conflict("this conversation's survey was already taken");
    auto s = db_.cached(k_insert_survey);
    if (!s) return s.error();
    if (auto st = bind_all(**s, id, csat, comment, ts_ms); !st.ok()) return st;
    if (auto st = (*s)->run(); !st.ok()) {
      if ((*s)->last_extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY)
        return core::not_found("conversation " + id + " not found");
      return st;
    }
    return db_.last_insert_rowid();
  }

  core::result<conversation_row> create_conversation(const new_conversation& c) {
    auto s = db_.cached(k_insert_conversation);
    if (!s) return s.error();
    if (auto st = bind_all(**s, c.id, c.token_hash, c.ts_ms); !st.ok()) return st;
    if (auto st = (*s)->run(); !st.ok()) {
      const int code = (*s)->last_extended_code();
      if (code == SQLITE_CONSTRAINT_PRIMARYKEY)
        return core::conflict("conversation " + c.id + " exists");
      if (code == SQLITE_CONSTRAINT_UNIQUE) return core::conflict("token hash already in use");
      return st;
    }
    // A new conversation has no messages: its first append needs no lookup.
    seq_cache_.insert_or_assign(c.id, seq_entry{});
    conversation_row row;
    row.id = c.id;
    row.token_hash = c.token_hash;
    row.context_json = "{}";
    row.created_ms = c.ts_ms;
    row.updated_ms = c.ts_ms;
    return row;
  }

  core::status set_state(const std::string& id, const std::string& state, const std::string& team,
                         std::int64_t ts_ms) {
    auto s = db_.cached(k_update_state);
    if (!s) return s.error();
    if (auto st = bind_all(**s, id, state, team, ts_ms); !st.ok()) return st;
    if (auto st = (*s)->run(); !st.ok()) return st;
    if (db_.changes() == 0) return core::not_found("conversation " + id + " not found");
    return {};
  }

  // A context set outside the messages of a turn: it goes on the
  // conversation's last message (the context after it), or on the
  // conversation's row while it has no message.
  core::status set_context(const std::string& id, const std::string& context_json,
                           std::int64_t ts_ms) {
    auto on_message = db_.cached(k_update_last_message_context);
    if (!on_message) return on_message.error();
    if (auto st = bind_all(**on_message, id, context_json); !st.ok()) return st;
    if (auto st = (*on_message)->run(); !st.ok()) return st;
    if (db_.changes() == 1) {
      // A change of the conversation apart from its messages: its row's time.
      auto touch = db_.cached(k_touch_conversation);
      if (!touch) return touch.error();
      if (auto st = bind_all(**touch, id, ts_ms); !st.ok()) return st;
      return (*touch)->run();
    }
    auto s = db_.cached(k_update_context);
    if (!s) return s.error();
    if (auto st = bind_all(**s, id, context_json, ts_ms); !st.ok()) return st;
    if (auto st = (*s)->run(); !st.ok()) return st;
    if (db_.changes() == 0) return core::not_found("conversation " + id + " not found");
    return {};
  }

  core::result<std::int64_t> append_event(const new_event& e) {
    auto s = db_.cached(k_insert_event);
    if (!s) return s.error();
    core::status st =
        bind_all(**s, e.ts_ms, e.kind, std::string_view(e.conversation_id),
                 e.data_json.empty() ? std::string_view("{}") : std::string_view(e.data_json));
    if (st.ok() && e.conversation_id.empty()) st = (*s)->bind_null(3);
    if (st.ok()) st = (*s)->run();
    if (!st.ok()) return st;
    return db_.last_insert_rowid();
  }

 private:
  struct seq_entry {
    std::int64_t last_seq = 0;
    bool dirty = false;  // appended to in this batch
    // client_msg_id_hash of each client_msg_id of the conversation.
    std::vector<std::uint64_t> client_msg_ids;
  };
  using seq_map = std::unordered_map<std::string, seq_entry>;

  core::result<seq_map::value_type*> seq_entry_for(const std::string& id) {
    if (auto it = seq_cache_.find(id); it != seq_cache_.end()) return &*it;
    auto s = db_.cached(k_select_last_seq);
    if (!s) return s.error();
    if (auto st = (*s)->bind(1, std::string_view(id)); !st.ok()) return st;
    auto r = (*s)->step();
    if (!r) return r.error();
    if (*r == sqlite::step_result::done)
      return core::not_found("conversation " + id + " not found");
    seq_entry e;
    e.last_seq = (*s)->column_int64(0);
    (*s)->reset();
    auto ids = db_.cached(k_select_client_msg_ids);
    if (!ids) return ids.error();
    if (auto st = (*ids)->bind(1, std::string_view(id)); !st.ok()) return st;
    for (;;) {
      auto row = (*ids)->step();
      if (!row) return row.error();
      if (*row == sqlite::step_result::done) break;
      e.client_msg_ids.push_back(client_msg_id_hash((*ids)->column_text_view(0)));
    }
    return &*seq_cache_.emplace(id, std::move(e)).first;
  }

  static std::uint64_t client_msg_id_hash(std::string_view id) noexcept {
    return std::hash<std::string_view>{}(id);
  }

  core::result<turn_appended> write_turn(const new_turn& t) {
    turn_appended out;
    // The turn's context goes on the last message it writes: the context
    // after that message. A turn that writes none updates it apart.
    const std::string* context = t.context_json ? &*t.context_json : nullptr;
    if (t.visitor) {
      auto v = append(*t.visitor, t.replies.empty() ? context : nullptr);
      if (!v) return v.error();
      out.visitor = *v;
      if (v->duplicate) return out;  // answered the first time: write nothing
    }
    for (std::size_t i = 0; i < t.replies.size(); ++i) {
      auto a = append(t.replies[i], i + 1 == t.replies.size() ? context : nullptr);
      if (!a) return a.error();
      out.replies.push_back(*a);
    }
    const std::string& id = t.visitor ? t.visitor->conversation_id : t.conversation_id;
    if (context && !t.visitor && t.replies.empty()) {
      if (auto st = set_context(id, *context, t.ts_ms); !st.ok()) return st;
    }
    if (t.state) {
      if (auto st = set_state(id, t.state->state, t.state->team, t.ts_ms); !st.ok()) return st;
    }
    if (!t.ticket_email.empty()) {
      for (const auto sql : {k_insert_ticket, k_set_visitor_email}) {
        auto s = db_.cached(sql);
        if (!s) return s.error();
        core::status b = sql == k_insert_ticket ? bind_all(**s, id, t.ticket_email, t.ts_ms)
                                                : bind_all(**s, id, t.ticket_email);
        if (!b.ok()) return b;
        if (auto st = (*s)->run(); !st.ok()) return st;
      }
    }
    if (t.answer_ticket) {
      auto s = db_.cached(k_answer_ticket);
      if (!s) return s.error();
      if (auto st = bind_all(**s, id, t.ts_ms); !st.ok()) return st;
      if (auto st = (*s)->run(); !st.ok()) return st;
    }
    if (t.release_agent) {
      auto s = db_.cached(k_release_assignment);
      if (!s) return s.error();
      if (auto st = bind_all(**s, id, t.ts_ms); !st.ok()) return st;
      if (auto st = (*s)->run(); !st.ok()) return st;
    }
    if (t.assign_agent != 0) {
      auto s = db_.cached(k_insert_assignment);
      if (!s) return s.error();
      if (auto st = bind_all(**s, id, t.assign_agent, t.ts_ms); !st.ok()) return st;
      if (auto st = (*s)->run(); !st.ok()) {
        if ((*s)->last_extended_code() == SQLITE_CONSTRAINT_UNIQUE)
          return core::conflict("conversation " + id + " already has an agent");
        if ((*s)->last_extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY)
          return core::not_found("no agent " + std::to_string(t.assign_agent));
        return st;
      }
    }
    for (const auto& e : t.events) {
      auto r = append_event(e);
      if (!r) return r.error();
    }
    return out;
  }

  // The first message with m's client_msg_id in its conversation (marked
  // duplicate), none, or conflict when that one differs from m.
  core::result<std::optional<appended>> find_duplicate(const new_message& m) {
    auto s = db_.cached(k_select_by_client_msg_id);
    if (!s) return s.error();
    if (auto st = bind_all(**s, m.conversation_id, m.client_msg_id); !st.ok()) return st;
    auto r = (*s)->step();
    if (!r) return r.error();
    if (*r == sqlite::step_result::done) return std::optional<appended>();
    if ((*s)->column_text_view(1) != sender_name(m.from) || (*s)->column_text_view(2) != m.text) {
      return core::conflict("client_msg_id " + m.client_msg_id + " was used for another message");
    }
    return std::optional<appended>(appended{(*s)->column_int64(0), (*s)->column_int64(3), true});
  }

  sqlite::db db_;
  seq_map seq_cache_;
  // Entries appended to in the open batch; pointers into seq_cache_ (node
  // based, so stable), which is only cleared between batches.
  std::vector<std::pair<const std::string*, seq_entry*>> dirty_;
  std::int64_t data_version_ = -1;
};

// One queued write. run() executes inside the batch transaction and records
// the outcome (or set_failed replaces it); complete() then calls the
// completion with it.
class write_job {
 public:
  virtual ~write_job() = default;
  virtual void run(writer& w) = 0;
  virtual bool succeeded() const = 0;
  // Replaces the recorded outcome (the batch or the job's savepoint failed).
  virtual void set_failed(core::status s) = 0;
  virtual void complete() = 0;
  // Jobs of more than one write statement run inside a SAVEPOINT.
  virtual bool multi_statement() const { return false; }
};

template <typename T, typename Fn>
class result_job final : public write_job {
 public:
  result_job(Fn fn, callback<T> done, bool multi = false)
      : fn_(std::move(fn)), done_(std::move(done)), multi_(multi) {}
  void run(writer& w) override { outcome_.emplace(fn_(w)); }
  bool multi_statement() const override { return multi_; }
  bool succeeded() const override { return outcome_ && outcome_->ok(); }
  void set_failed(core::status s) override { outcome_.emplace(std::move(s)); }
  void complete() override {
    if (!outcome_) outcome_.emplace(core::internal_error("write was not run"));
    if (done_) done_(std::move(*outcome_));
  }

 private:
  Fn fn_;
  callback<T> done_;
  bool multi_;
  std::optional<core::result<T>> outcome_;
};

template <typename Fn>
class status_job final : public write_job {
 public:
  status_job(Fn fn, done_callback done) : fn_(std::move(fn)), done_(std::move(done)) {}
  void run(writer& w) override { outcome_ = fn_(w); }
  bool succeeded() const override { return outcome_.ok(); }
  void set_failed(core::status s) override { outcome_ = std::move(s); }
  void complete() override {
    if (done_) done_(std::move(outcome_));
  }

 private:
  Fn fn_;
  done_callback done_;
  core::status outcome_ = core::internal_error("write was not run");
};

// One queued read, run on a reader thread with its connection.
class read_job {
 public:
  virtual ~read_job() = default;
  virtual void run(sqlite::db& d) = 0;
  virtual void fail(core::status s) = 0;
};

template <typename T, typename Fn>
class typed_read_job final : public read_job {
 public:
  typed_read_job(Fn fn, callback<T> done) : fn_(std::move(fn)), done_(std::move(done)) {}
  void run(sqlite::db& d) override {
    core::result<T> r = fn_(d);
    if (done_) done_(std::move(r));
  }
  void fail(core::status s) override {
    if (done_) done_(std::move(s));
  }

 private:
  Fn fn_;
  callback<T> done_;
};

// Calls a completion; a throwing completion is a bug of the caller, but it
// must not take the writer or a reader down.
template <typename F>
void call_completion(F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    core::log::error("store_completion_threw", {{"what", e.what()}});
  } catch (...) {
    core::log::error("store_completion_threw", {});
  }
}

std::size_t bucket_index(const auto& bounds, double v) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (v <= bounds[i]) return i;
  }
  return bounds.size();
}

// Runs an UPDATE of one agent by name (?1) with `value` (?2).
template <typename V>
core::status update_agent(sqlite::db& d, std::string_view sql, const std::string& name,
                          const V& value) {
  auto s = d.cached(sql);
  if (!s) return s.error();
  if (auto st = bind_all(**s, name, value); !st.ok()) return st;
  if (auto st = (*s)->run(); !st.ok()) return st;
  if (d.changes() == 0) return core::not_found("no agent '" + name + "'");
  return {};
}

// Agents with their teams: one row (`name` given) or all, by name.
core::result<std::vector<agent_row>> query_agents(sqlite::db& d, const std::string* name) {
  auto s = d.cached(name ? k_select_agent_by_name : k_select_agents);
  if (!s) return s.error();
  if (name) {
    if (auto st = (*s)->bind(1, std::string_view(*name)); !st.ok()) return st;
  }
  std::vector<agent_row> rows;
  for (;;) {
    auto r = (*s)->step();
    if (!r) return r.error();
    if (*r == sqlite::step_result::done) break;
    agent_row a;
    a.id = (*s)->column_int64(0);
    a.name = (*s)->column_text(1);
    a.display_name = (*s)->column_text(2);
    a.password_hash = (*s)->column_text(3);
    a.admin = (*s)->column_int64(4) != 0;
    a.max_chats = static_cast<int>((*s)->column_int64(5));
    a.disabled = (*s)->column_int64(6) != 0;
    a.created_ms = (*s)->column_int64(7);
    rows.push_back(std::move(a));
  }
  auto t = d.cached(k_select_agent_teams);
  if (!t) return t.error();
  for (auto& a : rows) {
    if (auto st = (*t)->bind(1, a.id); !st.ok()) return st;
    for (;;) {
      auto r = (*t)->step();
      if (!r) return r.error();
      if (*r == sqlite::step_result::done) break;
      a.teams.push_back((*t)->column_text(0));
    }
    (*t)->reset();
  }
  return rows;
}

// ------------------------------------------------------------ sqlite_store

class sqlite_store final : public store {
 public:
  sqlite_store(std::string path, const core::store_config& cfg, const core::clock& clock,
               sqlite::db write_db, sqlite::db checkpoint_db, std::vector<sqlite::db> read_dbs)
      : path_(std::move(path)),
        cfg_(cfg),
        clock_(clock),
        writer_(std::make_unique<writer>(std::move(write_db))) {
    writer_->db().set_wal_hook([this](int frames) { on_wal_commit(frames); });
    checkpointer_ =
        std::thread([this, conn = std::make_shared<sqlite::db>(std::move(checkpoint_db))] {
          core::set_thread_name("sb-checkpoint");
          checkpoint_loop(*conn);
        });
    readers_.reserve(read_dbs.size());
    for (auto& d : read_dbs) {
      readers_.emplace_back([this, conn = std::make_shared<sqlite::db>(std::move(d))]() mutable {
        core::set_thread_name("sb-store-read");
        reader_loop(*conn);
      });
    }
    writer_thread_ = std::thread([this] {
      core::set_thread_name("sb-store-write");
      writer_loop();
    });
  }

  ~sqlite_store() override { close(); }

  // ---- writes

  void create_conversation(new_conversation c, callback<conversation_row> done) override {
    if (c.ts_ms == 0) c.ts_ms = clock_.now_ms();
    core::status st = check_id("conversation id", c.id, k_max_id_bytes);
    if (st.ok()) st = check_id("token_hash", c.token_hash, k_max_token_hash_bytes);
    if (st.ok()) st = check_ts(c.ts_ms);
    if (!st.ok()) return refuse(std::move(st), done);
    submit(make_result_job<conversation_row>(
        [c = std::move(c)](writer& w) { return w.create_conversation(c); }, std::move(done)));
  }

  void append_message(new_message m, callback<appended> done) override {
    if (m.ts_ms == 0) m.ts_ms = clock_.now_ms();
    if (auto st = check_message(m); !st.ok()) return refuse(std::move(st), done);
    submit(make_result_job<appended>([m = std::move(m)](writer& w) { return w.append(m); },
                                     std::move(done)));
  }

  void set_conversation_state(std::string conversation_id, std::string state, std::string team,
                              std::int64_t ts_ms, done_callback done) override {
    if (ts_ms == 0) ts_ms = clock_.now_ms();
    core::status st = check_id("conversation id", conversation_id, k_max_id_bytes);
    if (st.ok() && !is_valid_state(state)) {
      st = core::invalid_argument("invalid state '" + core::sanitize_utf8(state.substr(0, 32)) +
                                  "' (bot, queued, agent, ticket or closed)");
    }
    if (st.ok()) st = check_text("team", team, k_max_team_bytes);
    if (st.ok()) st = check_ts(ts_ms);
    if (!st.ok()) return refuse_status(std::move(st), done);
    submit(make_status_job(
        [id = std::move(conversation_id), state = std::move(state), team = std::move(team),
         ts_ms](writer& w) { return w.set_state(id, state, team, ts_ms); },
        std::move(done)));
  }

  void set_conversation_context(std::string conversation_id, std::string context_json,
                                std::int64_t ts_ms, done_callback done) override {
    if (ts_ms == 0) ts_ms = clock_.now_ms();
    if (context_json.empty()) context_json = "{}";
    core::status st = check_id("conversation id", conversation_id, k_max_id_bytes);
    if (st.ok()) st = check_json_object("context_json", context_json);
    if (st.ok()) st = check_ts(ts_ms);
    if (!st.ok()) return refuse_status(std::move(st), done);
    submit(make_status_job([id = std::move(conversation_id), ctx = std::move(context_json),
                            ts_ms](writer& w) { return w.set_context(id, ctx, ts_ms); },
                           std::move(done)));
  }

  void append_turn(new_turn t, callback<turn_appended> done) override {
    if (t.ts_ms == 0) t.ts_ms = clock_.now_ms();
    core::status st = check_turn(t);
    if (!st.ok()) return refuse(std::move(st), done);
    submit(make_multi_job<turn_appended>([t = std::move(t)](writer& w) { return w.append_turn(t); },
                                         std::move(done)));
  }

  void record_feedback(std::string conversation_id, std::int64_t seq, bool helpful,
                       std::int64_t ts_ms, done_callback done) override {
    if (ts_ms == 0) ts_ms = clock_.now_ms();
    core::status st = check_id("conversation id", conversation_id, k_max_id_bytes);
    if (st.ok() && seq < 1) st = core::invalid_argument("seq must be at least 1");
    if (st.ok()) st = check_ts(ts_ms);
    if (!st.ok()) return refuse_status(std::move(st), done);
    submit(make_status_job([id = std::move(conversation_id), seq, helpful, ts_ms](
                               writer& w) { return w.record_feedback(id, seq, helpful, ts_ms); },
                           std::move(done)));
  }

  void record_survey(std::string conversation_id, int csat, std::string comment, std::int64_t ts_ms,
                     callback<std::int64_t> done) override {
    if (ts_ms == 0) ts_ms = clock_.now_ms();
    core::status st = check_id("conversation id", conversation_id, k_max_id_bytes);
    if (st.ok() && (csat < 1 || csat > 5)) st = core::invalid_argument("csat must be 1 to 5");
    if (st.ok()) st = check_text("survey comment", comment, k_max_comment_bytes);
    if (st.ok()) st = check_ts(ts_ms);
    if (!st.ok()) return refuse(std::move(st), done);
    submit(make_result_job<std::int64_t>(
        [id = std::move(conversation_id), csat, comment = std::move(comment), ts_ms](writer& w) {
          return w.record_survey(id, csat, comment, ts_ms);
        },
        std::move(done)));
  }

  void append_event(new_event e, callback<std::int64_t> done) override {
    if (e.ts_ms == 0) e.ts_ms = clock_.now_ms();
    if (auto st = check_event(e); !st.ok()) return refuse(std::move(st), done);
    submit(make_result_job<std::int64_t>(
        [e = std::move(e)](writer& w) { return w.append_event(e); }, std::move(done)));
  }

  void add_agent(new_agent a, callback<agent_row> done) override {
    if (a.ts_ms == 0) a.ts_ms = clock_.now_ms();
    if (a.display_name.empty()) a.display_name = a.name;
    core::status st = check_agent_name(a.name);
    if (st.ok()) st = check_text("display name", a.display_name, 128);
    if (st.ok() && (a.password_hash.empty() || a.password_hash.size() > 512))
      st = core::invalid_argument("password hash is empty or too long");
    if (st.ok() && (a.max_chats < 0 || a.max_chats > 1000))
      st = core::invalid_argument("max chats must be 0 to 1000");
    if (st.ok() && a.teams.size() > k_max_agent_teams)
      st = core::invalid_argument("an agent has at most " + std::to_string(k_max_agent_teams) +
                                  " teams");
    for (const auto& t : a.teams) {
      if (st.ok()) st = check_id("team", t, k_max_team_bytes);
    }
    if (st.ok()) st = check_ts(a.ts_ms);
    if (!st.ok()) return refuse(std::move(st), done);
    std::sort(a.teams.begin(), a.teams.end());
    a.teams.erase(std::unique(a.teams.begin(), a.teams.end()), a.teams.end());
    submit(make_multi_job<agent_row>(
        [a = std::move(a)](writer& w) -> core::result<agent_row> {
          sqlite::db& d = w.db();
          auto s = d.cached(k_insert_agent);
          if (!s) return s.error();
          if (auto b = bind_all(**s, a.name, a.display_name, a.password_hash, a.admin ? 1 : 0,
                                static_cast<std::int64_t>(a.max_chats), a.ts_ms);
              !b.ok())
            return b;
          if (auto r = (*s)->run(); !r.ok()) {
            if ((*s)->last_extended_code() == SQLITE_CONSTRAINT_UNIQUE)
              return core::conflict("agent '" + a.name + "' exists");
            return r;
          }
          agent_row row;
          row.id = d.last_insert_rowid();
          for (const auto& team : a.teams) {
            auto t = d.cached(k_insert_agent_team);
            if (!t) return t.error();
            if (auto b = bind_all(**t, row.id, team); !b.ok()) return b;
            if (auto r = (*t)->run(); !r.ok()) return r;
          }
          row.name = a.name;
          row.display_name = a.display_name;
          row.password_hash = a.password_hash;
          row.teams = a.teams;
          row.admin = a.admin;
          row.max_chats = a.max_chats;
          row.created_ms = a.ts_ms;
          return row;
        },
        std::move(done)));
  }

  void set_agent_password(std::string name, std::string password_hash,
                          done_callback done) override {
    core::status st = check_agent_name(name);
    if (st.ok() && (password_hash.empty() || password_hash.size() > 512))
      st = core::invalid_argument("password hash is empty or too long");
    if (!st.ok()) return refuse_status(std::move(st), done);
    submit(make_status_job(
        [name = std::move(name), hash = std::move(password_hash)](writer& w) -> core::status {
          return update_agent(w.db(), k_update_agent_password, name, hash);
        },
        std::move(done)));
  }

  void set_agent_disabled(std::string name, bool disabled, done_callback done) override {
    if (auto st = check_agent_name(name); !st.ok()) return refuse_status(std::move(st), done);
    submit(make_status_job(
        [name = std::move(name), disabled](writer& w) -> core::status {
          return update_agent(w.db(), k_update_agent_disabled, name,
                              std::int64_t{disabled ? 1 : 0});
        },
        std::move(done)));
  }

  // ---- reads

  void find_agent(std::string name, callback<agent_row> done) override {
    if (auto st = check_agent_name(name); !st.ok()) return refuse(std::move(st), done);
    submit_read(make_read_job<agent_row>(
        [name = std::move(name)](sqlite::db& d) -> core::result<agent_row> {
          auto rows = query_agents(d, &name);
          if (!rows) return rows.error();
          if (rows.value().empty()) return core::not_found("no agent '" + name + "'");
          return std::move(rows.value().front());
        },
        std::move(done)));
  }

  void add_note(std::string conversation_id, std::int64_t agent_id, std::string text,
                std::int64_t ts_ms, callback<std::int64_t> done) override {
    if (ts_ms == 0) ts_ms = clock_.now_ms();
    core::status st = check_id("conversation id", conversation_id, k_max_id_bytes);
    if (st.ok()) st = check_text("note", text, k_max_note_bytes);
    if (st.ok() && core::is_blank(text)) st = core::invalid_argument("the note is empty");
    if (!st.ok()) return refuse(std::move(st), done);
    submit(make_result_job<std::int64_t>(
        [id = std::move(conversation_id), agent_id, text = std::move(text),
         ts_ms](writer& w) -> core::result<std::int64_t> {
          sqlite::db& d = w.db();
          auto s = d.cached(k_insert_note);
          if (!s) return s.error();
          if (auto b = bind_all(**s, id, agent_id, text, ts_ms); !b.ok()) return b;
          if (auto r = (*s)->run(); !r.ok()) {
            if ((*s)->last_extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY)
              return core::not_found("no conversation or agent for this note");
            return r;
          }
          return d.last_insert_rowid();
        },
        std::move(done)));
  }

  void list_notes(std::string conversation_id, callback<std::vector<note_row>> done) override {
    if (auto st = check_id("conversation id", conversation_id, k_max_id_bytes); !st.ok())
      return refuse(std::move(st), done);
    submit_read(make_read_job<std::vector<note_row>>(
        [id = std::move(conversation_id)](sqlite::db& d) -> core::result<std::vector<note_row>> {
          auto s = d.cached(k_select_notes);
          if (!s) return s.error();
          if (auto b = (*s)->bind(1, std::string_view(id)); !b.ok()) return b;
          std::vector<note_row> rows;
          for (;;) {
            auto r = (*s)->step();
            if (!r) return r.error();
            if (*r == sqlite::step_result::done) break;
            rows.push_back({(*s)->column_int64(0), (*s)->column_text(1), (*s)->column_text(2),
                            (*s)->column_int64(3)});
          }
          return rows;
        },
        std::move(done)));
  }

  void list_conversations(std::string state, int limit,
                          callback<std::vector<conversation_row>> done) override {
    core::status st;
    if (!is_valid_state(state)) st = core::invalid_argument("invalid state");
    if (st.ok() && (limit < 1 || limit > k_max_read_limit))
      st =
          core::invalid_argument("limit must be between 1 and " + std::to_string(k_max_read_limit));
    if (!st.ok()) return refuse(std::move(st), done);
    submit_read(make_read_job<std::vector<conversation_row>>(
        [state = std::move(state),
         limit](sqlite::db& d) -> core::result<std::vector<conversation_row>> {
          auto s = d.cached(k_select_conversations_in_state);
          if (!s) return s.error();
          if (auto b = bind_all(**s, state, static_cast<std::int64_t>(limit)); !b.ok()) return b;
          std::vector<conversation_row> rows;
          for (;;) {
            auto r = (*s)->step();
            if (!r) return r.error();
            if (*r == sqlite::step_result::done) break;
            rows.push_back(read_conversation(**s));
          }
          return rows;
        },
        std::move(done)));
  }

  void list_agents(callback<std::vector<agent_row>> done) override {
    submit_read(make_read_job<std::vector<agent_row>>(
        [](sqlite::db& d) { return query_agents(d, nullptr); }, std::move(done)));
  }

  void get_conversation(std::string id, callback<conversation_row> done) override {
    if (auto st = check_id("conversation id", id, k_max_id_bytes); !st.ok())
      return refuse(std::move(st), done);
    submit_read(make_read_job<conversation_row>(
        [id = std::move(id)](sqlite::db& d) -> core::result<conversation_row> {
          return query_conversation(d, k_select_conversation_by_id, id,
                                    "conversation " + id + " not found");
        },
        std::move(done)));
  }

  void find_conversation_by_token(std::string token_hash,
                                  callback<conversation_row> done) override {
    if (auto st = check_id("token_hash", token_hash, k_max_token_hash_bytes); !st.ok()) {
      return refuse(std::move(st), done);
    }
    submit_read(make_read_job<conversation_row>(
        [token = std::move(token_hash)](sqlite::db& d) -> core::result<conversation_row> {
          return query_conversation(d, k_select_conversation_by_token, token,
                                    "no conversation has this token");
        },
        std::move(done)));
  }

  void messages_after(std::string conversation_id, std::int64_t after_seq, int limit,
                      callback<std::vector<message_row>> done) override {
    core::status st = check_id("conversation id", conversation_id, k_max_id_bytes);
    if (st.ok() && (limit < 1 || limit > k_max_read_limit)) {
      st =
          core::invalid_argument("limit must be between 1 and " + std::to_string(k_max_read_limit));
    }
    if (!st.ok()) return refuse(std::move(st), done);
    submit_read(make_read_job<std::vector<message_row>>(
        [id = std::move(conversation_id), after_seq,
         limit](sqlite::db& d) -> core::result<std::vector<message_row>> {
          auto s = d.cached(k_select_messages_after);
          if (!s) return s.error();
          if (auto b = bind_all(**s, id, after_seq, limit); !b.ok()) return b;
          std::vector<message_row> rows;
          for (;;) {
            auto r = (*s)->step();
            if (!r) return r.error();
            if (*r == sqlite::step_result::done) break;
            message_row m;
            m.conversation_id = (*s)->column_text(0);
            m.seq = (*s)->column_int64(1);
            m.client_msg_id = (*s)->column_text(2);
            m.from = (*s)->column_text(3);
            m.text = (*s)->column_text(4);
            m.meta_json = (*s)->column_text(5);
            m.ts_ms = (*s)->column_int64(6);
            rows.push_back(std::move(m));
          }
          return rows;
        },
        std::move(done)));
  }

  // ---- state

  bool healthy() const override {
    std::lock_guard lk(mu_);
    return !stopping_ && writer_alive_;
  }

  store_stats stats() const override {
    store_stats s;
    {
      std::lock_guard lk(stats_mu_);
      s = stats_;
    }
    std::lock_guard lk(mu_);
    s.queue_depth = queue_.size();
    return s;
  }

  void close() override {
    if (on_own_thread()) {
      // Joining ourselves would throw; the contract forbids this call here.
      core::log::error("store_close_from_completion", {{"path", path_}});
      return;
    }
    std::lock_guard close_lock(close_mu_);
    {
      std::lock_guard lk(mu_);
      if (closed_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
    {
      std::lock_guard lk(read_mu_);
      read_stopping_ = true;
    }
    read_cv_.notify_all();
    for (auto& t : readers_) {
      if (t.joinable()) t.join();
    }
    {
      std::lock_guard lk(ckpt_mu_);
      ckpt_stopping_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    // The write connection closes last: as the last connection it
    // checkpoints the WAL into the database file.
    writer_.reset();
    {
      std::lock_guard lk(mu_);
      closed_ = true;
    }
    const store_stats s = stats();
    core::log::info("store_closed", {{"path", path_},
                                     {"writes_ok", s.writes_ok},
                                     {"writes_failed", s.writes_failed},
                                     {"batches", s.batches}});
  }

 private:
  template <typename T, typename Fn>
  static std::unique_ptr<write_job> make_result_job(Fn fn, callback<T> done) {
    return std::make_unique<result_job<T, Fn>>(std::move(fn), std::move(done));
  }
  // A job of several statements: it runs in a SAVEPOINT, all or nothing.
  template <typename T, typename Fn>
  static std::unique_ptr<write_job> make_multi_job(Fn fn, callback<T> done) {
    return std::make_unique<result_job<T, Fn>>(std::move(fn), std::move(done), true);
  }
  template <typename Fn>
  static std::unique_ptr<write_job> make_status_job(Fn fn, done_callback done) {
    return std::make_unique<status_job<Fn>>(std::move(fn), std::move(done));
  }
  template <typename T, typename Fn>
  static std::unique_ptr<read_job> make_read_job(Fn fn, callback<T> done) {
    return std::make_unique<typed_read_job<T, Fn>>(std::move(fn), std::move(done));
  }

  static core::result<conversation_row> query_conversation(sqlite::db& d, std::string_view sql,
                                                           const std::string& key,
                                                           std::string not_found) {
    auto s = d.cached(sql);
    if (!s) return s.error();
    if (auto st = (*s)->bind(1, std::string_view(key)); !st.ok()) return st;
    auto r = (*s)->step();
    if (!r) return r.error();
    if (*r == sqlite::step_result::done) return core::not_found(std::move(not_found));
    return read_conversation(**s);
  }

  void count_refused() {
    std::lock_guard lk(stats_mu_);
    ++stats_.writes_failed;
  }

  template <typename T>
  void refuse(core::status st, const callback<T>& done) {
    if (done) call_completion([&] { done(std::move(st)); });
  }
  void refuse_status(core::status st, const done_callback& done) {
    if (done) call_completion([&] { done(std::move(st)); });
  }

  void submit(std::unique_ptr<write_job> job) {
    bool notify = false;
    {
      std::lock_guard lk(mu_);
      if (stopping_) {
        job->set_failed(core::unavailable("store closed"));
      } else if (queue_.size() >= static_cast<std::size_t>(cfg_.queue_max)) {
        job->set_failed(core::unavailable("store overloaded"));
      } else {
        queue_.push_back(std::move(job));
        notify = writer_waiting_;
      }
    }
    if (job) {
      count_refused();
      call_completion([&] { job->complete(); });
      return;
    }
    if (notify) cv_.notify_one();
  }

  void submit_read(std::unique_ptr<read_job> job) {
    {
      std::lock_guard lk(read_mu_);
      if (!read_stopping_ && read_queue_.size() < static_cast<std::size_t>(cfg_.queue_max)) {
        read_queue_.push_back(std::move(job));
      }
    }
    if (job) {
      const bool closing = [&] {
        std::lock_guard lk(read_mu_);
        return read_stopping_;
      }();
      call_completion(
          [&] { job->fail(core::unavailable(closing ? "store closed" : "store overloaded")); });
      return;
    }
    read_cv_.notify_one();
  }

  void reader_loop(sqlite::db& d) {
    for (;;) {
      std::unique_ptr<read_job> job;
      {
        std::unique_lock lk(read_mu_);
        read_cv_.wait(lk, [&] { return read_stopping_ || !read_queue_.empty(); });
        if (read_queue_.empty()) return;  // stopping and drained
        job = std::move(read_queue_.front());
        read_queue_.pop_front();
      }
      call_completion([&] { job->run(d); });
    }
  }

  bool on_own_thread() const {
    const auto me = std::this_thread::get_id();
    if (me == writer_thread_.get_id() || me == checkpointer_.get_id()) return true;
    return std::any_of(readers_.begin(), readers_.end(),
                       [&](const std::thread& t) { return t.get_id() == me; });
  }

  // On the writer thread, inside COMMIT (the connection must not be used).
  void on_wal_commit(int frames) {
    if (frames >= k_wal_hard_frames) writer_must_checkpoint_.store(true);
    // While the writer has a catch-up to do, the WAL is about to restart.
    if (frames < k_wal_checkpoint_frames || writer_catch_up_.load()) return;
    {
      std::lock_guard lk(ckpt_mu_);
      if (ckpt_requested_) return;
      ckpt_requested_ = true;
    }
    ckpt_cv_.notify_one();
  }

  void checkpoint_loop(sqlite::db& d) {
    for (;;) {
      {
        std::unique_lock lk(ckpt_mu_);
        ckpt_cv_.wait(lk, [&] { return ckpt_stopping_ || ckpt_requested_; });
        if (ckpt_stopping_) return;
      }
      log_checkpoint_error(d.checkpoint(sqlite::checkpoint_mode::passive));
      // The writer copies what was committed meanwhile (a few frames), so
      // that the whole WAL is checkpointed and its next write restarts it.
      std::lock_guard lk(ckpt_mu_);
      writer_catch_up_.store(true);
      ckpt_requested_ = false;
    }
  }

  // On the writer thread, between batches.
  void writer_checkpoint() {
    const bool must = writer_must_checkpoint_.exchange(false);
    if (!writer_catch_up_.exchange(false) && !must) return;
    log_checkpoint_error(writer_->db().checkpoint(sqlite::checkpoint_mode::passive));
  }

  void log_checkpoint_error(const core::result<sqlite::checkpoint_result>& r) {
    // BUSY: another checkpoint is running; the next one catches up.
    if (r.ok() || r.error().code() == core::errc::unavailable) return;
    core::log::warn("store_checkpoint_failed", {{"path", path_}, {"error", r.error().to_string()}});
  }

  void writer_loop() {
    std::vector<std::unique_ptr<write_job>> batch;
    batch.reserve(static_cast<std::size_t>(cfg_.batch_max));
    for (;;) {
      {
        std::unique_lock lk(mu_);
        writer_waiting_ = true;
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        writer_waiting_ = false;
        if (queue_.empty()) break;  // stopping and drained
        const std::size_t n = std::min(queue_.size(), static_cast<std::size_t>(cfg_.batch_max));
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      writer_checkpoint();
      run_batch(batch);
      batch.clear();
    }
    std::lock_guard lk(mu_);
    writer_alive_ = false;
  }

  void fail_all(std::vector<std::unique_ptr<write_job>>& batch, const core::status& st) {
    for (auto& j : batch) j->set_failed(st);
  }

  void run_batch(std::vector<std::unique_ptr<write_job>>& batch) {
    const std::int64_t t0 = clock_.steady_ns();
    writer& w = *writer_;
    core::status batch_status;
    {
      auto tx = sqlite::transaction::begin(w.db(), sqlite::tx_mode::immediate);
      if (!tx) {
        batch_status = tx.error();
      } else {
        batch_status = w.begin_batch();
        for (std::size_t i = 0; i < batch.size() && batch_status.ok(); ++i) {
          write_job& j = *batch[i];
          if (j.multi_statement()) {
            run_in_savepoint(w, j);
          } else {
            j.run(w);
          }
          // Some errors (disk full, I/O) make SQLite roll back the whole
          // transaction: then none of the batch is written.
          if (!w.db().in_transaction()) {
            batch_status = core::io_error("transaction rolled back by SQLite during the batch");
          }
        }
        if (batch_status.ok()) w.end_batch();
        if (batch_status.ok()) batch_status = tx->commit();
        // Otherwise the transaction's destructor rolls back.
      }
    }
    const std::int64_t t1 = clock_.steady_ns();
    std::uint64_t ok = 0;
    if (batch_status.ok()) {
      w.batch_committed();
      for (const auto& j : batch) ok += j->succeeded() ? 1 : 0;
    } else {
      w.batch_failed();
      core::log::error("store_commit_failed", {{"path", path_},
                                               {"jobs", static_cast<std::int64_t>(batch.size())},
                                               {"error", batch_status.to_string()}});
      fail_all(batch, batch_status);
    }
    {
      std::lock_guard lk(stats_mu_);
      stats_.writes_ok += ok;
      stats_.writes_failed += batch.size() - ok;
      ++stats_.batches;
      const auto size = static_cast<double>(batch.size());
      ++stats_.batch_size_buckets[bucket_index(store_stats::batch_bounds, size)];
      stats_.batch_size_sum += size;
      const double seconds = static_cast<double>(std::max<std::int64_t>(0, t1 - t0)) / 1e9;
      ++stats_.commit_seconds_buckets[bucket_index(store_stats::commit_bounds_s, seconds)];
      stats_.commit_seconds_sum += seconds;
    }
    // Only now, after COMMIT returned (or the batch failed).
    for (auto& j : batch) call_completion([&] { j->complete(); });
  }

  static void run_in_savepoint(writer& w, write_job& j) {
    auto sp = sqlite::savepoint::begin(w.db(), "job");
    if (!sp) {
      j.set_failed(sp.error());
      return;
    }
    j.run(w);
    if (!j.succeeded()) return;  // the savepoint's destructor undoes the job
    if (auto st = sp->release(); !st.ok()) j.set_failed(std::move(st));
  }

  const std::string path_;
  const core::store_config cfg_;
  const core::clock& clock_;

  std::mutex close_mu_;  // serialises close()

  mutable std::mutex mu_;  // guards the write queue and the flags below
  std::condition_variable cv_;
  std::deque<std::unique_ptr<write_job>> queue_;
  bool stopping_ = false;
  bool closed_ = false;
  bool writer_waiting_ = false;
  bool writer_alive_ = true;

  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::deque<std::unique_ptr<read_job>> read_queue_;
  bool read_stopping_ = false;

  mutable std::mutex stats_mu_;
  store_stats stats_;

  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_requested_ = false;
  bool ckpt_stopping_ = false;
  std::atomic<bool> writer_catch_up_{false};
  std::atomic<bool> writer_must_checkpoint_{false};

  std::unique_ptr<writer> writer_;  // used by the writer thread only
  std::thread writer_thread_;
  std::vector<std::thread> readers_;
  std::thread checkpointer_;
};

}  // namespace

core::result<std::unique_ptr<store>> open_sqlite_store(const std::string& path,
                                                       const core::store_config& cfg,
                                                       const core::clock& clock) {
  // Every connection is opened here, so that errors reach the caller; each
  // is then handed to the one thread that will use it.
  auto w = open_write_connection(path, cfg);
  if (!w) {
    core::log::error("store_open_failed", {{"path", path}, {"error", w.error().to_string()}});
    return w.error();
  }
  auto ckpt = open_checkpoint_connection(path, cfg);
  if (!ckpt) {
    core::log::error("store_open_failed", {{"path", path}, {"error", ckpt.error().to_string()}});
    return ckpt.error();
  }
  std::vector<sqlite::db> readers;
  for (int i = 0; i < cfg.read_connections; ++i) {
    auto r = open_read_connection(path, cfg);
    if (!r) {
      core::log::error("store_open_failed", {{"path", path}, {"error", r.error().to_string()}});
      return r.error();
    }
    readers.push_back(std::move(r).value());
  }
  auto s = std::make_unique<sqlite_store>(path, cfg, clock, std::move(w).value(),
                                          std::move(ckpt).value(), std::move(readers));
  core::log::info("store_opened", {{"path", path},
                                   {"schema_version", current_schema_version()},
                                   {"synchronous", cfg.synchronous},
                                   {"batch_max", cfg.batch_max},
                                   {"read_connections", cfg.read_connections}});
  return std::unique_ptr<store>(std::move(s));
}

}  // namespace bot::store
