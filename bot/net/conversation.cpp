#include "bot/net/conversation.hpp"

#include <openssl/evp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <random>
#include <variant>
#include <vector>

#include "bot/core/ids.hpp"
#include "bot/core/log.hpp"
#include "bot/net/desk.hpp"

namespace bot::net {

namespace asio = boost::asio;
namespace json = boost::json;
using strand_type = asio::strand<asio::io_context::executor_type>;

namespace {

constexpr std::int64_t k_rate_window_ms = 10000;
constexpr int k_transcript_max = 500;  // messages sent to an agent who claims
constexpr std::size_t k_inbox_max =
    64;  // queued closes, contacts and agent actions per conversation

enum agent_action {
  claim = 0,
  reply = 1,
  release = 2,
  close_by_agent = 3,
  to_team = 4,
  to_agent = 5,
  visitor_ticket = 6
};

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

shared_frame make_frame(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// Picks response variants. One per thread rather than per conversation: an
// engine is 2.5 KB, and an idle conversation should stay small.
std::mt19937_64& response_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

// ---- the dialog state as the JSON kept with each turn (messages.context_json)

std::string state_to_json(const dialog::dialog_state& d) {
  using core::log::append_json_string;
  std::string out = "{\"context\":{";
  bool first = true;
  for (const auto& [k, v] : d.context) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ":{\"value\":";
    append_json_string(out, v.value);
    out += ",\"turns_left\":" + std::to_string(v.turns_left) + "}";
  }
  out += "},\"slots\":{";
  first = true;
  for (const auto& [k, v] : d.slots) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  }
  out += "}";
  if (!d.expect_intent.empty()) {
    out += ",\"expect\":{\"intent\":";
    append_json_string(out, d.expect_intent);
    out += ",\"slot\":";
    append_json_string(out, d.expect_slot);
    out += '}';
  }
  out += ",\"fallbacks_in_row\":" + std::to_string(d.fallbacks_in_row);
  out += ",\"turns\":" + std::to_string(d.turns) + "}";
  return out;
}

// Reads what state_to_json wrote; anything unreadable is left at its default
// (a conversation must resume even if its context was damaged).
dialog::dialog_state state_from_json(std::string_view text) {
  dialog::dialog_state d;
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return d;
  const json::object& o = v.get_object();
  const auto str = [](const json::value* x) {
    return x != nullptr && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  const auto num = [](const json::value* x) {
    return x != nullptr && x->is_int64() ? static_cast<int>(x->get_int64()) : 0;
  };
  if (const auto* c = o.if_contains("context"); c != nullptr && c->is_object()) {
    for (const auto& [k, e] : c->get_object()) {
      if (!e.is_object()) continue;
      d.context[std::string(k)] = {str(e.get_object().if_contains("value")),
                                   num(e.get_object().if_contains("turns_left"))};
    }
  }
  if (const auto* s = o.if_contains("slots"); s != nullptr && s->is_object()) {
    for (const auto& [k, e] : s->get_object()) {
      if (e.is_string()) d.slots[std::string(k)] = std::string(e.get_string());
    }
  }
  if (const auto* e = o.if_contains("expect"); e != nullptr && e->is_object()) {
    d.expect_intent = str(e->get_object().if_contains("intent"));
    d.expect_slot = str(e->get_object().if_contains("slot"));
  }
  d.fallbacks_in_row = num(o.if_contains("fallbacks_in_row"));
  d.turns = num(o.if_contains("turns"));
  return d;
}

std::string_view error_code_for(const core::status& st) {
  switch (st.code()) {
    case core::errc::conflict:
      return protocol::errc::conflict;
    case core::errc::unavailable:
      return protocol::errc::unavailable;
    case core::errc::not_found:
      return protocol::errc::not_found;
    case core::errc::invalid_argument:
      return protocol::errc::bad_field;
    default:
      return protocol::errc::internal;
  }
}

}  // namespace

std::string token_hash(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// ------------------------------------------------------------------ hub

struct conversation_hub::impl : std::enable_shared_from_this<conversation_hub::impl> {
  impl(asio::io_context& i, store::store& d, const dialog::snapshot_holder& r,
       const core::config& c, net_metrics& m, const core::clock& cl)
      : ioc(i), db(d), rules(r), cfg(c), router(c.routing), metrics(m), clock(cl) {}

  asio::io_context& ioc;
  store::store& db;
  const dialog::snapshot_holder& rules;
  const core::config cfg;
  const dialog::router router;
  net_metrics& metrics;
  const core::clock& clock;

  desk* agents_desk = nullptr;  // set before serving (set_desk)
  webhook_sink webhooks;        // set before serving (set_webhooks); may be empty

  mutable std::mutex mu;  // guards live
  std::unordered_map<std::string, std::weak_ptr<conversation>> live;

  std::shared_ptr<conversation> adopt(const store::conversation_row& row, bool* existed);
  void find(const std::string& id, opened done);
  void forget(const std::string& id);
  void create(const std::shared_ptr<visitor_link>& link, opened done);
};

struct conversation::state_data {
  explicit state_data(asio::io_context& ioc) : strand(asio::make_strand(ioc)) {}

  struct link_entry {
    std::weak_ptr<visitor_link> link;
    const visitor_link* key = nullptr;
    bool replaying = false;
    std::vector<std::pair<shared_frame, bool>> held;  // frames that wait for the replay
  };
  struct queued_message {
    std::weak_ptr<visitor_link> from;
    protocol::message m;
    std::int64_t t_in_ns = 0;
  };
  struct queued_close {
    std::weak_ptr<visitor_link> from;
  };
  struct queued_agent {
    int kind = 0;  // agent_action
    agent_ref agent;
    std::string client_msg_id;
    std::string text;  // a message, the team of to_team, the email of visitor_ticket
    agent_ref to;      // to_agent
    std::weak_ptr<visitor_link> visitor = {};  // visitor_ticket
  };
  using work = std::variant<queued_message, queued_close, queued_agent>;

  // What the turn in flight will change once committed.
  struct pending_turn {
    std::weak_ptr<visitor_link> from;
    std::string client_msg_id;
    std::string visitor_text;
    std::string visitor_meta;
    std::vector<std::pair<std::string, std::string>> replies;  // text, meta_json
    dialog::dialog_state dstate;
    std::string state;
    std::string team;
    std::int64_t t_in_ns = 0;
    int decision = -1;  // dialog::decision_kind, -1 = none
    std::string handoff_reason;
    int agent_kind = -1;  // agent_action of an agent's turn, -1 = none
    agent_ref agent;
    agent_ref to;  // to_agent
    // Events of the turn that go to the webhooks once committed: type, data.
    std::vector<std::pair<std::string, std::string>> events;
  };

  strand_type strand;
  std::string token;  // only known for conversations opened by this process
  std::string state = "bot";
  std::string team;
  std::int64_t last_seq = 0;  // committed
  std::int64_t agent_id = 0;  // the agent holding the conversation (state agent)
  std::string agent_name;     // their display name, when known
  std::string reason;         // why it was last handed to a person (this process only)
  bool surveyed = false;      // the survey of the current close was taken
  dialog::dialog_state dstate;
  std::vector<link_entry> links;
  // Vectors, not deques: an idle conversation should cost no allocation
  // (a std::deque allocates ~600 bytes when constructed), and both stay short.
  std::vector<work> inbox;
  bool busy = false;
  bool in_next = false;  // next() is running: a nested call sets `again`
  bool again = false;
  std::unique_ptr<pending_turn>
      pending;  // only while a turn is in flight: idle conversations stay small
  bool stopping = false;
  std::vector<std::function<void()>> idle_waiters;
  std::vector<std::int64_t> recent;  // times (ms) of recent messages, for the rate limit
};

struct conversation::queued_work {
  state_data::work w;
};

conversation_hub::conversation_hub(asio::io_context& ioc, store::store& db,
                                   const dialog::snapshot_holder& rules, const core::config& cfg,
                                   net_metrics& metrics, const core::clock& clock)
    : impl_(std::make_shared<impl>(ioc, db, rules, cfg, metrics, clock)) {}

conversation_hub::~conversation_hub() = default;

std::size_t conversation_hub::live() const {
  std::lock_guard lock(impl_->mu);
  return impl_->live.size();
}

namespace {
void broadcast(conversation::state_data& s, const shared_frame& f, bool droppable,
               const visitor_link* except = nullptr);
}  // namespace

void conversation_hub::set_desk(desk* d) {
  impl_->agents_desk = d;
  // A queued visitor hears their place and the estimated wait whenever the
  // queue moves (the conversation must be live: its visitor is connected).
  std::weak_ptr<impl> weak = impl_;
  d->set_position_listener([weak](const desk::place& p) {
    auto self = weak.lock();
    if (!self) return;
    std::shared_ptr<conversation> c;
    {
      std::lock_guard lock(self->mu);
      const auto it = self->live.find(p.conversation_id);
      if (it != self->live.end()) c = it->second.lock();
    }
    if (!c) return;
    const std::string frame = protocol::encode_queue_state(p.team, p.position,
                                                           p.eta_s ? *p.eta_s : -1, p.no_agents,
                                                           p.after_hours);
    asio::post(c->s_->strand, [c, frame] {
      if (c->s_->state == "queued") broadcast(*c->s_, make_frame(frame), false);
    });
  });
  if (impl_->cfg.agents.auto_assign == "true") {
    // The desk picks the agent; the conversation's strand decides, like a
    // claim from the console (a visitor who left meanwhile, or an agent
    // who claimed first, makes the offer fail: the desk is told).
    d->set_assigner([weak](const std::string& id, const desk::agent_info& to) {
      auto self = weak.lock();
      if (!self) return;
      agent_ref a{to.id, to.name, to.display_name, {}};
      self->find(id, [self, id, a](core::result<std::shared_ptr<conversation>> r) {
        if (!r.ok()) {
          if (self->agents_desk) self->agents_desk->offer_done(id);
          return;
        }
        r.value()->agent_claim(a);
      });
    });
  }
}

void conversation_hub::set_webhooks(webhook_sink sink) { impl_->webhooks = std::move(sink); }

// The queue, the tickets and who holds what come back after a restart: three
// reads, then one update of the desk.
void conversation_hub::load_queue() {
  std::shared_ptr<impl> self = impl_;
  struct loaded {
    std::vector<desk::waiting> queue;
    std::vector<desk::ticket> tickets;
  };
  auto acc = std::make_shared<loaded>();
  const auto failed = [](const core::status& st) {
    core::log::error("queue_load_failed", {{"error", st.message()}});
  };
  self->db.list_conversations(
      "queued", store::k_max_read_limit,
      [self, acc, failed](core::result<std::vector<store::conversation_row>> r) {
        if (!r.ok()) return failed(r.error());
        for (const auto& row : r.value())
          acc->queue.push_back({row.id, row.team, "waiting since a restart", row.updated_ms, ""});
        self->db.list_conversations(
            "ticket", store::k_max_read_limit,
            [self, acc, failed](core::result<std::vector<store::conversation_row>> tickets) {
              if (!tickets.ok()) return failed(tickets.error());
              for (const auto& row : tickets.value())
                acc->tickets.push_back({row.id, row.team, row.visitor_email, row.updated_ms});
              self->db.list_conversations(
                  "agent", store::k_max_read_limit,
                  [self, acc, failed](core::result<std::vector<store::conversation_row>> held_rows) {
                    if (!held_rows.ok()) return failed(held_rows.error());
                    std::vector<std::pair<std::string, std::int64_t>> held;
                    for (const auto& row : held_rows.value()) {
                      if (row.agent_id != 0) held.emplace_back(row.id, row.agent_id);
                    }
                    if (self->agents_desk)
                      self->agents_desk->load(std::move(acc->queue), std::move(acc->tickets),
                                              std::move(held));
                  });
            });
      });
}

void conversation_hub::resume_agent(agent_ref a) {
  std::shared_ptr<impl> self = impl_;
  if (!self->agents_desk) return;
  for (const auto& id : self->agents_desk->held_by(a.id)) {
    self->find(id, [a](core::result<std::shared_ptr<conversation>> r) {
      if (r.ok()) r.value()->agent_resume(a);
    });
  }
}

void conversation_hub::find(const std::string& id, opened done) { impl_->find(id, std::move(done)); }

void conversation_hub::impl::find(const std::string& id, opened done) {
  std::shared_ptr<conversation> c;
  {
    std::lock_guard lock(mu);
    const auto it = live.find(id);
    if (it != live.end()) c = it->second.lock();
  }
  // Called without the lock: `done` may drop the last reference, and the
  // conversation's destructor takes the lock.
  if (c) return done(std::move(c));
  std::shared_ptr<impl> self = shared_from_this();
  self->db.get_conversation(
      id, [self, done = std::move(done)](core::result<store::conversation_row> r) {
        if (!r.ok()) return done(r.error());
        bool existed = false;
        done(self->adopt(r.value(), &existed));
      });
}

std::shared_ptr<conversation> conversation_hub::impl::adopt(const store::conversation_row& row,
                                                            bool* existed) {
  std::lock_guard lock(mu);
  auto& slot = live[row.id];
  if (auto c = slot.lock()) {
    *existed = true;
    return c;
  }
  *existed = false;
  std::shared_ptr<conversation> c(new conversation(shared_from_this(), row.id));
  c->s_->state = row.state;
  c->s_->team = row.team;
  c->s_->last_seq = row.last_seq;
  c->s_->agent_id = row.agent_id;
  c->s_->dstate = state_from_json(row.context_json);
  slot = c;
  return c;
}

void conversation_hub::impl::forget(const std::string& id) {
  std::lock_guard lock(mu);
  auto it = live.find(id);
  if (it != live.end() && it->second.expired()) live.erase(it);
}

void conversation_hub::hello(const std::shared_ptr<visitor_link>& link, protocol::hello h,
                             opened done) {
  if (h.token.empty()) return impl_->create(link, std::move(done));
  std::shared_ptr<impl> self = impl_;
  std::string token = h.token;
  // The store holds its callbacks on its own threads: they keep the
  // connection only weakly, so that it is never destroyed there.
  self->db.find_conversation_by_token(
      token_hash(token), [self, link = std::weak_ptr<visitor_link>(link), h = std::move(h),
                          done = std::move(done)](core::result<store::conversation_row> r) mutable {
        if (!r.ok()) {
          if (r.error().code() == core::errc::not_found) {
            // Not ours (or the database was reset): a fresh conversation,
            // with a new token in the welcome.
            if (auto l = link.lock()) return self->create(l, std::move(done));
            return;
          }
          core::log::error("resume_failed", {{"error", r.error().message()}});
          return done(r.error());
        }
        bool existed = false;
        auto c = self->adopt(r.value(), &existed);
        self->metrics.conversations_resumed.fetch_add(1, std::memory_order_relaxed);
        const std::int64_t client_last = h.last_seq.value_or(0);
        asio::post(c->s_->strand, [c, link = std::move(link), client_last,
                                   token = std::move(h.token), done = std::move(done)] {
          if (auto l = link.lock()) c->attach(l, client_last, token, true);
          done(c);
        });
      });
}

void conversation_hub::impl::create(const std::shared_ptr<visitor_link>& link, opened done) {
  store::new_conversation nc;
  nc.id = core::new_conversation_id();
  std::string token = core::random_hex(16);  // 128 random bits
  nc.token_hash = token_hash(token);
  nc.ts_ms = clock.now_ms();
  db.create_conversation(
      std::move(nc), [this, keep = shared_from_this(), link = std::weak_ptr<visitor_link>(link),
                      token = std::move(token),
                      done = std::move(done)](core::result<store::conversation_row> r) mutable {
        if (!r.ok()) {
          core::log::error("conversation_create_failed", {{"error", r.error().message()}});
          return done(r.error());
        }
        bool existed = false;
        auto c = adopt(r.value(), &existed);
        metrics.conversations_started.fetch_add(1, std::memory_order_relaxed);
        core::log::info("conversation_started", {{"conversation_id", r.value().id}});
        asio::post(c->s_->strand,
                   [c, link = std::move(link), token = std::move(token), done = std::move(done)] {
                     c->s_->token = token;
                     if (auto l = link.lock()) c->attach(l, 0, token, false);
                     done(c);
                   });
      });
}

// ------------------------------------------------------------ conversation

conversation::conversation(std::shared_ptr<conversation_hub::impl> hub, std::string id)
    : hub_(std::move(hub)), id_(std::move(id)), s_(std::make_unique<state_data>(hub_->ioc)) {}

conversation::~conversation() {
  hub_->forget(id_);
}

namespace {

// Sends to every attached link (held back for links still replaying).
void broadcast(conversation::state_data& s, const shared_frame& f, bool droppable,
               const visitor_link* except) {
  for (auto& e : s.links) {
    if (e.key == except) continue;
    if (e.replaying) {
      e.held.emplace_back(f, droppable);
    } else if (auto l = e.link.lock()) {
      l->send(f, droppable);
    }
  }
}

void send_to(conversation::state_data& s, const std::shared_ptr<visitor_link>& link,
             shared_frame f) {
  for (auto& e : s.links) {
    if (e.key == link.get() && e.replaying) {
      e.held.emplace_back(std::move(f), false);
      return;
    }
  }
  link->send(std::move(f), false);
}

shared_frame message_frame(std::int64_t seq, std::string_view from, std::string_view text,
                           std::int64_t ts, std::string_view client_msg_id, std::string_view meta) {
  protocol::chat_message m;
  m.seq = seq;
  m.from = from;
  m.text = text;
  m.ts_ms = ts;
  m.client_msg_id = client_msg_id;
  m.meta_json = meta;
  return make_frame(protocol::encode_message(m));
}

}  // namespace

void conversation::attach(const std::shared_ptr<visitor_link>& link, std::int64_t client_last,
                          const std::string& token, bool resumed) {
  state_data& s = *s_;
  s.links.push_back({link, link.get(), false, {}});
  protocol::welcome w{id_, token, s.state, s.last_seq, resumed};
  link->send(make_frame(protocol::encode_welcome(w)), false);
  replay(link.get(), client_last);
  // A visitor who comes back to a waiting or held conversation hears where
  // it stands (after the replay: send_to holds frames back until then).
  if (s.state == "queued" && hub_->agents_desk) {
    if (auto p = hub_->agents_desk->place_of(id_)) {
      send_to(s, link,
              make_frame(protocol::encode_queue_state(p->team, p->position, p->eta_s ? *p->eta_s : -1,
                                                      p->no_agents, p->after_hours)));
    }
  } else if (s.state == "agent" && !s.agent_name.empty()) {
    send_to(s, link, make_frame(protocol::encode_state(s.state, s.team, s.agent_name)));
  }
}

// Sends what the client missed (seq > client_last) before anything newer:
// frames for this link are held back until the read returns.
void conversation::replay(const visitor_link* key, std::int64_t client_last) {
  state_data& s = *s_;
  const std::int64_t upto = s.last_seq;
  const std::int64_t window = std::max(1, hub_->cfg.limits.replay_window);
  auto entry =
      std::find_if(s.links.begin(), s.links.end(), [&](const auto& e) { return e.key == key; });
  if (entry == s.links.end()) return;
  std::int64_t after = client_last;
  if (client_last > upto || upto - client_last > window) {
    // A gap we do not fill message by message (or a client ahead of us):
    // it starts over from the last `window` messages.
    after = std::max<std::int64_t>(0, upto - window);
    if (auto l = entry->link.lock())
      l->send(make_frame(protocol::encode_resync(after + 1, upto)), false);
  }
  if (after >= upto) return;
  entry->replaying = true;
  auto self = shared_from_this();
  hub_->db.messages_after(
      id_, after, static_cast<int>(upto - after),
      [self, key, upto](core::result<std::vector<store::message_row>> rows) mutable {
        asio::post(self->s_->strand, [self, key, upto, rows = std::move(rows)] {
          state_data& st = *self->s_;
          auto e = std::find_if(st.links.begin(), st.links.end(),
                                [&](const auto& x) { return x.key == key; });
          if (e == st.links.end()) return;
          if (auto link = e->link.lock()) {
            if (!rows.ok()) {
              core::log::error("replay_failed",
                               {{"conversation_id", self->id_}, {"error", rows.error().message()}});
              self->send_error(link, protocol::errc::unavailable,
                               "could not load the history; reconnect");
              link->close(1011);
            } else {
              for (const auto& m : rows.value()) {
                if (m.seq > upto) break;
                link->send_history(
                    message_frame(m.seq, m.from, m.text, m.ts_ms, m.client_msg_id, m.meta_json));
              }
            }
            for (auto& [f, droppable] : e->held) link->send(std::move(f), droppable);
          }
          e->held.clear();
          e->replaying = false;
        });
      });
}

void conversation::on_message(const std::shared_ptr<visitor_link>& from, protocol::message m,
                              std::int64_t t_in_ns) {
  asio::post(s_->strand, [self = shared_from_this(), w = std::weak_ptr<visitor_link>(from),
                          m = std::move(m), t_in_ns]() mutable {
    state_data& s = *self->s_;
    auto link = w.lock();
    if (s.stopping) {
      self->send_error(link, protocol::errc::unavailable, "the server is restarting; send it again",
                       m.client_msg_id);
      return;
    }
    // At most visitor_messages_per_10s per conversation, whatever the tabs.
    const std::int64_t now = self->hub_->clock.now_ms();
    s.recent.erase(s.recent.begin(),
                   std::find_if(s.recent.begin(), s.recent.end(),
                                [&](std::int64_t t) { return t > now - k_rate_window_ms; }));
    const auto limit =
        static_cast<std::size_t>(std::max(1, self->hub_->cfg.limits.visitor_messages_per_10s));
    if (s.recent.size() >= limit) {
      self->hub_->metrics.rate_limited.fetch_add(1, std::memory_order_relaxed);
      self->send_error(link, protocol::errc::rate_limited, "too many messages; wait a few seconds",
                       m.client_msg_id);
      return;
    }
    s.recent.push_back(now);
    s.inbox.emplace_back(state_data::queued_message{std::move(w), std::move(m), t_in_ns});
    if (!s.busy) self->next();
  });
}

void conversation::on_close(const std::shared_ptr<visitor_link>& from) {
  asio::post(s_->strand, [self = shared_from_this(), w = std::weak_ptr<visitor_link>(from)] {
    self->push_work({state_data::queued_close{w}});
  });
}

// Queues a close, a contact or an agent action; beyond k_inbox_max the
// requester is told to slow down (a flood of frames must not pile up).
void conversation::push_work(queued_work item) {
  state_data::work& w = item.w;
  state_data& s = *s_;
  if (s.inbox.size() >= k_inbox_max) {
    if (auto* a = std::get_if<state_data::queued_agent>(&w); a && a->kind != visitor_ticket) {
      agent_error(a->agent, protocol::errc::rate_limited, "too many actions at once; slow down",
                  a->client_msg_id);
      if (a->kind == claim && hub_->agents_desk) hub_->agents_desk->offer_done(id_, true);
    } else {
      std::shared_ptr<visitor_link> link;
      if (auto* c = std::get_if<state_data::queued_close>(&w)) link = c->from.lock();
      if (a) link = a->visitor.lock();
      send_error(link, protocol::errc::rate_limited, "too many frames at once; slow down");
    }
    return;
  }
  s.inbox.push_back(std::move(item.w));
  if (!s.busy) next();
}

// Starts the next queued work. A step refused at once calls next() again:
// that nested call only marks `again`, and this loop takes the next item, so
// a long inbox of refusals never deepens the stack.
void conversation::next() {
  state_data& s = *s_;
  if (s.in_next) {
    s.again = true;
    return;
  }
  s.in_next = true;
  do {
    s.again = false;
    if (s.inbox.empty()) {
      s.busy = false;
      became_idle();
      break;
    }
    s.busy = true;
    state_data::work w = std::move(s.inbox.front());
    s.inbox.erase(s.inbox.begin());
    if (auto* m = std::get_if<state_data::queued_message>(&w)) {
      start_message(std::move(m->from), std::move(m->m), m->t_in_ns);
    } else if (auto* a = std::get_if<state_data::queued_agent>(&w)) {
      if (a->kind == visitor_ticket) {
        start_ticket(std::move(a->visitor), std::move(a->text));
      } else {
        start_agent(a->kind, std::move(a->agent), std::move(a->client_msg_id), std::move(a->text),
                    std::move(a->to));
      }
    } else {
      start_close(std::move(std::get<state_data::queued_close>(w).from));
    }
  } while (s.again);
  s.in_next = false;
}

void conversation::became_idle() {
  state_data& s = *s_;
  auto waiters = std::move(s.idle_waiters);
  s.idle_waiters.clear();
  for (auto& fn : waiters) fn();
}

void conversation::start_message(std::weak_ptr<visitor_link> from, protocol::message m,
                                 std::int64_t t_in_ns) {
  state_data& s = *s_;
  const std::int64_t now = hub_->clock.now_ms();
  store::new_turn turn;
  turn.ts_ms = now;
  store::new_message vm;
  vm.conversation_id = id_;
  vm.client_msg_id = m.client_msg_id;
  vm.from = store::sender::visitor;
  vm.text = m.text.empty() ? m.payload : m.text;
  vm.meta_json = protocol::visitor_meta(m.payload);
  vm.ts_ms = now;

  state_data::pending_turn p;
  p.from = std::move(from);
  p.client_msg_id = m.client_msg_id;
  p.visitor_text = vm.text;
  p.visitor_meta = vm.meta_json;
  p.dstate = s.dstate;
  p.state = s.state;
  p.team = s.team;
  p.t_in_ns = t_in_ns;

  if (s.state == "closed") {
    // A new message reopens a closed conversation with the bot.
    p.state = "bot";
    p.team.clear();
    turn.events.push_back({"reopened", id_, "", now});
  }
  if (p.state == "bot") {
    const auto snap = hub_->rules.get();
    dialog::decision d;
    if (snap) {
      // The server needs the decision, not every candidate (that is `ask`).
      d = hub_->router.route(
          m.payload.empty() ? std::string_view(m.text) : std::string_view(m.payload), p.dstate,
          *snap, response_rng(), dialog::route_detail::decision_only);
    } else {
      d.kind = dialog::decision_kind::fallback;
      d.source_kind = "fallback";
      d.text = "Sorry, I cannot answer right now.";
    }
    if (!d.error.ok()) {
      core::log::error("route_failed", {{"conversation_id", id_}, {"error", d.error.message()}});
    }
    p.decision = static_cast<int>(d.kind);
    p.handoff_reason = d.handoff_reason;
    std::vector<protocol::quick_reply> qr;
    for (std::size_t i = 0; i < d.quick_replies.size(); ++i) {
      qr.push_back({d.quick_replies[i], i < d.quick_payloads.size() ? d.quick_payloads[i] : ""});
    }
    std::string meta =
        protocol::reply_meta({d.source_kind, d.source_id, d.source_title, d.confidence}, qr,
                             dialog::decision_name(d.kind));
    if (!d.text.empty()) p.replies.emplace_back(d.text, std::move(meta));
    if (d.kind == dialog::decision_kind::handoff) {
      p.state = "queued";
      p.team = d.handoff_team.empty() ? std::string(dialog::k_default_team) : d.handoff_team;
      std::string data = "{\"reason\":";
      core::log::append_json_string(data, d.handoff_reason);
      data += ",\"team\":";
      core::log::append_json_string(data, p.team);
      data += '}';
      turn.events.push_back({"handoff", id_, std::move(data), now});
    } else if (d.close) {
      p.state = "closed";
      p.team.clear();
      turn.events.push_back({"closed", id_, "{\"by\":\"bot\"}", now});
    }
    turn.context_json = state_to_json(p.dstate);
  }
  for (const auto& [text, meta] : p.replies) {
    store::new_message r;
    r.conversation_id = id_;
    r.from = store::sender::bot;
    r.text = text;
    r.meta_json = meta;
    r.ts_ms = now;
    turn.replies.push_back(std::move(r));
  }
  if (p.state != s.state || p.team != s.team) turn.state = store::state_change{p.state, p.team};
  turn.visitor = std::move(vm);
  s.pending = std::make_unique<state_data::pending_turn>(std::move(p));
  submit_turn(std::move(turn));
}

void conversation::agent_claim(agent_ref a) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a)]() mutable {
    self->push_work({state_data::queued_agent{claim, std::move(a), {}, {}, {}}});
  });
}

