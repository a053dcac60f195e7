#include "bot/handoff/sessions.hpp"

#include <algorithm>

#include "bot/core/ids.hpp"

namespace bot::handoff {

namespace {
constexpr std::int64_t k_minute_ms = 60000;
}

std::string session_table::create(agent_session s, std::int64_t now_ms) {
  std::string token = core::random_hex(16);
  std::lock_guard lock(mu_);
  if (by_token_.size() >= max_) prune(now_ms);
  if (by_token_.size() >= max_) {
    // Still full of live sessions: the one closest to expiry goes.
    auto oldest = std::min_element(
        by_token_.begin(), by_token_.end(),
        [](const auto& a, const auto& b) { return a.second.expires_ms < b.second.expires_ms; });
    by_token_.erase(oldest);
  }
  by_token_.emplace(token, std::move(s));
  return token;
}

std::optional<agent_session> session_table::find(std::string_view token, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  const auto it = by_token_.find(std::string(token));
  if (it == by_token_.end()) return std::nullopt;
  if (it->second.expires_ms <= now_ms) {
    by_token_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

bool session_table::erase(std::string_view token) {
  std::lock_guard lock(mu_);
  return by_token_.erase(std::string(token)) > 0;
}

std::size_t session_table::erase_agent(std::string_view name, std::string_view keep_credential) {
  std::lock_guard lock(mu_);
  return std::erase_if(by_token_, [&](const auto& e) {
    return e.second.name == name &&
           (keep_credential.empty() || e.second.credential != keep_credential);
  });
}

std::size_t session_table::size() const {
  std::lock_guard lock(mu_);
  return by_token_.size();
}

void session_table::prune(std::int64_t now_ms) {
  std::erase_if(by_token_, [&](const auto& e) { return e.second.expires_ms <= now_ms; });
}

std::string login_throttle::key(std::string_view name, std::string_view ip) {
  std::string k(name);
  k += '\n';
  k += ip;
  return k;
}

bool login_throttle::allowed(std::string_view name, std::string_view ip, std::int64_t now_ms,
                             int* retry_after_s) {
  std::lock_guard lock(mu_);
  const auto it = failures_.find(key(name, ip));
  if (it == failures_.end()) return true;
  auto& times = it->second;
  times.erase(times.begin(), std::find_if(times.begin(), times.end(), [&](std::int64_t t) {
                return t > now_ms - k_minute_ms;
              }));
  if (times.empty()) {
    failures_.erase(it);
    return true;
  }
  if (static_cast<int>(times.size()) < limit_) return true;
  if (retry_after_s) {
    // When the oldest failure in the window leaves it.
    *retry_after_s = static_cast<int>((times.front() + k_minute_ms - now_ms + 999) / 1000);
  }
  return false;
}

bool login_throttle::try_attempt(std::string_view name, std::string_view ip, std::int64_t now_ms,
                                 int* retry_after_s) {
  std::lock_guard lock(attempt_mu_);  // check and count as one step
  if (!allowed(name, ip, now_ms, retry_after_s)) return false;
  failed(name, ip, now_ms);
  return true;
}

void login_throttle::failed(std::string_view name, std::string_view ip, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (failures_.size() >= max_keys_) {
    // Forget the keys whose failures are all older than a minute; if that is
    // not enough, start over (bounded memory beats a perfect count).
    std::erase_if(failures_,
                  [&](const auto& e) { return e.second.back() <= now_ms - k_minute_ms; });
    if (failures_.size() >= max_keys_) failures_.clear();
  }
  auto& times = failures_[key(name, ip)];
  times.push_back(now_ms);
  if (times.size() > static_cast<std::size_t>(limit_) * 2) times.erase(times.begin());
}

void login_throttle::succeeded(std::string_view name, std::string_view ip) {
  std::lock_guard lock(mu_);
  failures_.erase(key(name, ip));
}

}  // namespace bot::handoff
