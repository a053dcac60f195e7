#include "bot/net/desk.hpp"

#include <algorithm>

#include "bot/core/text.hpp"

namespace bot::net {

namespace {
constexpr std::size_t k_preview_bytes = 200;
constexpr std::size_t k_recent_waits = 20;

template <typename Item>
bool older(const Item* l, const Item* r) {
  return l->since_ms != r->since_ms ? l->since_ms < r->since_ms
                                    : l->conversation_id < r->conversation_id;
}
}  // namespace

// ---- connections and presence

void desk::attach(agent_info who, const std::shared_ptr<agent_link>& link) {
  std::unique_lock lock(mu_);
  const std::int64_t id = who.id;
  agents_[id].info = std::move(who);
  connections_.push_back({id, link, link.get(), false, clock_.now_ms()});
  link->send(queue_frame_for(agents_[id].info), agent_link::kind::snapshot);
  finish(lock, false, true);
}

void desk::detach(const agent_link* link) {
  std::unique_lock lock(mu_);
  std::erase_if(connections_, [&](const connection& c) { return c.key == link; });
  finish(lock, false, false);
}

void desk::presence(const agent_link* link, bool away) {
  std::unique_lock lock(mu_);
  for (auto& c : connections_) {
    if (c.key != link) continue;
    c.away = away;
    c.last_seen_ms = clock_.now_ms();
  }
  finish(lock, false, false);
}

void desk::seen(const agent_link* link) {
  std::unique_lock lock(mu_);
  bool revived = false;
  const std::int64_t now = clock_.now_ms();
  for (auto& c : connections_) {
    if (c.key != link) continue;
    revived = revived || now - c.last_seen_ms > opt_.heartbeat_timeout_ms;
    c.last_seen_ms = now;
  }
  // Only a heartbeat that had stopped can change a status.
  if (revived) finish(lock, false, false);
}

bool desk::send_to_agent(std::int64_t agent_id, const shared_frame& frame, agent_link::kind k,
                         const agent_link* except) {
  std::lock_guard lock(mu_);
  bool sent = false;
  for (auto& c : connections_) {
    if (c.agent_id != agent_id || (except && c.key == except)) continue;
    if (auto l = c.link.lock()) {
      l->send(frame, k);
      sent = true;
    }
  }
  return sent;
}

std::string desk::status_of(std::int64_t agent_id, std::int64_t now) const {
  bool connected = false;
  for (const auto& c : connections_) {
    if (c.agent_id != agent_id) continue;
    connected = true;
    if (!c.away && now - c.last_seen_ms <= opt_.heartbeat_timeout_ms) return "online";
  }
  return connected ? "away" : "offline";
}

bool desk::refresh_presence(bool force) {
  const std::int64_t now = clock_.now_ms();
  bool changed = false;
  for (auto& [id, a] : agents_) {
    std::string s = status_of(id, now);
    if (s != a.status) {
      a.status = std::move(s);
      changed = true;
    }
  }
  if (changed || force) {
    const shared_frame f = agents_frame();
    for (auto& c : connections_) {
      if (auto l = c.link.lock()) l->send(f, agent_link::kind::presence);
    }
  }
  return changed;
}

shared_frame desk::agents_frame() const {
  std::vector<protocol::agent_item> items;
  items.reserve(agents_.size());
  for (const auto& [id, a] : agents_) {
    items.push_back({a.info.name, a.info.display_name, a.status, a.info.teams, load_of(id),
                     a.info.max_chats});
  }
  std::sort(items.begin(), items.end(),
            [](const auto& l, const auto& r) { return l.name < r.name; });
  return std::make_shared<const std::string>(protocol::encode_agents(items));
}

// ---- the queue, tickets and holdings

void desk::queued(waiting w) {
  std::unique_lock lock(mu_);
  if (w.preview.size() > k_preview_bytes)
    w.preview = core::sanitize_utf8(std::string_view(w.preview).substr(0, k_preview_bytes));
  queue_[w.conversation_id] = std::move(w);
  finish(lock, true, false);
}

void desk::dequeued(const std::string& conversation_id, bool claimed) {
  std::unique_lock lock(mu_);
  offered_.erase(conversation_id);
  const auto it = queue_.find(conversation_id);
  if (it == queue_.end()) return;
  if (claimed) {
    auto& waits = recent_waits_ms_[it->second.team];
    waits.push_back(std::max<std::int64_t>(0, clock_.now_ms() - it->second.since_ms));
    if (waits.size() > k_recent_waits) waits.pop_front();
  }
  queue_.erase(it);
  cooling_.erase(conversation_id);
  finish(lock, true, false);
}

void desk::ticketed(ticket t) {
  std::unique_lock lock(mu_);
  tickets_[t.conversation_id] = std::move(t);
  finish(lock, true, false);
}

void desk::unticketed(const std::string& conversation_id) {
  std::unique_lock lock(mu_);
  if (tickets_.erase(conversation_id) > 0) finish(lock, true, false);
}

void desk::load(std::vector<waiting> queue, std::vector<ticket> tickets,
                std::vector<std::pair<std::string, std::int64_t>> held) {
  std::unique_lock lock(mu_);
  for (auto& w : queue) queue_[w.conversation_id] = std::move(w);
  for (auto& t : tickets) tickets_[t.conversation_id] = std::move(t);
  for (auto& [conversation, agent] : held) holder_[conversation] = agent;
  finish(lock, true, true);
}

void desk::held(const std::string& conversation_id, std::int64_t agent_id) {
  std::unique_lock lock(mu_);
  holder_[conversation_id] = agent_id;
  offered_.erase(conversation_id);
  finish(lock, false, true);
}

void desk::released(const std::string& conversation_id) {
  std::unique_lock lock(mu_);
  if (holder_.erase(conversation_id) > 0) finish(lock, false, true);
}

std::vector<std::string> desk::held_by(std::int64_t agent_id) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [conversation, agent] : holder_) {
    if (agent == agent_id) out.push_back(conversation);
  }
  return out;
}

