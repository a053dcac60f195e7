// The visitor side of the chat server: a conversation_hub that opens and
// resumes conversations, and one conversation object per live conversation.
//
// Threading (DESIGN §3): each conversation runs on its own strand. All of a
// visitor's connections (tabs) go through it, so its messages have one
// order: a message is stored (visitor message, bot reply, context and state
// in one transaction) and only after COMMIT are the ack and the reply sent.
// One turn is in flight per conversation at a time. Store completions are
// posted back to the strand; nothing here blocks.
//
// A connection (visitor_link) is held weakly; the connection holds its
// conversation strongly, so a conversation lives while a tab is open or a
// turn is in flight, and is rebuilt from the store on the next hello.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "bot/core/clock.hpp"
#include "bot/core/config.hpp"
#include "bot/core/status.hpp"
#include "bot/dialog/snapshot_holder.hpp"
#include "bot/net/metrics.hpp"
#include "bot/protocol/protocol.hpp"
#include "bot/store/store.hpp"

namespace boost::asio {
class io_context;
}

namespace bot::net {

using shared_frame = std::shared_ptr<const std::string>;

// What a conversation sees of one WebSocket connection. Both calls are
// thread-safe and never block.
class visitor_link {
 public:
  virtual ~visitor_link() = default;
  // Queues a text frame. A droppable frame (typing) is the first to go when
  // the client reads too slowly.
  virtual void send(shared_frame frame, bool droppable) = 0;
  // Queues a replayed message (resume). These do not count against the
  // outbound queue bound: a resume sends up to limits.replay_window of them
  // at once, however fast the client reads.
  virtual void send_history(shared_frame frame) = 0;
  // Sends what is queued, then closes with `code`.
  virtual void close(std::uint16_t code) = 0;
};

class conversation;
class desk;
class agent_link;

// An agent acting on a conversation: who, and the connection that asked
// (answers and errors go back to it).
struct agent_ref {
  std::int64_t id = 0;
  std::string name;
  std::string display_name;
  std::weak_ptr<agent_link> link;
};

class conversation_hub {
 public:
  conversation_hub(boost::asio::io_context& ioc, store::store& db,
                   const dialog::snapshot_holder& rules, const core::config& cfg,
                   net_metrics& metrics, const core::clock& clock);
  ~conversation_hub();
  conversation_hub(const conversation_hub&) = delete;
  conversation_hub& operator=(const conversation_hub&) = delete;

  using opened = std::function<void(core::result<std::shared_ptr<conversation>>)>;
  // Answers a hello: resumes the conversation of `h.token` (a token this
  // server does not know starts a new conversation) or starts one, attaches
  // `link`, sends welcome and the missed messages. `done` runs on the
  // conversation's strand (or at once on an error).
  void hello(const std::shared_ptr<visitor_link>& link, protocol::hello h, opened done);

  std::size_t live() const;

  // The agents' desk: told when conversations are queued or leave the
  // queue, and used to reach the agent holding a conversation. Set once,
  // before the server accepts connections; it must outlive the hub.
  void set_desk(desk* d);
  // Fills the desk's queue from the store (conversations in state queued):
  // the queue survives a restart. Runs the store read and returns at once.
  void load_queue();
  // The conversation `id`, live or read from the store (not_found when it
  // does not exist). `done` runs on a store or I/O thread.
  void find(const std::string& id, opened done);
  // Sends agent `a` every conversation they hold (after a reconnect).
  void resume_agent(agent_ref a);
  // Told every committed `handoff`, `ticket` and `closed` event (type,
  // conversation id, data JSON, time), for the webhooks. Set once, before
  // serving; it must not block.
  using webhook_sink = std::function<void(std::string_view type, const std::string& conversation_id,
                                          const std::string& data_json, std::int64_t ts_ms)>;
  void set_webhooks(webhook_sink sink);

 private:
  friend class conversation;
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with the conversations, which may outlive the hub
};

class conversation : public std::enable_shared_from_this<conversation> {
 public:
  ~conversation();
  conversation(const conversation&) = delete;
  conversation& operator=(const conversation&) = delete;

  const std::string& id() const { return id_; }

  // Each call posts to the conversation's strand and returns at once.
  // `t_in_ns` is the steady time the frame was read (for the latency metric).
  void on_message(const std::shared_ptr<visitor_link>& from, protocol::message m,
                  std::int64_t t_in_ns);
  void on_typing(const std::shared_ptr<visitor_link>& from, protocol::typing t);
  void on_feedback(const std::shared_ptr<visitor_link>& from, protocol::feedback f);
  void on_survey(const std::shared_ptr<visitor_link>& from, protocol::survey s);
  void on_contact(const std::shared_ptr<visitor_link>& from, protocol::contact c);
  void on_close(const std::shared_ptr<visitor_link>& from);
  // Agent actions (docs/agents.md), queued with the visitor's turns so that
  // they have one order: claim a queued conversation (exactly one of several
  // claims wins; the others get already_claimed), write to the visitor,
  // hand the conversation back to the bot, or close it.
  void agent_claim(agent_ref a);
  void agent_message(agent_ref a, std::string client_msg_id, std::string text);
  void agent_release(agent_ref a);
  void agent_close(agent_ref a);
  // Typing indicators between the visitor and the agent who holds the
  // conversation (dropped first when a client reads slowly).
  void agent_typing(agent_ref a, bool on);
  // An agent's console reconnected: if they hold this conversation they get
  // it again (transcript, context), as after their claim.
  void agent_resume(agent_ref a);
  // An internal note (stored; shown to agents only). Only by the holder.
  void agent_note(agent_ref a, std::string text);
  // The holder hands the conversation to a team's queue, or straight to
  // agent `to` (who gets it as after a claim).
  void agent_transfer_team(agent_ref a, std::string team);
  void agent_transfer_agent(agent_ref a, agent_ref to);
  void detach(const visitor_link* link);
  // For shutdown: refuses new messages, finishes the turn in flight and the
  // queued ones, then runs `fn` on the strand.
  void when_idle(std::function<void()> fn);

  struct state_data;  // the strand-only state (conversation.cpp)

 private:
  friend class conversation_hub;
  conversation(std::shared_ptr<conversation_hub::impl> hub, std::string id);
  // Strand-only steps.
  void attach(const std::shared_ptr<visitor_link>& link, std::int64_t client_last,
              const std::string& token, bool resumed);
  void replay(const visitor_link* key, std::int64_t client_last);
  void next();
  struct queued_work;  // conversation.cpp
  void push_work(queued_work w);
  void start_message(std::weak_ptr<visitor_link> from, protocol::message m, std::int64_t t_in_ns);
  void start_close(std::weak_ptr<visitor_link> from);
  void start_agent(int kind, agent_ref a, std::string client_msg_id, std::string text,
                   agent_ref to = {});
  void start_ticket(std::weak_ptr<visitor_link> from, std::string email);
  void send_transcript(agent_ref a);
  void agent_error(const agent_ref& a, std::string_view code, const std::string& message,
                   std::string_view client_msg_id = {});
  void submit_turn(store::new_turn turn);
  void turn_done(core::result<store::turn_appended> r);
  void became_idle();
  // Sends an error frame (counted and logged with the conversation id).
  void send_error(const std::shared_ptr<visitor_link>& link, std::string_view code,
                  const std::string& message, std::string_view client_msg_id = {});
  const std::shared_ptr<conversation_hub::impl> hub_;
  const std::string id_;
  std::unique_ptr<state_data> s_;
};

// The hex SHA-256 of a visitor token: what the store keeps instead of it.
std::string token_hash(std::string_view token);

}  // namespace bot::net
