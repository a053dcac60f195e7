#include "bot/net/desk.hpp"

#include <algorithm>

#include "bot/core/text.hpp"

namespace bot::net {

void desk::attach(std::int64_t agent_id, std::vector<std::string> teams,
                  const std::shared_ptr<agent_link>& link) {
  std::lock_guard lock(mu_);
  agents_.push_back({agent_id, std::move(teams), link, link.get()});
  link->send(snapshot_for(agents_.back()), agent_link::kind::snapshot);
}

void desk::detach(const agent_link* link) {
  std::lock_guard lock(mu_);
  std::erase_if(agents_, [&](const agent_entry& a) { return a.key == link; });
}

bool desk::send_to_agent(std::int64_t agent_id, const shared_frame& frame, agent_link::kind k) {
  std::lock_guard lock(mu_);
  bool sent = false;
  for (auto& a : agents_) {
    if (a.agent_id != agent_id) continue;
    if (auto l = a.link.lock()) {
      l->send(frame, k);
      sent = true;
    }
  }
  return sent;
}

void desk::queued(waiting w) {
  std::lock_guard lock(mu_);
  if (w.preview.size() > 200)
    w.preview = core::sanitize_utf8(std::string_view(w.preview).substr(0, 200));
  queue_[w.conversation_id] = std::move(w);
  broadcast();
  tell_positions();
}

void desk::dequeued(const std::string& conversation_id, bool claimed) {
  std::lock_guard lock(mu_);
  const auto it = queue_.find(conversation_id);
  if (it == queue_.end()) return;
  if (claimed) {
    auto& waits = recent_waits_ms_[it->second.team];
    waits.push_back(std::max<std::int64_t>(0, clock_.now_ms() - it->second.since_ms));
    if (waits.size() > 20) waits.pop_front();
  }
  queue_.erase(it);
  broadcast();
  tell_positions();
}

void desk::ticketed(ticket t) {
  std::lock_guard lock(mu_);
  tickets_[t.conversation_id] = std::move(t);
  broadcast();
}

void desk::unticketed(const std::string& conversation_id) {
  std::lock_guard lock(mu_);
  if (tickets_.erase(conversation_id) > 0) broadcast();
}

bool desk::serves(const agent_entry& a, const std::string& team) const {
  return a.teams.empty() || std::find(a.teams.begin(), a.teams.end(), team) != a.teams.end();
}

void desk::set_position_listener(position_listener l) {
  std::lock_guard lock(mu_);
  positions_ = std::move(l);
}

void desk::tell_positions() {
  if (!positions_) return;
  std::map<std::string, std::vector<const waiting*>> by_team;
  for (const auto& [id, w] : queue_) by_team[w.team].push_back(&w);
  const std::int64_t now = clock_.now_ms();
  for (auto& [team, list] : by_team) {
    std::sort(list.begin(), list.end(), [](const waiting* l, const waiting* r) {
      return l->since_ms != r->since_ms ? l->since_ms < r->since_ms
                                        : l->conversation_id < r->conversation_id;
    });
    const bool anyone = std::any_of(agents_.begin(), agents_.end(),
                                    [&](const agent_entry& a) { return serves(a, team); });
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
      positions_(list[i]->conversation_id, team, static_cast<int>(i + 1), eta, !anyone);
    }
  }
}

std::size_t desk::queue_size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t desk::agents_online() const {
  std::lock_guard lock(mu_);
  return agents_.size();
}

shared_frame desk::snapshot_for(const agent_entry& a) const {
  std::vector<const waiting*> mine;
  for (const auto& [id, w] : queue_) {
    if (serves(a, w.team)) mine.push_back(&w);
  }
  std::sort(mine.begin(), mine.end(), [](const waiting* l, const waiting* r) {
    return l->since_ms != r->since_ms ? l->since_ms < r->since_ms
                                      : l->conversation_id < r->conversation_id;
  });
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

void desk::broadcast() {
  for (auto& a : agents_) {
    if (auto l = a.link.lock()) l->send(snapshot_for(a), agent_link::kind::snapshot);
  }
}

}  // namespace bot::net
