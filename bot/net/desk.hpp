// desk: the agents' side of the chat. It knows which agents are connected
// (and to which teams they belong) and which conversations wait in the
// queue, sends every agent a `queue` snapshot when they connect and again
// whenever the queue changes, and delivers frames to an agent's
// connections. Conversations tell it when they are queued or leave the
// queue; nothing here touches the store or sockets directly.
//
// Thread-safety: every method is safe from any thread; sends go through
// agent_link::send, which never blocks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bot/core/clock.hpp"
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
  };
  virtual void send(shared_frame frame, kind k = kind::normal) = 0;
};

class desk {
 public:
  explicit desk(const core::clock& clock) : clock_(clock) {}

  struct waiting {
    std::string conversation_id;
    std::string team;
    std::string reason;
    std::int64_t since_ms = 0;
    std::string preview;
  };

  // An agent connection opens (it gets the queue at once) or closes.
  void attach(std::int64_t agent_id, std::vector<std::string> teams,
              const std::shared_ptr<agent_link>& link);
  void detach(const agent_link* link);
  // Every connection of `agent_id`; false when none is open.
  bool send_to_agent(std::int64_t agent_id, const shared_frame& frame,
                     agent_link::kind k = agent_link::kind::normal);

  // A conversation waits for an agent, or no longer does.
  void queued(waiting w);
  // A visitor left an email (a ticket), or an agent took the ticket.
  struct ticket {
    std::string conversation_id;
    std::string team;
    std::string email;
    std::int64_t since_ms = 0;
  };
  void ticketed(ticket t);
  void unticketed(const std::string& conversation_id);
  // `claimed`: an agent took it (its wait counts for the estimates).
  void dequeued(const std::string& conversation_id, bool claimed = false);

  // Told, after every change of the queue, each waiting conversation's place
  // in its team's queue (1 = next) and the estimated wait in seconds (from
  // the last claims of that team; none before the first).
  using position_listener =
      std::function<void(const std::string& conversation_id, const std::string& team, int position,
                         std::optional<std::int64_t> eta_s, bool no_agents)>;
  void set_position_listener(position_listener l);
  std::size_t queue_size() const;
  std::size_t agents_online() const;

 private:
  struct agent_entry {
    std::int64_t agent_id = 0;
    std::vector<std::string> teams;  // empty = every team
    std::weak_ptr<agent_link> link;
    const agent_link* key = nullptr;
  };
  // The queue as agent `a` sees it (their teams), oldest first. mu_ held.
  shared_frame snapshot_for(const agent_entry& a) const;
  void broadcast();       // mu_ held
  void tell_positions();  // mu_ held

  const core::clock& clock_;
  mutable std::mutex mu_;
  std::vector<agent_entry> agents_;
  std::map<std::string, waiting> queue_;
  std::map<std::string, ticket> tickets_;
  bool serves(const agent_entry& a, const std::string& team) const;
  std::map<std::string, std::deque<std::int64_t>> recent_waits_ms_;  // per team, the last 20 claims
  position_listener positions_;
};

}  // namespace bot::net
