// Agent logins: the table of live sessions (cookie token -> agent) and the
// throttle on failed logins. Both in memory: a restart logs every agent out,
// which the console handles by asking to log in again.
//
// Thread-safety: every method of both classes is safe from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bot::handoff {

struct agent_session {
  std::int64_t agent_id = 0;
  std::string name;
  std::string display_name;
  std::vector<std::string> teams;
  bool admin = false;
  int max_chats = 5;
  std::int64_t expires_ms = 0;
  // The account's stored password hash at login: a session ends when the
  // account is disabled or its password changes (agent_session checks).
  std::string credential;
};

class session_table {
 public:
  // At most this many sessions; the oldest to expire go first beyond it.
  explicit session_table(std::size_t max_sessions = 100000) : max_(max_sessions) {}

  // Stores `s` and returns its new token (128 random bits, hex): the cookie.
  std::string create(agent_session s, std::int64_t now_ms);
  // The live session of `token`; nullopt when unknown or expired (an
  // expired one is dropped).
  std::optional<agent_session> find(std::string_view token, std::int64_t now_ms);
  // Ends one session; false when there was none.
  bool erase(std::string_view token);
  // Ends every session of agent `name` (disabled), or, with
  // `keep_credential`, those made with another password hash (the password
  // changed: logins with the new one stay); how many.
  std::size_t erase_agent(std::string_view name, std::string_view keep_credential = {});
  std::size_t size() const;

 private:
  void prune(std::int64_t now_ms);  // with mu_ held
  mutable std::mutex mu_;
  std::unordered_map<std::string, agent_session> by_token_;
  std::size_t max_;
};

// Failed logins per (name, client address) over a sliding minute.
class login_throttle {
 public:
  explicit login_throttle(int failures_per_min, std::size_t max_keys = 100000)
      : limit_(failures_per_min), max_keys_(max_keys) {}

  // Whether another attempt is allowed now; when not, *retry_after_s says
  // when one will be.
  bool allowed(std::string_view name, std::string_view ip, std::int64_t now_ms,
               int* retry_after_s = nullptr);
  // allowed() and, when it is, failed() in one step: an attempt counts as a
  // failure from its start (succeeded() forgets it), so attempts sent at
  // once cannot all pass the check before any of them has failed.
  bool try_attempt(std::string_view name, std::string_view ip, std::int64_t now_ms,
                   int* retry_after_s = nullptr);
  void failed(std::string_view name, std::string_view ip, std::int64_t now_ms);
  // A successful login forgets the failures of that name and address.
  void succeeded(std::string_view name, std::string_view ip);

 private:
  static std::string key(std::string_view name, std::string_view ip);
  std::mutex attempt_mu_;  // taken before mu_, by try_attempt only
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::int64_t>> failures_;  // times, oldest first
  int limit_;
  std::size_t max_keys_;
};

}  // namespace bot::handoff