void conversation::agent_message(agent_ref a, std::string client_msg_id, std::string text) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a),
                          cmid = std::move(client_msg_id), text = std::move(text)]() mutable {
    self->push_work(
        {state_data::queued_agent{reply, std::move(a), std::move(cmid), std::move(text), {}}});
  });
}

void conversation::agent_release(agent_ref a) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a)]() mutable {
    self->push_work({state_data::queued_agent{release, std::move(a), {}, {}, {}}});
  });
}

void conversation::agent_close(agent_ref a) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a)]() mutable {
    self->push_work({state_data::queued_agent{close_by_agent, std::move(a), {}, {}, {}}});
  });
}

namespace {
void agent_ref_send(const agent_ref& a, std::string frame) {
  if (auto l = a.link.lock()) l->send(std::make_shared<const std::string>(std::move(frame)));
}
}  // namespace

void conversation::agent_error(const agent_ref& a, std::string_view code,
                               const std::string& message, std::string_view client_msg_id) {
  if (auto l = a.link.lock())
    l->send(make_frame(protocol::encode_agent_error(code, message, id_, client_msg_id)));
}

// One agent action as a turn. Checked here, on the strand, against the
// committed state: of two claims, the second sees the first's result.
void conversation::agent_transfer_team(agent_ref a, std::string team) {
  asio::post(
      s_->strand, [self = shared_from_this(), a = std::move(a), team = std::move(team)]() mutable {
        self->push_work({state_data::queued_agent{to_team, std::move(a), {}, std::move(team), {}}});
      });
}

