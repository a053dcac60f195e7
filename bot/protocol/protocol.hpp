// protocol: the visitor wire messages of DESIGN §7 (docs/protocol.md), as
// values. decode_visitor() turns one text frame into a typed frame or a coded
// error; the encoders build the server's frames. Nothing here knows sockets,
// conversations or SQL.
//
// Thread-safety: free functions over values; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bot::protocol {

// The `code` of an error frame.
namespace errc {
inline constexpr std::string_view bad_json = "bad_json";    // not JSON, or not UTF-8
inline constexpr std::string_view bad_frame = "bad_frame";  // not an object, binary frame
inline constexpr std::string_view unknown_type = "unknown_type";
inline constexpr std::string_view missing_field = "missing_field";
inline constexpr std::string_view bad_field = "bad_field";          // wrong type or value
inline constexpr std::string_view too_long = "too_long";            // text over max_text_chars
inline constexpr std::string_view hello_first = "hello_first";      // a frame before hello
inline constexpr std::string_view already_hello = "already_hello";  // a second hello
inline constexpr std::string_view rate_limited = "rate_limited";
inline constexpr std::string_view conflict = "conflict";    // client_msg_id reused for other text
inline constexpr std::string_view not_found = "not_found";  // feedback on an unknown bot message
inline constexpr std::string_view bad_state = "bad_state";  // e.g. a survey before close
inline constexpr std::string_view unavailable = "unavailable";  // overloaded or stopping: retry
inline constexpr std::string_view internal = "internal";
}  // namespace errc

// Visitor → server.
struct hello {
  std::string token;                     // "" = start a new conversation
  std::optional<std::int64_t> last_seq;  // the last seq the client has
};
struct message {
  std::string client_msg_id;
  std::string text;     // what the visitor typed, or the label of a quick reply
  std::string payload;  // the quick reply's payload ("" for typed text)
};
struct typing {
  bool on = false;
};
struct feedback {
  std::int64_t seq = 0;
  bool helpful = false;
};
struct survey {
  int csat = 0;
  std::string comment;
};
struct contact {
  std::string email;
};
struct close {};

using visitor_frame = std::variant<hello, message, typing, feedback, survey, contact, close>;

struct decode_limits {
  std::size_t max_text_chars = 4000;     // message text, in code points
  std::size_t max_comment_chars = 4000;  // survey comment
};

struct frame_error {
  std::string_view code;      // one of errc
  std::string message;        // for people; never echoes the visitor's text
  std::string client_msg_id;  // when the frame had a readable one
};

struct decoded {
  std::optional<visitor_frame> frame;
  frame_error error;  // when !frame
};

// Decodes one text frame. Unknown fields are ignored (newer clients);
// a missing or mistyped required field is an error naming it.
decoded decode_visitor(std::string_view text, const decode_limits& limits);

// The name of a frame's type ("hello", "message", ...).
std::string_view type_name(const visitor_frame& f) noexcept;

// Server → visitor.
struct welcome {
  std::string conversation_id;
  std::string token;
  std::string state;
  std::int64_t last_seq = 0;
  bool resumed = false;
};
std::string encode_welcome(const welcome& w);

std::string encode_ack(std::string_view client_msg_id, std::int64_t seq, bool duplicate);

// A stored conversation message. `meta_json` is "" or a JSON object whose
// members (source, quick_replies, payload, agent) become members of the frame.
struct chat_message {
  std::int64_t seq = 0;
  std::string_view from;  // visitor | bot | agent | system
  std::string_view text;
  std::int64_t ts_ms = 0;
  std::string_view client_msg_id;  // visitor messages
  std::string_view meta_json;
};
std::string encode_message(const chat_message& m);

std::string encode_state(std::string_view state, std::string_view team);
// With the display name of the agent who holds the conversation (state agent).
std::string encode_state(std::string_view state, std::string_view team, std::string_view agent);
std::string encode_typing(std::string_view from, bool on);
// `state {state: "queued", team, position, eta_s?}` for a waiting visitor
// (eta_s < 0: no estimate yet).
// With `no_agents`, no agent of the team is online: the visitor may leave
// an email (`contact`) and get a ticket. `after_hours` (outside the business
// hours) implies `no_agents`.
std::string encode_queue_state(std::string_view team, int position, std::int64_t eta_s,
                               bool no_agents = false, bool after_hours = false);