void desk::offer_done(const std::string& conversation_id, bool failed) {
  std::unique_lock lock(mu_);
  // A failed offer frees the slot it reserved, and waits for the next tick
  // before it is offered again (a store under load must not be hammered).
  if (failed && queue_.contains(conversation_id)) cooling_.insert(conversation_id);
  if (offered_.erase(conversation_id) > 0) finish(lock, false, false);
}

int desk::load_of(std::int64_t agent_id) const {
  int n = 0;
  for (const auto& [c, a] : holder_) n += a == agent_id;
  for (const auto& [c, a] : offered_) n += a == agent_id;
  return n;
}

bool desk::serves(const agent_info& a, const std::string& team) const {
  return a.teams.empty() || std::find(a.teams.begin(), a.teams.end(), team) != a.teams.end();
}

bool desk::team_online(const std::string& team, std::int64_t now) const {
  return std::any_of(agents_.begin(), agents_.end(), [&](const auto& entry) {
    return serves(entry.second.info, team) && status_of(entry.first, now) == "online";
  });
}

// ---- what goes out

void desk::set_position_listener(position_listener l) {
  std::lock_guard lock(mu_);
  positions_ = std::move(l);
}

void desk::set_assigner(assigner a) {
  std::unique_lock lock(mu_);
  assigner_ = std::move(a);
  finish(lock, false, false);
}

void desk::tick() {
  std::unique_lock lock(mu_);
  const bool open = opt_.hours.open_at(clock_.now_ms());
  const bool hours_changed = open != was_open_;
  was_open_ = open;
  cooling_.clear();
  finish(lock, hours_changed, false);
}

void desk::finish(std::unique_lock<std::mutex>& lock, bool queue_changed, bool force_agents) {
  const bool presence_changed = refresh_presence(force_agents);
  if (queue_changed) broadcast_queue();
  std::vector<place> places;
  if (positions_ && (queue_changed || presence_changed)) places = positions();
  std::vector<offer> offers = assign();
  if (!offers.empty()) refresh_presence(true);  // the reserved slots count as chats
  const position_listener listener = places.empty() ? nullptr : positions_;
  const assigner assign_to = offers.empty() ? nullptr : assigner_;
  lock.unlock();
  for (const auto& p : places) listener(p);
  for (const auto& o : offers) assign_to(o.conversation_id, o.to);
}

std::optional<desk::place> desk::place_of(const std::string& conversation_id) const {
  std::lock_guard lock(mu_);
  if (!queue_.contains(conversation_id)) return std::nullopt;
  for (auto& p : positions()) {
    if (p.conversation_id == conversation_id) return p;
  }
  return std::nullopt;
}