void conversation::agent_transfer_agent(agent_ref a, agent_ref to) {
  asio::post(
      s_->strand, [self = shared_from_this(), a = std::move(a), to = std::move(to)]() mutable {
        self->push_work({state_data::queued_agent{to_agent, std::move(a), {}, {}, std::move(to)}});
      });
}

void conversation::agent_note(agent_ref a, std::string text) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a),
                          text = std::move(text)]() mutable {
    state_data& s = *self->s_;
    if (s.state != "agent" || s.agent_id != a.id)
      return self->agent_error(a, protocol::errc::not_yours, "this conversation is not yours");
    const std::int64_t now = self->hub_->clock.now_ms();
    self->hub_->db.add_note(
        self->id_, a.id, text, now, [self, a, text, now](core::result<std::int64_t> r) {
          if (!r.ok())
            return self->agent_error(a, error_code_for(r.error()), "the note could not be stored");
          const std::string frame = protocol::encode_note(
              self->id_, protocol::note_json(r.value(), a.display_name, text, now));
          if (desk* d = self->hub_->agents_desk) d->send_to_agent(a.id, make_frame(frame));
        });
  });
}

void conversation::start_ticket(std::weak_ptr<visitor_link> from, std::string email) {
  state_data& s = *s_;
  if (s.state != "queued") {
    send_error(from.lock(), protocol::errc::bad_state,
               "an email is taken while you wait for an agent");
    return next();
  }
  const std::int64_t now = hub_->clock.now_ms();
  store::new_turn turn;
  turn.conversation_id = id_;
  turn.ts_ms = now;
  turn.ticket_email = email;
  turn.state = store::state_change{"ticket", s.team};
  std::string data = "{\"team\":";
  core::log::append_json_string(data, s.team);
  data += ",\"email\":";
  core::log::append_json_string(data, email);
  data += '}';
  turn.events.push_back({"ticket", id_, std::move(data), now});
  state_data::pending_turn p;
  p.from = std::move(from);
  p.dstate = s.dstate;
  p.state = "ticket";
  p.team = s.team;
  p.agent_kind = visitor_ticket;
  p.visitor_text = std::move(email);  // the ticket's email, for the desk
  s.pending = std::make_unique<state_data::pending_turn>(std::move(p));
  submit_turn(std::move(turn));
}

