#include "bot/protocol/protocol.hpp"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdio>

#include "bot/core/log.hpp"
#include "bot/core/text.hpp"

namespace bot::protocol {
namespace json = boost::json;

namespace {

inline constexpr std::size_t k_max_client_msg_id = 128;
inline constexpr std::size_t k_max_token = 128;
inline constexpr std::size_t k_max_payload = 256;
inline constexpr std::size_t k_max_email = 254;

decoded fail(std::string_view code, std::string message, std::string client_msg_id = {}) {
  decoded d;
  d.error = {code, std::move(message), std::move(client_msg_id)};
  return d;
}

// Reads the fields of one frame object; the first problem is kept.
class reader {
 public:
  explicit reader(const json::object& o) : o_(o) {}

  const json::value* find(std::string_view key) const {
    auto it = o_.find(key);
    return it == o_.end() ? nullptr : &it->value();
  }

  // A required or optional string field; nullopt when absent or on error.
  std::optional<std::string_view> string(std::string_view key, bool required) {
    const json::value* v = find(key);
    if (v == nullptr || v->is_null()) {
      if (required) set(errc::missing_field, "'" + std::string(key) + "' is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      set(errc::bad_field, "'" + std::string(key) + "' must be a string");
      return std::nullopt;
    }
    const json::string& s = v->get_string();
    return std::string_view(s.data(), s.size());
  }

  std::optional<std::int64_t> integer(std::string_view key, bool required) {
    const json::value* v = find(key);
    if (v == nullptr || v->is_null()) {
      if (required) set(errc::missing_field, "'" + std::string(key) + "' is required");
      return std::nullopt;
    }
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double()) {
      const double d = v->get_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
        return static_cast<std::int64_t>(d);
    }
    set(errc::bad_field, "'" + std::string(key) + "' must be an integer");
    return std::nullopt;
  }

  std::optional<bool> boolean(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr || v->is_null()) {
      set(errc::missing_field, "'" + std::string(key) + "' is required");
      return std::nullopt;
    }
    if (!v->is_bool()) {
      set(errc::bad_field, "'" + std::string(key) + "' must be true or false");
      return std::nullopt;
    }
    return v->get_bool();
  }

  void set(std::string_view code, std::string message) {
    if (code_.empty()) {
      code_ = code;
      message_ = std::move(message);
    }
  }
  bool ok() const { return code_.empty(); }
  std::string_view code() const { return code_; }
  std::string& message() { return message_; }

 private:
  const json::object& o_;
  std::string_view code_;
  std::string message_;
};

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// A pragmatic check: one @, a non-empty local part, a dotted domain, no
// spaces or control characters. Deliverability is the mail server's business.
bool plausible_email(std::string_view e) {
  if (e.size() < 3 || e.size() > k_max_email) return false;
  const auto at = e.find('@');
  if (at == 0 || at == std::string_view::npos || e.find('@', at + 1) != std::string_view::npos)
    return false;
  const std::string_view domain = e.substr(at + 1);
  const auto dot = domain.find('.');
  if (dot == 0 || dot == std::string_view::npos || domain.back() == '.') return false;
  for (const unsigned char c : e) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"')
      return false;
  }
  return true;
}

template <typename T>
decoded ok(T frame) {
  decoded d;
  d.frame = visitor_frame(std::move(frame));
  return d;
}