std::string encode_resync(std::int64_t from_seq, std::int64_t last_seq);
std::string encode_error(std::string_view code, std::string_view message,
                         std::string_view client_msg_id = {});

// The `meta_json` of a bot reply: its source and quick replies.
struct quick_reply {
  std::string label;
  std::string payload;  // "" = the label is sent as text
};
struct reply_source {
  std::string kind;  // intent | kb | fallback | clarify
  std::string id;
  std::string title;
  double confidence = 0;
};
std::string reply_meta(const reply_source& source, const std::vector<quick_reply>& quick_replies,
                       std::string_view decision);
// The `meta_json` of a visitor message sent with a quick reply's payload.
std::string visitor_meta(std::string_view payload);

// ---- Agents (/agent/ws, docs/agents.md). Every frame names its conversation.
namespace errc {
inline constexpr std::string_view already_claimed = "already_claimed";  // another agent won
inline constexpr std::string_view not_yours = "not_yours";              // held by someone else
}  // namespace errc

struct agent_claim {
  std::string conversation_id;
};
struct agent_message {
  std::string conversation_id;
  std::string client_msg_id;
  std::string text;
};
struct agent_release {
  std::string conversation_id;
};
struct agent_close {
  std::string conversation_id;
};
struct agent_typing {
  std::string conversation_id;
  bool on = false;
};
struct agent_note {
  std::string conversation_id;
  std::string text;
};
// To a team (back to its queue) or straight to another agent, by name.
struct agent_transfer {
  std::string conversation_id;
  std::string team;
  std::string agent;
};
// The agent's presence, and their heartbeat (the console repeats it every
// 20 s). The one frame that names no conversation.
struct agent_presence {
  std::string conversation_id;  // always empty
  bool away = false;
};
using agent_frame = std::variant<agent_claim, agent_message, agent_release, agent_close,
                                 agent_typing, agent_note, agent_transfer, agent_presence>;

struct agent_decoded {
  std::optional<agent_frame> frame;
  frame_error error;  // when !frame
};
agent_decoded decode_agent(std::string_view text, const decode_limits& limits);

// One waiting conversation in a `queue` frame.
struct queue_item {
  std::string conversation_id;
  std::string team;
  std::string reason;  // why the bot handed off (the intent, or "fallbacks")
  std::int64_t waiting_s = 0;
  std::string preview;  // the visitor's last message, cut to 200 bytes
};
// A ticket (a visitor who left an email) in a `queue` frame.
struct ticket_item {
  std::string conversation_id;
  std::string team;
  std::string email;
  std::int64_t waiting_s = 0;
};
// One agent in an `agents` frame (presence: online | away | offline).
struct agent_item {
  std::string name;
  std::string display_name;
  std::string status;
  std::vector<std::string> teams;
  int chats = 0;
  int max_chats = 0;
};
std::string encode_agents(const std::vector<agent_item>& agents);
std::string encode_queue(const std::vector<queue_item>& waiting,
                         const std::vector<ticket_item>& tickets = {});
// `transcript_json` is a JSON array of message frames, `context_json` an
// object (both written by this server).
std::string encode_conversation(std::string_view conversation_id, std::string_view state,
                                std::string_view transcript_json, std::string_view context_json,
                                std::string_view why, std::string_view notes_json = "[]",
                                std::string_view team = "");
// One note as a JSON object, and the `note` frame that carries it.
std::string note_json(std::int64_t id, std::string_view agent, std::string_view text,
                      std::int64_t ts_ms);
std::string encode_note(std::string_view conversation_id, std::string_view note_object_json);
// To the agent who handed a conversation on.
std::string encode_transferred(std::string_view conversation_id, std::string_view to);
// A message frame for an agent: encode_message() with the conversation id.
std::string encode_agent_message(std::string_view conversation_id, const chat_message& m);
std::string encode_agent_ack(std::string_view conversation_id, std::string_view client_msg_id,
                             std::int64_t seq);
// With the team when the conversation waits in a queue again (a transfer).
std::string encode_agent_state(std::string_view conversation_id, std::string_view state,
                               std::string_view team = "");
std::string encode_agent_typing(std::string_view conversation_id, bool on);  // the visitor types
// `client_msg_id`: the agent message the error is about, if any.
std::string encode_agent_error(std::string_view code, std::string_view message,
                               std::string_view conversation_id,
                               std::string_view client_msg_id = "");

}  // namespace bot::protocol