void conversation::start_agent(int kind, agent_ref a, std::string client_msg_id, std::string text,
                               agent_ref to) {
  state_data& s = *s_;
  const std::int64_t now = hub_->clock.now_ms();
  if (kind == claim) {
    if (s.state != "queued" && s.state != "ticket") {
      if (desk* d = hub_->agents_desk) {
        d->offer_done(id_, true);  // an auto-assignment, perhaps
        // The desk thought it waited (a stale entry, e.g. loaded at start
        // while the visitor closed it): it does not.
        d->dequeued(id_);
      }
      agent_error(
          a, s.state == "agent" ? protocol::errc::already_claimed : protocol::errc::bad_state,
          s.state == "agent" ? "another agent took this conversation"
                             : "this conversation is not waiting for an agent (" + s.state + ")");
      return next();
    }
  } else if (s.state != "agent" || s.agent_id != a.id) {
    agent_error(a, protocol::errc::not_yours, "this conversation is not yours: claim it first",
                client_msg_id);
    return next();
  }
  store::new_turn turn;
  turn.conversation_id = id_;
  turn.ts_ms = now;
  state_data::pending_turn p;
  p.dstate = s.dstate;
  p.state = s.state;
  p.team = s.team;
  p.agent_kind = kind;
  std::string data = "{\"agent\":";
  core::log::append_json_string(data, a.name);
  data += '}';
  if (kind == claim) {
    p.state = "agent";
    turn.assign_agent = a.id;
    turn.answer_ticket = s.state == "ticket";
    turn.events.push_back({"claimed", id_, data, now});
  } else if (kind == reply) {
    store::new_message m;
    m.conversation_id = id_;
    // Agent ids are kept apart from the visitor's in the same conversation.
    m.client_msg_id = "agent-" + std::to_string(a.id) + ":" + client_msg_id;
    m.from = store::sender::agent;
    m.text = text;
    std::string meta = "{\"agent\":";
    core::log::append_json_string(meta, a.display_name);
    meta += '}';
    m.meta_json = meta;
    m.ts_ms = now;
    p.client_msg_id = client_msg_id;
    p.replies.emplace_back(text, std::move(meta));
    turn.replies.push_back(std::move(m));
  } else if (kind == to_team) {
    if (text.empty() || text.size() > store::k_max_team_bytes ||
        text.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            std::string::npos) {
      agent_error(a, protocol::errc::bad_field, "a team is 1-64 letters, digits, _ or -");
      return next();
    }
    p.state = "queued";
    p.team = text;
    p.handoff_reason = "transferred by " + a.display_name;
    turn.release_agent = true;
    turn.events.push_back({"transferred", id_, data, now});
  } else if (kind == to_agent) {
    if (to.id == a.id) {
      agent_error(a, protocol::errc::bad_field, "this conversation is already yours");
      return next();
    }
    turn.release_agent = true;
    turn.assign_agent = to.id;
    turn.events.push_back({"transferred", id_, data, now});
    p.to = std::move(to);
  } else {
    p.state = kind == release ? "bot" : "closed";
    if (kind == close_by_agent) p.team.clear();
    turn.release_agent = true;
    turn.events.push_back({kind == release ? "released" : "closed", id_, data, now});
  }
  if (p.state != s.state || p.team != s.team) turn.state = store::state_change{p.state, p.team};
  p.agent = std::move(a);
  s.pending = std::make_unique<state_data::pending_turn>(std::move(p));
  submit_turn(std::move(turn));
}