decoded decode_object(const json::object& o, const decode_limits& limits) {
  reader r(o);
  const auto type = r.string("type", true);
  if (!type) return fail(r.code(), std::move(r.message()));

  if (*type == "message") {
    message m;
    const auto id = r.string("client_msg_id", true);
    if (id) {
      if (id->empty() || id->size() > k_max_client_msg_id) {
        r.set(errc::bad_field, "'client_msg_id' must be 1-128 bytes");
      } else {
        m.client_msg_id = std::string(*id);
      }
    }
    const auto payload = r.string("payload", false);
    const auto text = r.string("text", !payload.has_value());
    if (!r.ok()) return fail(r.code(), std::move(r.message()), m.client_msg_id);
    if (payload) {
      if (payload->empty() || payload->size() > k_max_payload)
        return fail(errc::bad_field, "'payload' must be 1-256 bytes", m.client_msg_id);
      m.payload = std::string(*payload);
    }
    if (text) {
      if (core::utf8_length(*text) > limits.max_text_chars) {
        return fail(errc::too_long,
                    "text is longer than " + std::to_string(limits.max_text_chars) + " characters",
                    m.client_msg_id);
      }
      m.text = std::string(*text);
    }
    if (core::is_blank(m.text) && m.payload.empty())
      return fail(errc::bad_field, "'text' is empty", m.client_msg_id);
    return ok(std::move(m));
  }
  if (*type == "hello") {
    hello h;
    if (const auto token = r.string("token", false)) {
      if (token->size() > k_max_token ||
          !std::all_of(token->begin(), token->end(), is_token_char)) {
        r.set(errc::bad_field, "'token' is not a token this server issued");
      } else {
        h.token = std::string(*token);
      }
    }
    h.last_seq = r.integer("last_seq", false);
    if (r.ok() && h.last_seq && *h.last_seq < 0) r.set(errc::bad_field, "'last_seq' is negative");
    if (!r.ok()) return fail(r.code(), std::move(r.message()));
    return ok(std::move(h));
  }
  if (*type == "typing") {
    const auto on = r.boolean("on");
    if (!on) return fail(r.code(), std::move(r.message()));
    return ok(typing{*on});
  }
  if (*type == "feedback") {
    const auto seq = r.integer("seq", true);
    const auto helpful = r.boolean("helpful");
    if (r.ok() && *seq < 1) r.set(errc::bad_field, "'seq' must be at least 1");
    if (!r.ok()) return fail(r.code(), std::move(r.message()));
    return ok(feedback{*seq, *helpful});
  }
  if (*type == "survey") {
    const auto csat = r.integer("csat", true);
    const auto comment = r.string("comment", false);
    if (r.ok() && (*csat < 1 || *csat > 5)) r.set(errc::bad_field, "'csat' must be 1 to 5");
    if (r.ok() && comment && core::utf8_length(*comment) > limits.max_comment_chars) {
      r.set(errc::too_long,
            "comment is longer than " + std::to_string(limits.max_comment_chars) + " characters");
    }
    if (!r.ok()) return fail(r.code(), std::move(r.message()));
    return ok(survey{static_cast<int>(*csat), comment ? std::string(*comment) : std::string()});
  }
  if (*type == "contact") {
    const auto email = r.string("email", true);
    if (r.ok() && !plausible_email(*email))
      r.set(errc::bad_field, "'email' is not an email address");
    if (!r.ok()) return fail(r.code(), std::move(r.message()));
    return ok(contact{std::string(*email)});
  }
  if (*type == "close") return ok(close{});
  std::string shown = core::sanitize_utf8(type->substr(0, 32));
  return fail(errc::unknown_type, "unknown frame type '" + shown + "'");
}

void append_int(std::string& out, std::int64_t v) {
  out += std::to_string(v);
}

void append_double(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::isfinite(v) ? v : 0.0);
  out += buf;
}

void key(std::string& out, std::string_view k) {
  out += ",\"";
  out += k;
  out += "\":";
}

}  // namespace

decoded decode_visitor(std::string_view text, const decode_limits& limits) {
  // Frames are small: parse into a stack buffer, no heap for most of them.
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, &mr, opts);
  if (ec) return fail(errc::bad_json, "not a JSON text (or not UTF-8): " + ec.message());
  if (!v.is_object()) return fail(errc::bad_frame, "a frame must be a JSON object with a 'type'");
  return decode_object(v.get_object(), limits);
}

