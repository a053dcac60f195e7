// store: the durable record of conversations, messages and events, behind a
// narrow, backend-neutral interface. The SQLite backend (open_sqlite_store) is
// the only one today; a PostgreSQL backend would implement the same class.
//
// Threading contract:
// - Every method is safe to call from any thread, concurrently.
// - No method blocks on the database: writes are queued to the single writer
//   thread and committed in groups (one transaction per batch); reads run on
//   a small pool of reader threads, each with its own read-only connection.
// - A write's completion runs on the writer thread only after COMMIT returned
//   (or after the write failed); a read's completion runs on a reader thread.
//   Completions must be quick and must not wait for other store calls: post
//   the result to your own executor.
// - A failure of one write fails that write only; the others of its batch
//   commit.
// - A call refused before it is queued (invalid input: errc::invalid_argument;
//   queue full: errc::unavailable "store overloaded"; store closed:
//   errc::unavailable) completes at once, on the calling thread.
// - After close() returns, every queued write has been committed or failed
//   and later calls complete at once with errc::unavailable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bot/core/clock.hpp"
#include "bot/core/config.hpp"
#include "bot/core/status.hpp"

namespace bot::store {

// Input limits, checked before a call is queued (errc::invalid_argument).
inline constexpr std::size_t k_max_text_bytes = 1 << 20;       // message text
inline constexpr std::size_t k_max_json_bytes = 1 << 20;       // meta/context/data JSON
inline constexpr std::size_t k_max_id_bytes = 64;              // conversation ids
inline constexpr std::size_t k_max_token_hash_bytes = 128;     // [A-Za-z0-9_-]
inline constexpr std::size_t k_max_client_msg_id_bytes = 128;  // any valid UTF-8
inline constexpr std::size_t k_max_team_bytes = 64;
inline constexpr std::size_t k_max_kind_bytes = 64;            // event kinds: [A-Za-z0-9_.:-]
inline constexpr int k_max_read_limit = 10000;                 // messages_after `limit`
inline constexpr std::size_t k_max_comment_bytes = 16 * 1024;  // survey comments

template <typename T>
using callback = std::function<void(core::result<T>)>;
using done_callback = std::function<void(core::status)>;

// Who wrote a message. Stored as the lower-case name.
enum class sender { visitor, bot, agent, system };
std::string_view sender_name(sender s) noexcept;

// Conversation states of DESIGN §6, stored as these names.
inline constexpr std::string_view k_states[] = {"bot", "queued", "agent", "ticket", "closed"};
bool is_valid_state(std::string_view s) noexcept;

struct new_conversation {
  std::string id;          // e.g. core::new_conversation_id(); [A-Za-z0-9_-]{1,64}
  std::string token_hash;  // hex digest of the visitor's resume token; unique
  std::int64_t ts_ms = 0;
};

struct conversation_row {
  std::string id;
  std::string token_hash;
  std::string state = "bot";
  std::string team;          // "" when none
  std::string context_json;  // "{}" when empty; the newest message's that has one, else the row's
  std::int64_t last_seq = 0;  // seq of the newest message; 0 = none
  std::int64_t agent_id = 0;  // the agent of the open assignment; 0 = none
  std::string visitor_email;  // "" when none was left
  std::int64_t created_ms = 0;
  // The last activity: the newest message's ts_ms, or the last change of the
  // row itself (state, context set apart from a message), whichever is later.
  std::int64_t updated_ms = 0;
};

struct new_message {
  std::string conversation_id;
  std::string client_msg_id;  // "" = none (bot and system messages); else unique per conversation
  sender from = sender::visitor;
  std::string text;       // valid UTF-8, at most 1 MiB
  std::string meta_json;  // "" or a JSON object: source, quick_replies, agent name, ...
  std::int64_t ts_ms = 0;
};

struct appended {
  std::int64_t seq = 0;  // per conversation, gap-free from 1
  std::int64_t ts_ms = 0;
  bool duplicate = false;  // the client_msg_id was seen before: the first row's seq and ts
};

struct message_row {
  std::string conversation_id;
  std::int64_t seq = 0;
  std::string client_msg_id;
  std::string from;  // sender_name
  std::string text;
  std::string meta_json;
  std::int64_t ts_ms = 0;
};

struct new_event {
  std::string kind;             // e.g. "conversation_started", "decision", "handoff"
  std::string conversation_id;  // "" when none
  std::string data_json;        // "" or a JSON object
  std::int64_t ts_ms = 0;
};

struct state_change {
  std::string state;  // one of k_states
  std::string team;   // "" clears it
};

// One turn of a conversation, written in one transaction (all or nothing):
// the visitor's message and, unless that message is a duplicate, the replies
// that answer it, the new dialog context, a state change and events.
struct new_turn {
  std::optional<new_message> visitor;       // sender visitor with a client_msg_id; may be absent
  std::string conversation_id;              // when there is no visitor message
  std::vector<new_message> replies;         // appended after the visitor's message, in order
  std::optional<std::string> context_json;  // a JSON object; absent = unchanged
  std::optional<state_change> state;
  std::vector<new_event> events;  // of this conversation
  // An agent takes the conversation (a new open assignment; fails with
  // conflict when another one is open), or the open assignment ends.
  std::int64_t assign_agent = 0;  // agent id; 0 = none
  bool release_agent = false;
  // The visitor left an email: an open ticket (and conversations.visitor_email).
  std::string ticket_email;
  // An agent took the ticket: it is answered.
  bool answer_ticket = false;
  std::int64_t ts_ms = 0;  // for the parts that have none (0 = now)
};

struct turn_appended {
  appended visitor;  // duplicate: the first row's seq, and nothing else was written
  std::vector<appended> replies;
};

// Counters for /metrics. Bucket i counts values <= bounds[i]; the last bucket
// is +Inf.
struct store_stats {
  static constexpr std::array<double, 12> batch_bounds = {1,   2,   4,   8,    16,   32,
                                                          128, 256, 512, 1024, 4096, 8192};
  static constexpr std::array<double, 12> commit_bounds_s = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
  std::uint64_t writes_ok = 0;
  std::uint64_t writes_failed = 0;
  std::uint64_t batches = 0;
  std::uint64_t queue_depth = 0;
  std::array<std::uint64_t, 13> batch_size_buckets{};
  double batch_size_sum = 0;
  std::array<std::uint64_t, 13> commit_seconds_buckets{};
  double commit_seconds_sum = 0;
};

// An agent account (DESIGN §7). `name` is the login: [A-Za-z0-9_.-], 1 to
// k_max_agent_name_bytes; `password_hash` is what handoff::hash_password
// made (never the password).
inline constexpr std::size_t k_max_agent_name_bytes = 64;
inline constexpr std::size_t k_max_agent_teams = 32;
struct new_agent {
  std::string name;
  std::string display_name;  // "" = the name
  std::string password_hash;
  std::vector<std::string> teams;  // each as a team: [A-Za-z0-9_-]
  bool admin = false;
  int max_chats = 5;  // conversations at once, 0..1000
  std::int64_t ts_ms = 0;
};

struct agent_row {
  std::int64_t id = 0;
  std::string name;
  std::string display_name;
  std::string password_hash;
  std::vector<std::string> teams;  // sorted
  bool admin = false;
  bool disabled = false;
  int max_chats = 5;
  std::int64_t created_ms = 0;
};

// An agent's internal note on a conversation (never shown to the visitor).
struct note_row {
  std::int64_t id = 0;
  std::string agent;  // the agent's display name ("" if the account is gone)
  std::string text;
  std::int64_t ts_ms = 0;
};
inline constexpr std::size_t k_max_note_bytes = 16 * 1024;

class store {
 public:
  virtual ~store() = default;