// Stores the turn whose effects wait in s_->pending; turn_done() runs on
// the strand after the COMMIT (or the failure).
void conversation::submit_turn(store::new_turn turn) {
  // Every turn that writes a message carries the dialog context (on its last
  // message, schema v3), so that reading a conversation's context back is
  // one row, not a walk back through an agent's messages.
  if (!turn.context_json && (turn.visitor || !turn.replies.empty()))
    turn.context_json = state_to_json(s_->pending->dstate);
  for (const auto& e : turn.events) {
    if (e.kind == "handoff" || e.kind == "ticket" || e.kind == "closed")
      s_->pending->events.emplace_back(e.kind, e.data_json);
  }
  hub_->db.append_turn(
      std::move(turn), [self = shared_from_this()](core::result<store::turn_appended> r) mutable {
        asio::post(self->s_->strand,
                   [self, r = std::move(r)]() mutable { self->turn_done(std::move(r)); });
      });
}

// The claiming agent gets the whole conversation: transcript, context, why.
void conversation::send_transcript(agent_ref a) {
  auto self = shared_from_this();
  hub_->db.messages_after(
      id_, std::max<std::int64_t>(0, s_->last_seq - k_transcript_max), k_transcript_max,
      [self, a = std::move(a)](core::result<std::vector<store::message_row>> rows) {
        asio::post(self->s_->strand, [self, a, rows = std::move(rows)] {
          std::string transcript = "[";
          if (rows.ok()) {
            for (const auto& m : rows.value()) {
              if (transcript.size() > 1) transcript += ',';
              protocol::chat_message cm;
              cm.seq = m.seq;
              cm.from = m.from;
              cm.text = m.text;
              cm.ts_ms = m.ts_ms;
              cm.meta_json = m.meta_json;
              transcript += protocol::encode_message(cm);
            }
          }
          transcript += ']';
          const std::string context = state_to_json(self->s_->dstate);
          self->hub_->db.list_notes(
              self->id_,
              [self, a, transcript, context](core::result<std::vector<store::note_row>> notes) {
                std::string list = "[";
                if (notes.ok()) {
                  for (const auto& n : notes.value()) {
                    if (list.size() > 1) list += ',';
                    list += protocol::note_json(n.id, n.agent, n.text, n.ts_ms);
                  }
                }
                list += ']';
                asio::post(self->s_->strand, [self, a, transcript, context, list] {
                  auto frame = make_frame(
                      protocol::encode_conversation(self->id_, self->s_->state, transcript, context,
                                                    self->s_->reason, list, self->s_->team));
                  if (auto l = a.link.lock()) {
                    l->send(std::move(frame));
                  } else if (desk* d = self->hub_->agents_desk) {
                    d->send_to_agent(a.id,
                                     frame);  // a transfer: to every console of the new holder
                  }
                });
              });
        });
      });
}