agent_decoded decode_agent(std::string_view text, const decode_limits& limits) {
  agent_decoded out;
  const auto fail_with = [&](std::string_view code, std::string message) {
    out.error = {code, std::move(message), std::move(out.error.client_msg_id)};
    return out;
  };
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 16;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opts);
  if (ec) return fail_with(errc::bad_json, "not a JSON text: " + ec.message());
  if (!v.is_object())
    return fail_with(errc::bad_frame, "a frame must be a JSON object with a 'type'");
  reader r(v.get_object());
  const auto type = r.string("type", true);
  if (r.ok() && *type == "presence") {
    const auto status = r.string("status", true);
    if (!r.ok()) return fail_with(r.code(), std::move(r.message()));
    if (*status != "online" && *status != "away")
      return fail_with(errc::bad_field, "'status' is online or away");
    out.frame = agent_presence{{}, *status == "away"};
    return out;
  }
  const auto conv = r.string("conversation_id", true);
  if (!r.ok()) return fail_with(r.code(), std::move(r.message()));
  if (conv->empty() || conv->size() > 64)
    return fail_with(errc::bad_field, "'conversation_id' must be 1-64 bytes");
  const std::string id(*conv);
  if (*type == "claim") {
    out.frame = agent_claim{id};
  } else if (*type == "release") {
    out.frame = agent_release{id};
  } else if (*type == "close") {
    out.frame = agent_close{id};
  } else if (*type == "note") {
    const auto body = r.string("text", true);
    if (!r.ok()) return fail_with(r.code(), std::move(r.message()));
    if (core::is_blank(*body)) return fail_with(errc::bad_field, "'text' is empty");
    if (body->size() > 16 * 1024) return fail_with(errc::too_long, "a note has at most 16 KiB");
    out.frame = agent_note{id, std::string(*body)};
  } else if (*type == "transfer") {
    const auto team = r.string("team", false);
    const auto agent = r.string("agent", false);
    if (!r.ok()) return fail_with(r.code(), std::move(r.message()));
    if (team.has_value() == agent.has_value() || (team && team->empty()) ||
        (agent && agent->empty()))
      return fail_with(errc::bad_field, "name either 'team' or 'agent'");
    if ((team && team->size() > 64) || (agent && agent->size() > 64))
      return fail_with(errc::bad_field, "a team or agent name has at most 64 bytes");
    out.frame = agent_transfer{id, team ? std::string(*team) : std::string(),
                               agent ? std::string(*agent) : std::string()};
  } else if (*type == "typing") {
    const auto on = r.boolean("on");
    if (!r.ok()) return fail_with(r.code(), std::move(r.message()));
    out.frame = agent_typing{id, *on};
  } else if (*type == "message") {
    const auto cmid = r.string("client_msg_id", true);
    const auto body = r.string("text", true);
    if (!r.ok()) return fail_with(r.code(), std::move(r.message()));
    // (Stored with a prefix naming the agent: 100 leaves it room.)
    if (cmid->empty() || cmid->size() > 100)
      return fail_with(errc::bad_field, "'client_msg_id' must be 1-100 bytes");
    out.error.client_msg_id = std::string(*cmid);  // errors below name the message
    if (core::is_blank(*body)) return fail_with(errc::bad_field, "'text' is empty");
    if (core::utf8_length(*body) > limits.max_text_chars) {
      return fail_with(errc::too_long, "text is longer than " +
                                           std::to_string(limits.max_text_chars) + " characters");
    }
    out.frame = agent_message{id, std::string(*cmid), std::string(*body)};
  } else {
    return fail_with(errc::unknown_type,
                     "unknown type '" + core::sanitize_utf8(type->substr(0, 32)) + "'");
  }
  return out;
}