  // Writes (writer thread, group commit).
  virtual void create_conversation(new_conversation c, callback<conversation_row> done) = 0;
  // Appends a message with the next seq of its conversation. A repeated
  // client_msg_id with the same sender and text completes with the first
  // row's seq and duplicate = true and stores nothing; with another text it
  // fails with errc::conflict. An unknown conversation fails with not_found.
  virtual void append_message(new_message m, callback<appended> done) = 0;
  // Sets state and team ("" clears the team); not_found for an unknown id.
  virtual void set_conversation_state(std::string conversation_id, std::string state,
                                      std::string team, std::int64_t ts_ms, done_callback done) = 0;
  // The context after the conversation's last message (on the row while
  // it has none); also the row's updated_ms.
  virtual void set_conversation_context(std::string conversation_id, std::string context_json,
                                        std::int64_t ts_ms, done_callback done) = 0;
  // Appends a whole turn (see new_turn). A duplicate visitor message
  // completes like append_message's duplicate and writes nothing; a conflict
  // fails the turn with errc::conflict.
  virtual void append_turn(new_turn t, callback<turn_appended> done) = 0;
  // Records (or replaces) the visitor's rating of a bot message; not_found
  // unless `seq` is a bot message of the conversation.
  virtual void record_feedback(std::string conversation_id, std::int64_t seq, bool helpful,
                               std::int64_t ts_ms, done_callback done) = 0;
  // Stores a CSAT survey (csat 1-5, comment at most k_max_comment_bytes);
  // completes with its id. One per close: `conflict` when a survey was
  // stored since the conversation last changed.
  virtual void record_survey(std::string conversation_id, int csat, std::string comment,
                             std::int64_t ts_ms, callback<std::int64_t> done) = 0;
  // Appends to the append-only analytics log; completes with the event id.
  virtual void append_event(new_event e, callback<std::int64_t> done) = 0;

