// Agent authentication over HTTP (DESIGN §7, docs/agents.md):
//   POST /agent/login   JSON or form body with name and password -> session cookie
//   POST /agent/logout  ends the session of the cookie
//   GET  /agent/me      the agent of the cookie, or 401
// Passwords are checked on a thread of its own (PBKDF2 takes ~0.2 s of CPU
// and must never hold an I/O thread); failed logins are throttled per
// name + client address (limits.agent_login_failures_per_min, then 429).
// Internal to bot/net (includes Beast).
//
// Thread-safety: handle() may run on any I/O thread, concurrently.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "bot/core/clock.hpp"
#include "bot/core/config.hpp"
#include "bot/handoff/sessions.hpp"
#include "bot/store/store.hpp"

namespace bot::net {

// The name of the session cookie.
inline constexpr std::string_view k_agent_cookie = "sb_agent";

class agent_auth {
 public:
  agent_auth(store::store& db, const core::config& cfg, const core::clock& clock);
  ~agent_auth();

  // Whether `path` is one of the endpoints above.
  static bool owns(std::string_view path);

  // Answers one request into `out`. (`ip` by reference: GCC 12 destroys a
  // temporary passed by value to a coroutine twice — a crash we hit here.)
  boost::asio::awaitable<void> handle(
      const boost::beast::http::request<boost::beast::http::string_body>& req,
      const std::string& ip, boost::beast::http::response<boost::beast::http::string_body>& out);

  // The live session of a request's cookie (for /agent/ws).
  std::optional<handoff::agent_session> session_of(
      const boost::beast::http::request<boost::beast::http::string_body>& req);

  handoff::session_table& sessions() { return sessions_; }

 private:
  struct checked {
    int status = 401;  // 200 ok, 401 wrong, 403 disabled, 503 store unavailable
    std::optional<store::agent_row> agent;
  };
  checked check_password(const std::string& name, const std::string& password);  // on pool_

  store::store& db_;
  const core::config cfg_;
  const core::clock& clock_;
  handoff::session_table sessions_;
  handoff::login_throttle throttle_;
  static constexpr int k_max_pending_logins = 32;
  std::atomic<int> pending_{0};  // logins waiting for or in the password check
  boost::asio::thread_pool pool_{1};
};

// The value of cookie `name` in a Cookie header, or "".
std::string_view cookie_value(std::string_view header, std::string_view name);

// The percent-decoded value of `key` in an application/x-www-form-urlencoded
// text (a body, or a URL's query); nullopt when absent or malformed.
std::optional<std::string> form_value(std::string_view form, std::string_view key);

// Parses an application/x-www-form-urlencoded body into `name` and
// `password` (percent-decoding, '+' as space); false when malformed.
bool parse_login_form(std::string_view body, std::string& name, std::string& password);

}  // namespace bot::net