void conversation::start_close(std::weak_ptr<visitor_link> from) {
  state_data& s = *s_;
  if (s.state == "closed") {
    if (auto l = from.lock()) l->send(make_frame(protocol::encode_state(s.state, s.team)), false);
    return next();
  }
  store::new_turn turn;
  turn.conversation_id = id_;
  turn.ts_ms = hub_->clock.now_ms();
  turn.state = store::state_change{"closed", ""};
  turn.release_agent = s.agent_id != 0;
  turn.events.push_back({"closed", id_, "{\"by\":\"visitor\"}", turn.ts_ms});
  state_data::pending_turn p;
  p.from = std::move(from);
  p.dstate = s.dstate;
  p.state = "closed";
  s.pending = std::make_unique<state_data::pending_turn>(std::move(p));
  submit_turn(std::move(turn));
}

void conversation::turn_done(core::result<store::turn_appended> r) {
  state_data& s = *s_;
  state_data::pending_turn p = std::move(*s.pending);
  s.pending.reset();
  auto from = p.from.lock();
  net_metrics& metrics = hub_->metrics;
  if (!r.ok() && p.agent_kind == visitor_ticket) {
    core::log::error("ticket_failed", {{"conversation_id", id_}, {"error", r.error().message()}});
    send_error(from, error_code_for(r.error()), "the email could not be stored; try again");
    return next();
  }
  if (!r.ok() && p.agent_kind >= 0) {
    const core::status& st = r.error();
    if (p.agent_kind == claim && hub_->agents_desk) hub_->agents_desk->offer_done(id_, true);
    if (p.agent_kind == claim && st.code() == core::errc::conflict) {
      agent_error(p.agent, protocol::errc::already_claimed, "another agent took this conversation");
    } else {
      core::log::error("agent_turn_failed", {{"conversation_id", id_}, {"error", st.message()}});
      agent_error(p.agent, error_code_for(st), "that could not be stored; try again",
                  p.client_msg_id);
    }
    return next();
  }
  if (!r.ok()) {
    const core::status& st = r.error();
    if (st.code() != core::errc::conflict) {
      core::log::error("turn_failed", {{"conversation_id", id_}, {"error", st.message()}});
    }
    const std::string_view code = error_code_for(st);
    send_error(from, code,
               code == protocol::errc::conflict
                   ? "this client_msg_id was already used for another message"
               : code == protocol::errc::unavailable ? "the server is busy; send it again"
                                                     : "the message could not be stored",
               p.client_msg_id);
    return next();
  }
  const store::turn_appended& t = r.value();
  if (p.agent_kind < 0 && !p.client_msg_id.empty() && t.visitor.duplicate) {
    // Seen before: the first ack again; its reply was stored with it and
    // reaches the client by replay.
    metrics.duplicates.fetch_add(1, std::memory_order_relaxed);
    if (from)
      send_to(s, from, make_frame(protocol::encode_ack(p.client_msg_id, t.visitor.seq, true)));
    return next();
  }
  if (p.agent_kind < 0 && !p.client_msg_id.empty()) {
    metrics.messages.fetch_add(1, std::memory_order_relaxed);
    s.last_seq = std::max(s.last_seq, t.visitor.seq);
    if (from)
      send_to(s, from, make_frame(protocol::encode_ack(p.client_msg_id, t.visitor.seq, false)));
    // The other tabs see the visitor's message itself.
    broadcast(s,
              message_frame(t.visitor.seq, "visitor", p.visitor_text, t.visitor.ts_ms,
                            p.client_msg_id, p.visitor_meta),
              false, from.get());
    // So does the agent who holds the conversation.
    if (s.state == "agent" && s.agent_id != 0 && hub_->agents_desk) {
      protocol::chat_message cm;
      cm.seq = t.visitor.seq;
      cm.from = "visitor";
      cm.text = p.visitor_text;
      cm.ts_ms = t.visitor.ts_ms;
      cm.meta_json = p.visitor_meta;
      hub_->agents_desk->send_to_agent(s.agent_id,
                                       make_frame(protocol::encode_agent_message(id_, cm)));
    }
  }
  // Counted before the reply goes out: a client that reads /metrics after
  // the reply finds it counted. (The latency ends as the reply is queued.)
  if (p.decision >= 0) {
    metrics.decisions[static_cast<std::size_t>(p.decision)].fetch_add(1, std::memory_order_relaxed);
  }
  if (p.t_in_ns > 0) metrics.latency.observe_ns(steady_now_ns() - p.t_in_ns);
  const std::string_view reply_from = p.agent_kind == reply ? "agent" : "bot";
  for (std::size_t i = 0; i < t.replies.size() && i < p.replies.size(); ++i) {
    s.last_seq = std::max(s.last_seq, t.replies[i].seq);
    if (t.replies[i].duplicate) continue;  // an agent's resend: delivered the first time
    broadcast(s,
              message_frame(t.replies[i].seq, reply_from, p.replies[i].first, t.replies[i].ts_ms,
                            "", p.replies[i].second),
              false);
  }
  if (p.agent_kind == reply && !t.replies.empty()) {
    agent_ref_send(p.agent,
                   protocol::encode_agent_ack(id_, p.client_msg_id, t.replies.front().seq));
    // The agent's other consoles see what they wrote.
    if (desk* d = hub_->agents_desk; d && !t.replies.front().duplicate) {
      protocol::chat_message cm;
      cm.seq = t.replies.front().seq;
      cm.from = "agent";
      cm.text = p.replies.front().first;
      cm.ts_ms = t.replies.front().ts_ms;
      cm.meta_json = p.replies.front().second;
      d->send_to_agent(p.agent.id, make_frame(protocol::encode_agent_message(id_, cm)),
                       agent_link::kind::normal, p.agent.link.lock().get());
    }
  }
  s.dstate = std::move(p.dstate);
  const std::int64_t holder_before = s.agent_id;
  if (p.agent_kind == claim) {
    s.agent_id = p.agent.id;
    s.agent_name = p.agent.display_name;
  } else if (p.agent_kind == release || p.agent_kind == close_by_agent || p.agent_kind == to_team) {
    s.agent_id = 0;
    s.agent_name.clear();
  } else if (p.agent_kind == to_agent) {
    s.agent_id = p.to.id;
    s.agent_name = p.to.display_name;
    agent_ref_send(p.agent, protocol::encode_transferred(id_, p.to.display_name));
    broadcast(s, make_frame(protocol::encode_state(s.state, s.team, s.agent_name)), false);
    send_transcript(p.to);
  }
  // The desk counts each agent's chats (max_chats, auto-assignment).
  if (desk* d = hub_->agents_desk; d && s.agent_id != holder_before) {
    if (s.agent_id != 0) {
      d->held(id_, s.agent_id);
    } else {
      d->released(id_);
    }
  }
  if (p.state != s.state || p.team != s.team) {
    const std::string before = s.state;
    if (p.state == "closed") s.surveyed = false;  // each close asks once
    s.state = p.state;
    s.team = p.team;
    broadcast(
        s,
        make_frame(protocol::encode_state(s.state, s.team, s.state == "agent" ? s.agent_name : "")),
        false);
    if (s.state == "queued" && before != "queued")
      s.reason = p.handoff_reason.empty() ? std::string("handoff") : p.handoff_reason;
    if (desk* d = hub_->agents_desk) {
      if (s.state == "queued" && before != "queued") {
        d->queued({id_, s.team,
                   p.handoff_reason.empty() ? std::string("handoff") : p.handoff_reason,
                   hub_->clock.now_ms(), p.visitor_text});
      } else if (before == "queued" && s.state != "queued") {
        d->dequeued(id_, p.agent_kind == claim);
      }
      if (s.state == "ticket") d->ticketed({id_, s.team, p.visitor_text, hub_->clock.now_ms()});
      if (before == "ticket") d->unticketed(id_);
      // The agent who let go learns the new state; so does one whose
      // visitor closed the conversation.
      if (p.agent_kind == release || p.agent_kind == close_by_agent || p.agent_kind == to_team) {
        agent_ref_send(p.agent, protocol::encode_agent_state(id_, s.state, s.team));
      } else if (before == "agent" && s.agent_id != 0) {
        d->send_to_agent(s.agent_id, make_frame(protocol::encode_agent_state(id_, s.state)));
        s.agent_id = 0;
        s.agent_name.clear();
        d->released(id_);
      }
    }
  }
  if (p.agent_kind == claim) send_transcript(p.agent);
  if (hub_->webhooks) {
    const std::int64_t now = hub_->clock.now_ms();
    for (const auto& [type, data] : p.events) hub_->webhooks(type, id_, data, now);
  }
  next();
}