std::vector<desk::place> desk::positions() const {
  std::map<std::string, std::vector<const waiting*>> by_team;
  for (const auto& [id, w] : queue_) by_team[w.team].push_back(&w);
  const std::int64_t now = clock_.now_ms();
  const bool after_hours = !opt_.hours.open_at(now);
  std::vector<place> out;
  for (auto& [team, list] : by_team) {
    std::sort(list.begin(), list.end(), older<waiting>);
    const bool no_agents = !team_online(team, now);
    std::optional<std::int64_t> typical_ms;
    if (const auto it = recent_waits_ms_.find(team);
        it != recent_waits_ms_.end() && !it->second.empty()) {
      std::int64_t sum = 0;
      for (auto v : it->second) sum += v;
      typical_ms = sum / static_cast<std::int64_t>(it->second.size());
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::optional<std::int64_t> eta;
      // A typical wait per place ahead, less what this one waited already.
      if (typical_ms)
        eta = std::max<std::int64_t>(
            0, (*typical_ms * static_cast<std::int64_t>(i + 1) - (now - list[i]->since_ms)) / 1000);
      out.push_back({list[i]->conversation_id, team, static_cast<int>(i + 1), eta, no_agents,
                     after_hours});
    }
  }
  return out;
}

// Round-robin per team among online agents under their max_chats, oldest
// waiting conversation first. Outside business hours nothing is assigned
// (an agent still at work claims by hand).
std::vector<desk::offer> desk::assign() {
  std::vector<offer> out;
  if (!assigner_ || queue_.empty()) return out;
  const std::int64_t now = clock_.now_ms();
  if (!opt_.hours.open_at(now)) return out;
  // Each agent's room, once: online and under max_chats (by id: agents_ is a map).
  struct room {
    const agent_state* a;
    int free;
  };
  std::vector<room> rooms;
  for (const auto& [id, a] : agents_) {
    if (status_of(id, now) != "online") continue;
    const int free = a.info.max_chats - load_of(id);
    if (free > 0) rooms.push_back({&a, free});
  }
  if (rooms.empty()) return out;
  std::vector<const waiting*> order;
  for (const auto& [id, w] : queue_) {
    // (A claimed conversation is held a moment before it leaves the queue.)
    if (!offered_.contains(id) && !holder_.contains(id) && !cooling_.contains(id))
      order.push_back(&w);
  }
  std::sort(order.begin(), order.end(), older<waiting>);
  for (const waiting* w : order) {
    const std::int64_t last = last_assigned_[w->team];
    room* first = nullptr;
    room* next = nullptr;
    for (auto& r : rooms) {
      if (r.free <= 0 || !serves(r.a->info, w->team)) continue;
      if (!first) first = &r;
      if (!next && r.a->info.id > last) next = &r;
    }
    room* to = next ? next : first;
    if (!to) continue;
    --to->free;
    offered_[w->conversation_id] = to->a->info.id;
    last_assigned_[w->team] = to->a->info.id;
    out.push_back({w->conversation_id, to->a->info});
  }
  return out;
}

std::size_t desk::queue_size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t desk::agents_online() const {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_.now_ms();
  return static_cast<std::size_t>(std::count_if(agents_.begin(), agents_.end(), [&](const auto& e) {
    return status_of(e.first, now) == "online";
  }));
}

shared_frame desk::queue_frame_for(const agent_info& a) const {
  std::vector<const waiting*> mine;
  for (const auto& [id, w] : queue_) {
    if (serves(a, w.team)) mine.push_back(&w);
  }
  std::sort(mine.begin(), mine.end(), older<waiting>);
  const std::int64_t now = clock_.now_ms();
  std::vector<protocol::queue_item> items;
  items.reserve(mine.size());
  for (const waiting* w : mine) {
    items.push_back({w->conversation_id, w->team, w->reason,
                     std::max<std::int64_t>(0, (now - w->since_ms) / 1000), w->preview});
  }
  std::vector<protocol::ticket_item> tickets;
  for (const auto& [id, t] : tickets_) {
    if (serves(a, t.team))
      tickets.push_back({t.conversation_id, t.team, t.email,
                         std::max<std::int64_t>(0, (now - t.since_ms) / 1000)});
  }
  return std::make_shared<const std::string>(protocol::encode_queue(items, tickets));
}

void desk::broadcast_queue() {
  for (auto& c : connections_) {
    const auto it = agents_.find(c.agent_id);
    if (it == agents_.end()) continue;
    if (auto l = c.link.lock()) l->send(queue_frame_for(it->second.info), agent_link::kind::snapshot);
  }
}

}  // namespace bot::net
