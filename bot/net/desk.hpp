// desk: the agents' side of the chat. It knows which agents are connected,
// their presence (online / away / offline, kept fresh by heartbeats), which
// conversations each holds, and which conversations wait in each team's
// queue. It sends every agent a `queue` snapshot and the `agents` list when
// they connect and again whenever either changes, tells waiting visitors
// their place, and (when auto-assignment is on) hands waiting conversations
// round-robin to online agents of the team under their max_chats.
// Conversations tell it when they are queued, claimed or let go; nothing
// here touches the store or sockets directly.
//
// Thread-safety: every method is safe from any thread; sends go through
// agent_link::send, which never blocks, and the assigner and position
// listener are called without the desk's lock held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bot/core/clock.hpp"
#include "bot/handoff/hours.hpp"
#include "bot/protocol/protocol.hpp"

namespace bot::net {

using shared_frame = std::shared_ptr<const std::string>;

// What the desk and the conversations see of one agent connection.
class agent_link {
 public:
  virtual ~agent_link() = default;
  // How a frame may be treated when the console reads slowly.
  enum class kind {
    normal,     // kept, in order
    droppable,  // typing: dropped when the queue is half full
    snapshot,   // a queue snapshot: replaces one still waiting to be sent
    presence,   // an `agents` list: replaces one still waiting to be sent
  };
  virtual void send(shared_frame frame, kind k = kind::normal) = 0;
};

class desk {
 public:
  struct options {
    // A connection that sent no frame for this long counts as away.
    std::int64_t heartbeat_timeout_ms = 60000;
    handoff::business_hours hours;  // outside them visitors are offered a ticket
  };
  desk(const core::clock& clock, options o)
      : clock_(clock), opt_(std::move(o)), was_open_(opt_.hours.open_at(clock.now_ms())) {}
  explicit desk(const core::clock& clock) : desk(clock, options{}) {}

  struct agent_info {
    std::int64_t id = 0;
    std::string name;
    std::string display_name;
    std::vector<std::string> teams;  // empty = every team
    int max_chats = 5;
  };

  // An agent connection opens (it gets the queue and the agents at once,
  // online) or closes.
  void attach(agent_info who, const std::shared_ptr<agent_link>& link);
  void detach(const agent_link* link);
  // A `presence` frame from a connection; `seen` is any other frame (both
  // are heartbeats).
  void presence(const agent_link* link, bool away);
  void seen(const agent_link* link);
  // Every connection of `agent_id` but `except`; false when none is open.
  bool send_to_agent(std::int64_t agent_id, const shared_frame& frame,
                     agent_link::kind k = agent_link::kind::normal,
                     const agent_link* except = nullptr);

  struct waiting {
    std::string conversation_id;
    std::string team;
    std::string reason;
    std::int64_t since_ms = 0;
    std::string preview;
  };
  struct ticket {
    std::string conversation_id;
    std::string team;
    std::string email;
    std::int64_t since_ms = 0;
  };
  // A conversation waits for an agent, or no longer does (`claimed`: an
  // agent took it; its wait counts for the estimates).
  void queued(waiting w);
  void dequeued(const std::string& conversation_id, bool claimed = false);
  // A visitor left an email (a ticket), or an agent took the ticket.
  void ticketed(ticket t);
  void unticketed(const std::string& conversation_id);
  // After a restart: the queue, the tickets and who holds what, in one go.
  void load(std::vector<waiting> queue, std::vector<ticket> tickets,
            std::vector<std::pair<std::string, std::int64_t>> held);
  // Agent `agent_id` holds the conversation now, or nobody does.
  void held(const std::string& conversation_id, std::int64_t agent_id);
  void released(const std::string& conversation_id);
  // The conversations agent `agent_id` holds.
  std::vector<std::string> held_by(std::int64_t agent_id) const;

  // Told, after every change of the queue, each waiting conversation's place
  // in its team's queue (1 = next) and the estimated wait in seconds (from
  // the last claims of that team; none before the first); `no_agents` when
  // no agent of the team is online, `after_hours` outside business hours.
  struct place {
    std::string conversation_id;
    std::string team;
    int position = 0;
    std::optional<std::int64_t> eta_s;
    bool no_agents = false;
    bool after_hours = false;
  };
  using position_listener = std::function<void(const place&)>;
  // Where a waiting conversation stands now; nullopt when not waiting.
  std::optional<place> place_of(const std::string& conversation_id) const;
  void set_position_listener(position_listener l);

  // Auto-assignment: `assign(conversation_id, agent)` asks the conversation
  // to be claimed for that agent. The conversation reports back with
  // dequeued()+held() on success and offer_done() in any case. Unset = off.
  using assigner = std::function<void(const std::string& conversation_id, const agent_info& to)>;
  void set_assigner(assigner a);
  // `failed`: the claim was refused (or could not be stored); the
  // conversation is not offered again before the next tick.
  void offer_done(const std::string& conversation_id, bool failed = false);

  // Every few seconds: heartbeats that stopped turn agents away, the hours
  // open and close, waits grow.
  void tick();

  bool open_now() const { return opt_.hours.open_at(clock_.now_ms()); }
  std::size_t queue_size() const;
  std::size_t agents_online() const;  // connected and not away

 private:
  struct connection {
    std::int64_t agent_id = 0;
    std::weak_ptr<agent_link> link;
    const agent_link* key = nullptr;
    bool away = false;
    std::int64_t last_seen_ms = 0;
  };
  struct agent_state {
    agent_info info;
    std::string status = "offline";  // as last announced
  };
  struct offer {
    std::string conversation_id;
    agent_info to;
  };
  // Everything below with mu_ held.
  std::string status_of(std::int64_t agent_id, std::int64_t now) const;
  bool serves(const agent_info& a, const std::string& team) const;
  bool team_online(const std::string& team, std::int64_t now) const;
  int load_of(std::int64_t agent_id) const;
  shared_frame queue_frame_for(const agent_info& a) const;
  shared_frame agents_frame() const;
  void broadcast_queue();
  // Re-announces presence when a status changed; true if one did.
  bool refresh_presence(bool force);
  std::vector<place> positions() const;
  std::vector<offer> assign();
  // Sends what changed; runs the listener and the assigner after unlocking.
  void finish(std::unique_lock<std::mutex>& lock, bool queue_changed, bool presence_maybe_changed);

  const core::clock& clock_;
  const options opt_;
  mutable std::mutex mu_;
  std::vector<connection> connections_;
  std::map<std::int64_t, agent_state> agents_;  // every agent seen since start
  std::map<std::string, waiting> queue_;
  std::map<std::string, ticket> tickets_;
  std::map<std::string, std::int64_t> holder_;   // conversation -> agent (state agent)
  std::map<std::string, std::int64_t> offered_;  // auto-claims in flight
  std::set<std::string> cooling_;                // failed offers, until the next tick
  std::map<std::string, std::int64_t> last_assigned_;  // per team: round-robin cursor
  std::map<std::string, std::deque<std::int64_t>> recent_waits_ms_;  // per team, the last 20 claims
  bool was_open_;  // at the last tick
  position_listener positions_;
  assigner assigner_;
};

}  // namespace bot::net