std::string encode_agents(const std::vector<agent_item>& agents) {
  std::string out = "{\"type\":\"agents\",\"agents\":[";
  for (std::size_t i = 0; i < agents.size(); ++i) {
    const auto& a = agents[i];
    if (i) out += ',';
    out += "{\"name\":";
    core::log::append_json_string(out, a.name);
    key(out, "display_name");
    core::log::append_json_string(out, a.display_name);
    key(out, "status");
    core::log::append_json_string(out, a.status);
    key(out, "teams");
    out += '[';
    for (std::size_t t = 0; t < a.teams.size(); ++t) {
      if (t) out += ',';
      core::log::append_json_string(out, a.teams[t]);
    }
    out += ']';
    key(out, "chats");
    append_int(out, a.chats);
    key(out, "max_chats");
    append_int(out, a.max_chats);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string encode_queue(const std::vector<queue_item>& waiting,
                         const std::vector<ticket_item>& tickets) {
  std::string out = "{\"type\":\"queue\",\"waiting\":[";
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    const auto& q = waiting[i];
    if (i) out += ',';
    out += "{\"conversation_id\":";
    core::log::append_json_string(out, q.conversation_id);
    key(out, "team");
    core::log::append_json_string(out, q.team);
    key(out, "reason");
    core::log::append_json_string(out, q.reason);
    key(out, "waiting_s");
    append_int(out, q.waiting_s);
    key(out, "preview");
    core::log::append_json_string(out, q.preview);
    out += '}';
  }
  out += "],\"tickets\":[";
  for (std::size_t i = 0; i < tickets.size(); ++i) {
    const auto& t = tickets[i];
    if (i) out += ',';
    out += "{\"conversation_id\":";
    core::log::append_json_string(out, t.conversation_id);
    key(out, "team");
    core::log::append_json_string(out, t.team);
    key(out, "email");
    core::log::append_json_string(out, t.email);
    key(out, "waiting_s");
    append_int(out, t.waiting_s);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string encode_conversation(std::string_view conversation_id, std::string_view state,
                                std::string_view transcript_json, std::string_view context_json,
                                std::string_view why, std::string_view notes_json,
                                std::string_view team) {
  std::string out = "{\"type\":\"conversation\"";
  key(out, "notes");
  out += notes_json.empty() ? std::string_view("[]") : notes_json;
  key(out, "conversation_id");
  core::log::append_json_string(out, conversation_id);
  key(out, "state");
  core::log::append_json_string(out, state);
  key(out, "why");
  core::log::append_json_string(out, why);
  key(out, "team");
  core::log::append_json_string(out, team);
  key(out, "context");
  out += context_json.empty() ? std::string_view("{}") : context_json;
  key(out, "transcript");
  out += transcript_json.empty() ? std::string_view("[]") : transcript_json;
  out += '}';
  return out;
}

std::string encode_agent_message(std::string_view conversation_id, const chat_message& m) {
  std::string out = encode_message(m);
  std::string head = "{\"type\":\"message\",\"conversation_id\":";
  core::log::append_json_string(head, conversation_id);
  return head + out.substr(std::string_view("{\"type\":\"message\"").size());
}

std::string encode_agent_ack(std::string_view conversation_id, std::string_view client_msg_id,
                             std::int64_t seq) {
  std::string out = "{\"type\":\"ack\"";
  key(out, "conversation_id");
  core::log::append_json_string(out, conversation_id);
  key(out, "client_msg_id");
  core::log::append_json_string(out, client_msg_id);
  key(out, "seq");
  append_int(out, seq);
  out += '}';
  return out;
}

std::string encode_agent_state(std::string_view conversation_id, std::string_view state,
                               std::string_view team) {
  std::string out = "{\"type\":\"state\"";
  key(out, "conversation_id");
  core::log::append_json_string(out, conversation_id);
  key(out, "state");
  core::log::append_json_string(out, state);
  if (!team.empty()) {
    key(out, "team");
    core::log::append_json_string(out, team);
  }
  out += '}';
  return out;
}

std::string note_json(std::int64_t id, std::string_view agent, std::string_view text,
                      std::int64_t ts_ms) {
  std::string out = "{\"id\":";
  append_int(out, id);
  key(out, "agent");
  core::log::append_json_string(out, agent);
  key(out, "text");
  core::log::append_json_string(out, text);
  key(out, "ts");
  append_int(out, ts_ms);
  out += '}';
  return out;
}

std::string encode_note(std::string_view conversation_id, std::string_view note_object_json) {
  std::string out = "{\"type\":\"note\"";
  key(out, "conversation_id");
  core::log::append_json_string(out, conversation_id);
  key(out, "note");
  out += note_object_json;
  out += '}';
  return out;
}

std::string encode_transferred(std::string_view conversation_id, std::string_view to) {
  std::string out = "{\"type\":\"transferred\"";
  key(out, "conversation_id");
  core::log::append_json_string(out, conversation_id);
  key(out, "to");
  core::log::append_json_string(out, to);
  out += '}';
  return out;
}

std::string encode_agent_typing(std::string_view conversation_id, bool on) {
  std::string out = "{\"type\":\"typing\"";
  key(out, "conversation_id");
  core::log::append_json_string(out, conversation_id);
  out += ",\"from\":\"visitor\",\"on\":";
  out += on ? "true" : "false";
  out += '}';
  return out;
}

std::string encode_agent_error(std::string_view code, std::string_view message,
                               std::string_view conversation_id, std::string_view client_msg_id) {
  std::string out = encode_error(code, message, client_msg_id);
  if (!conversation_id.empty()) {
    out.pop_back();
    key(out, "conversation_id");
    core::log::append_json_string(out, conversation_id);
    out += '}';
  }
  return out;
}

std::string_view type_name(const visitor_frame& f) noexcept {
  static constexpr std::string_view names[] = {"hello",  "message", "typing", "feedback",
                                               "survey", "contact", "close"};
  return names[f.index()];
}

std::string encode_welcome(const welcome& w) {
  std::string out = "{\"type\":\"welcome\"";
  key(out, "conversation_id");
  core::log::append_json_string(out, w.conversation_id);
  key(out, "token");
  core::log::append_json_string(out, w.token);
  key(out, "state");
  core::log::append_json_string(out, w.state);
  key(out, "last_seq");
  append_int(out, w.last_seq);
  key(out, "resumed");
  out += w.resumed ? "true}" : "false}";
  return out;
}

std::string encode_ack(std::string_view client_msg_id, std::int64_t seq, bool duplicate) {
  std::string out = "{\"type\":\"ack\"";
  key(out, "client_msg_id");
  core::log::append_json_string(out, client_msg_id);
  key(out, "seq");
  append_int(out, seq);
  key(out, "duplicate");
  out += duplicate ? "true}" : "false}";
  return out;
}

std::string encode_message(const chat_message& m) {
  std::string out;
  out.reserve(96 + m.text.size() + m.meta_json.size());
  out = "{\"type\":\"message\"";
  key(out, "seq");
  append_int(out, m.seq);
  key(out, "from");
  core::log::append_json_string(out, m.from);
  key(out, "text");
  core::log::append_json_string(out, m.text);
  key(out, "ts");
  append_int(out, m.ts_ms);
  if (!m.client_msg_id.empty()) {
    key(out, "client_msg_id");
    core::log::append_json_string(out, m.client_msg_id);
  }
  // meta_json is an object this server wrote (the store checks it): its
  // members are spliced in as they are.
  const std::string_view meta = m.meta_json;
  if (meta.size() > 2 && meta.front() == '{' && meta.back() == '}') {
    out += ',';
    out.append(meta.substr(1));
  } else {
    out += '}';
  }
  return out;
}

std::string encode_state(std::string_view state, std::string_view team) {
  std::string out = "{\"type\":\"state\"";
  key(out, "state");
  core::log::append_json_string(out, state);
  if (!team.empty()) {
    key(out, "team");
    core::log::append_json_string(out, team);
  }
  // A closed conversation asks for the CSAT survey (1-5 and a comment).
  if (state == "closed") out += ",\"survey\":true";
  out += '}';
  return out;
}

std::string encode_state(std::string_view state, std::string_view team, std::string_view agent) {
  std::string out = encode_state(state, team);
  if (!agent.empty()) {
    out.pop_back();
    key(out, "agent");
    core::log::append_json_string(out, agent);
    out += '}';
  }
  return out;
}

std::string encode_queue_state(std::string_view team, int position, std::int64_t eta_s,
                               bool no_agents, bool after_hours) {
  std::string out = encode_state("queued", team);
  out.pop_back();
  if (no_agents || after_hours) out += ",\"no_agents\":true";
  if (after_hours) out += ",\"after_hours\":true";
  key(out, "position");
  append_int(out, position);
  if (eta_s >= 0) {
    key(out, "eta_s");
    append_int(out, eta_s);
  }
  out += '}';
  return out;
}

std::string encode_typing(std::string_view from, bool on) {
  std::string out = "{\"type\":\"typing\"";
  key(out, "from");
  core::log::append_json_string(out, from);
  key(out, "on");
  out += on ? "true}" : "false}";
  return out;
}

std::string encode_resync(std::int64_t from_seq, std::int64_t last_seq) {
  std::string out = "{\"type\":\"resync\"";
  key(out, "from_seq");
  append_int(out, from_seq);
  key(out, "last_seq");
  append_int(out, last_seq);
  out += '}';
  return out;
}

std::string encode_error(std::string_view code, std::string_view message,
                         std::string_view client_msg_id) {
  std::string out = "{\"type\":\"error\"";
  key(out, "code");
  core::log::append_json_string(out, code);
  key(out, "message");
  core::log::append_json_string(out, message);
  if (!client_msg_id.empty()) {
    key(out, "client_msg_id");
    core::log::append_json_string(out, client_msg_id);
  }
  out += '}';
  return out;
}

std::string reply_meta(const reply_source& source, const std::vector<quick_reply>& quick_replies,
                       std::string_view decision) {
  std::string out = "{\"source\":{\"kind\":";
  core::log::append_json_string(out, source.kind);
  if (!source.id.empty()) {
    key(out, "id");
    core::log::append_json_string(out, source.id);
  }
  if (!source.title.empty()) {
    key(out, "title");
    core::log::append_json_string(out, source.title);
  }
  key(out, "confidence");
  append_double(out, source.confidence);
  out += '}';
  if (!quick_replies.empty()) {
    key(out, "quick_replies");
    out += '[';
    for (std::size_t i = 0; i < quick_replies.size(); ++i) {
      if (i > 0) out += ',';
      out += "{\"label\":";
      core::log::append_json_string(out, quick_replies[i].label);
      key(out, "payload");
      core::log::append_json_string(out, quick_replies[i].payload.empty()
                                             ? quick_replies[i].label
                                             : quick_replies[i].payload);
      out += '}';
    }
    out += ']';
  }
  key(out, "decision");
  core::log::append_json_string(out, decision);
  out += '}';
  return out;
}

std::string visitor_meta(std::string_view payload) {
  if (payload.empty()) return {};
  std::string out = "{\"payload\":";
  core::log::append_json_string(out, payload);
  out += '}';
  return out;
}

}  // namespace bot::protocol