  // Agents. add_agent fails with errc::conflict when the name is taken; the
  // others with not_found for an unknown name.
  virtual void add_agent(new_agent a, callback<agent_row> done) = 0;
  virtual void set_agent_password(std::string name, std::string password_hash,
                                  done_callback done) = 0;
  virtual void set_agent_disabled(std::string name, bool disabled, done_callback done) = 0;
  // Stores a note; completes with its id.
  virtual void add_note(std::string conversation_id, std::int64_t agent_id, std::string text,
                        std::int64_t ts_ms, callback<std::int64_t> done) = 0;

  // Reads (reader threads).
  // not_found for an unknown name.
  virtual void find_agent(std::string name, callback<agent_row> done) = 0;
  // Every agent, by name.
  virtual void list_agents(callback<std::vector<agent_row>> done) = 0;
  // Conversations in `state`, oldest change of the row itself first (its
  // creation, state or a context set apart: not its messages), at most
  // `limit` (1 .. k_max_read_limit).
  virtual void list_conversations(std::string state, int limit,
                                  callback<std::vector<conversation_row>> done) = 0;
  // A conversation's notes, oldest first.
  virtual void list_notes(std::string conversation_id, callback<std::vector<note_row>> done) = 0;
  virtual void get_conversation(std::string id, callback<conversation_row> done) = 0;
  // not_found when no conversation has this token hash.
  virtual void find_conversation_by_token(std::string token_hash,
                                          callback<conversation_row> done) = 0;
  // Messages with seq > after_seq in seq order, at most `limit` (1 ..
  // k_max_read_limit). An unknown conversation has no messages (empty).
  virtual void messages_after(std::string conversation_id, std::int64_t after_seq, int limit,
                              callback<std::vector<message_row>> done) = 0;

  // Ready for requests (open, writer running).
  virtual bool healthy() const = 0;
  virtual store_stats stats() const = 0;
  // Commits everything queued, finishes the queued reads, stops the
  // threads. Idempotent. Never call it (or destroy the store) from one of
  // the store's completions: such a call is logged and ignored.
  virtual void close() = 0;
};

// Opens (creating when missing) the SQLite database at `path` in WAL mode with
// foreign keys on, migrates it to the current schema, and starts the writer,
// reader and checkpoint threads. The folder must exist. Errors:
// invalid_argument for a bad cfg, a database newer than this code or of
// another application; the SQLite error otherwise. docs/store.md has the
// schema and the design.
core::result<std::unique_ptr<store>> open_sqlite_store(const std::string& path,
                                                       const core::store_config& cfg,
                                                       const core::clock& clock);

// The schema version open_sqlite_store migrates to (PRAGMA user_version).
int current_schema_version() noexcept;

// Runs an asynchronous store call and waits for its result, for the CLI and
// tests. Never call it from a store completion or an I/O thread.
template <typename T, typename Call>
core::result<T> wait_for(Call&& call);
core::status wait_done(const std::function<void(done_callback)>& call);

}  // namespace bot::store

#include "bot/store/store_wait.hpp"