void conversation::send_error(const std::shared_ptr<visitor_link>& link, std::string_view code,
                              const std::string& message, std::string_view client_msg_id) {
  if (!link) return;
  hub_->metrics.frame_errors.fetch_add(1, std::memory_order_relaxed);
  core::log::info("ws_error", {{"conversation_id", id_}, {"code", code}});
  link->send(make_frame(protocol::encode_error(code, message, client_msg_id)), false);
}

void conversation::on_typing(const std::shared_ptr<visitor_link>& from, protocol::typing t) {
  (void)from;  // the visitor's other tabs need not know
  asio::post(s_->strand, [self = shared_from_this(), on = t.on] {
    state_data& s = *self->s_;
    if (s.state != "agent" || s.agent_id == 0 || !self->hub_->agents_desk) return;
    self->hub_->agents_desk->send_to_agent(
        s.agent_id, make_frame(protocol::encode_agent_typing(self->id_, on)), agent_link::kind::droppable);
  });
}

void conversation::agent_resume(agent_ref a) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a)]() mutable {
    state_data& s = *self->s_;
    if (s.state != "agent" || s.agent_id != a.id) return;
    if (s.agent_name.empty()) s.agent_name = a.display_name;
    self->send_transcript(std::move(a));
  });
}

void conversation::agent_typing(agent_ref a, bool on) {
  asio::post(s_->strand, [self = shared_from_this(), a = std::move(a), on] {
    state_data& s = *self->s_;
    if (s.state != "agent" || s.agent_id != a.id)
      return self->agent_error(a, protocol::errc::not_yours, "this conversation is not yours");
    broadcast(s, make_frame(protocol::encode_typing("agent", on)), true);
  });
}

void conversation::on_feedback(const std::shared_ptr<visitor_link>& from, protocol::feedback f) {
  hub_->db.record_feedback(id_, f.seq, f.helpful, hub_->clock.now_ms(),
                           [self = shared_from_this(), w = std::weak_ptr<visitor_link>(from),
                            seq = f.seq](core::status st) {
                             if (st.ok()) return;
                             asio::post(self->s_->strand, [self, w, seq, st] {
                               self->send_error(
                                   w.lock(), error_code_for(st),
                                   st.code() == core::errc::not_found
                                       ? "no bot message has seq " + std::to_string(seq)
                                       : std::string("the feedback could not be stored"));
                             });
                           });
}

void conversation::on_survey(const std::shared_ptr<visitor_link>& from, protocol::survey sv) {
  asio::post(s_->strand, [self = shared_from_this(), w = std::weak_ptr<visitor_link>(from),
                          sv = std::move(sv)]() mutable {
    state_data& s = *self->s_;
    auto link = w.lock();
    if (s.state != "closed") {
      self->send_error(link, protocol::errc::bad_state,
                       "a survey is taken once the conversation is closed");
      return;
    }
    if (s.surveyed) {
      self->send_error(link, protocol::errc::bad_state, "this conversation's survey was taken");
      return;
    }
    s.surveyed = true;
    self->hub_->db.record_survey(
        self->id_, sv.csat, std::move(sv.comment), self->hub_->clock.now_ms(),
        [self, w](core::result<std::int64_t> r) {
          if (r.ok()) return;
          asio::post(self->s_->strand, [self, w, st = r.error()] {
            if (st.code() != core::errc::conflict)
              core::log::error("survey_failed",
                               {{"conversation_id", self->id_}, {"error", st.message()}});
            if (st.code() == core::errc::conflict) {
              self->send_error(w.lock(), protocol::errc::bad_state,
                               "this conversation's survey was taken");
            } else {
              self->send_error(w.lock(), error_code_for(st), "the survey could not be stored");
            }
          });
        });
  });
}

// The visitor leaves an email while waiting: the conversation becomes a
// ticket that agents answer later (delivered when the visitor comes back).
void conversation::on_contact(const std::shared_ptr<visitor_link>& from, protocol::contact c) {
  asio::post(s_->strand, [self = shared_from_this(), w = std::weak_ptr<visitor_link>(from),
                          email = std::move(c.email)]() mutable {
    self->push_work(
        {state_data::queued_agent{visitor_ticket, {}, {}, std::move(email), {}, std::move(w)}});
  });
}

void conversation::detach(const visitor_link* link) {
  asio::post(s_->strand, [self = shared_from_this(), link] {
    auto& links = self->s_->links;
    links.erase(
        std::remove_if(links.begin(), links.end(), [&](const auto& e) { return e.key == link; }),
        links.end());
  });
}

void conversation::when_idle(std::function<void()> fn) {
  asio::post(s_->strand, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    state_data& s = *self->s_;
    s.stopping = true;
    if (!s.busy) {
      fn();
    } else {
      s.idle_waiters.push_back(std::move(fn));
    }
  });
}

}  // namespace bot::net
