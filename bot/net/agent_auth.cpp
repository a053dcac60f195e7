#include "bot/net/agent_auth.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "bot/core/log.hpp"
#include "bot/core/thread.hpp"
#include "bot/handoff/password.hpp"
#include "bot/net/server.hpp"

namespace bot::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using response = http::response<http::string_body>;
using request = http::request<http::string_body>;

namespace {

response json_response(const request& req, http::status code, std::string body) {
  response res{code, req.version()};
  res.set(http::field::server, "supportbot");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response error_response(const request& req, http::status code, std::string_view message) {
  std::string body = "{\"error\":";
  core::log::append_json_string(body, message);
  body += "}";
  return json_response(req, code, std::move(body));
}

std::string agent_json(const handoff::agent_session& s) {
  std::string out = "{\"name\":";
  core::log::append_json_string(out, s.name);
  out += ",\"display_name\":";
  core::log::append_json_string(out, s.display_name);
  out += ",\"teams\":[";
  for (std::size_t i = 0; i < s.teams.size(); ++i) {
    if (i) out += ',';
    core::log::append_json_string(out, s.teams[i]);
  }
  out += "],\"admin\":" + std::string(s.admin ? "true" : "false") +
         ",\"max_chats\":" + std::to_string(s.max_chats) + "}";
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool url_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

}  // namespace

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
  }
  return {};
}

std::optional<std::string> form_value(std::string_view form, std::string_view key) {
  while (!form.empty()) {
    const auto amp = form.find('&');
    const std::string_view pair = form.substr(0, amp);
    form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string k, value;
    if (!url_decode(pair.substr(0, eq), k)) continue;
    if (k != key) continue;
    if (!url_decode(pair.substr(eq + 1), value)) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

bool parse_login_form(std::string_view body, std::string& name, std::string& password) {
  auto n = form_value(body, "name");
  auto p = form_value(body, "password");
  if (!n || !p) return false;
  name = std::move(*n);
  password = std::move(*p);
  return true;
}

agent_auth::agent_auth(store::store& db, const core::config& cfg, const core::clock& clock)
    : db_(db), cfg_(cfg), clock_(clock), throttle_(cfg.limits.agent_login_failures_per_min) {
  boost::asio::post(pool_, [] { core::set_thread_name("sb-auth"); });
}

agent_auth::~agent_auth() {
  pool_.join();
}

bool agent_auth::owns(std::string_view path) {
  return path == "/agent/login" || path == "/agent/logout" || path == "/agent/me";
}

agent_auth::checked agent_auth::check_password(const std::string& name,
                                               const std::string& password) {
  // Unknown names cost the same as known ones: no timing tells them apart.
  static const std::string dummy =
      handoff::hash_password("no such agent, no such password").value();
  auto found =
      store::wait_for<store::agent_row>([&](auto done) { db_.find_agent(name, std::move(done)); });
  checked out;
  if (!found.ok()) {
    handoff::verify_password(password, dummy);
    if (found.error().code() != core::errc::not_found) {
      core::log::error("agent_lookup_failed", {{"error", found.error().message()}});
      out.status = 503;
    }
    return out;
  }
  if (!handoff::verify_password(password, found.value().password_hash)) return out;
  out.status = found.value().disabled ? 403 : 200;
  out.agent = std::move(found.value());
  return out;
}

std::optional<handoff::agent_session> agent_auth::session_of(const request& req) {
  const auto header = req[http::field::cookie];
  const auto token = cookie_value(std::string_view(header.data(), header.size()), k_agent_cookie);
  if (token.empty()) return std::nullopt;
  return sessions_.find(token, clock_.now_ms());
}

asio::awaitable<void> agent_auth::handle(const request& req, const std::string& ip, response& out) {
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));

  if (path == "/agent/me") {
    if (req.method() != http::verb::get) {
      out = error_response(req, http::status::method_not_allowed, "use GET");
      co_return;
    }
    const auto s = session_of(req);
    if (!s) {
      out = error_response(req, http::status::unauthorized, "not logged in");
      co_return;
    }
    {
      out = json_response(req, http::status::ok, agent_json(*s));
      co_return;
    }
  }
  if (req.method() != http::verb::post) {
    out = error_response(req, http::status::method_not_allowed, "use POST");
    co_return;
  }
  // A form on another site must not log an agent in or out (login CSRF).
  const auto origin = req[http::field::origin];
  if (!origin.empty() &&
      !origin_allowed(std::string_view(origin.data(), origin.size()), cfg_.allowed_origins)) {
    {
      out = error_response(req, http::status::forbidden, "origin not allowed");
      co_return;
    }
  }

  if (path == "/agent/logout") {
    const auto header = req[http::field::cookie];
    const auto token = cookie_value(std::string_view(header.data(), header.size()), k_agent_cookie);
    const bool ended = !token.empty() && sessions_.erase(token);
    response res = json_response(req, http::status::ok,
                                 ended ? "{\"logged_out\":true}" : "{\"logged_out\":false}");
    res.set(http::field::set_cookie, std::string(k_agent_cookie) +
                                         "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
                                         (cfg_.behind_https == "true" ? "; Secure" : ""));
    {
      out = std::move(res);
      co_return;
    }
  }

  // /agent/login
  std::string name, password;
  const auto type = req[http::field::content_type];
  const std::string_view ctype(type.data(), type.size());
  if (ctype.rfind("application/json", 0) == 0) {
    boost::system::error_code ec;
    const json::value v = json::parse(req.body(), ec);
    const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
    const auto* n = o ? o->if_contains("name") : nullptr;
    const auto* p = o ? o->if_contains("password") : nullptr;
    if (!n || !p || !n->is_string() || !p->is_string()) {
      {
        out = error_response(req, http::status::bad_request,
                             "send a JSON object with name and password");
        co_return;
      }
    }
    name = std::string(n->get_string());
    password = std::string(p->get_string());
  } else if (ctype.rfind("application/x-www-form-urlencoded", 0) == 0) {
    if (!parse_login_form(req.body(), name, password)) {
      {
        out = error_response(req, http::status::bad_request, "send name and password");
        co_return;
      }
    }
  } else {
    {
      out = error_response(req, http::status::unsupported_media_type,
                           "send application/json or application/x-www-form-urlencoded");
      co_return;
    }
  }
  if (name.empty() || password.empty() || name.size() > store::k_max_agent_name_bytes ||
      password.size() > handoff::k_max_password_bytes) {
    {
      out = error_response(req, http::status::bad_request,
                           "name and password must not be empty or too long");
      co_return;
    }
  }
  int retry_after = 60;
  if (!throttle_.try_attempt(name, ip, clock_.now_ms(), &retry_after)) {
    core::log::warn("agent_login_throttled", {{"agent", name}});
    response res = error_response(req, http::status::too_many_requests,
                                  "too many failed logins; try again later");
    res.set(http::field::retry_after, std::to_string(retry_after));
    {
      out = std::move(res);
      co_return;
    }
  }
  // PBKDF2 and the store lookup run on the login thread, never on this one;
  // at most k_max_pending_logins wait for it (a flood gets 503, not a queue
  // that starves real agents).
  if (pending_.fetch_add(1) >= k_max_pending_logins) {
    pending_.fetch_sub(1);
    out = error_response(req, http::status::service_unavailable,
                         "too many logins at once; try again");
    co_return;
  }
  checked result;
  co_await asio::co_spawn(
      pool_,
      [&]() -> asio::awaitable<void> {
        result = check_password(name, password);
        co_return;
      },
      asio::use_awaitable);
  pending_.fetch_sub(1);
  if (result.status == 503) {
    {
      out = error_response(req, http::status::service_unavailable, "try again in a moment");
      co_return;
    }
  }
  if (result.status != 200) {
    // (Counted as a failure by try_attempt already.)
    core::log::info("agent_login_failed", {{"agent", name}, {"disabled", result.status == 403}});
    if (result.status == 403) {
      out = error_response(req, http::status::forbidden, "this account is disabled");
      co_return;
    }
    {
      out = error_response(req, http::status::unauthorized, "wrong name or password");
      co_return;
    }
  }
  throttle_.succeeded(name, ip);
  const store::agent_row& a = *result.agent;
  handoff::agent_session s;
  s.agent_id = a.id;
  s.name = a.name;
  s.display_name = a.display_name;
  s.teams = a.teams;
  s.admin = a.admin;
  s.max_chats = a.max_chats;
  s.credential = a.password_hash;
  s.expires_ms = clock_.now_ms() + std::int64_t(cfg_.agents.session_ttl_s) * 1000;
  const std::string body = agent_json(s);
  const std::string token = sessions_.create(std::move(s), clock_.now_ms());
  core::log::info("agent_login", {{"agent", a.name}});
  response res = json_response(req, http::status::ok, body);
  res.set(http::field::set_cookie,
          std::string(k_agent_cookie) + "=" + token +
              "; Path=/; Max-Age=" + std::to_string(cfg_.agents.session_ttl_s) +
              "; HttpOnly; SameSite=Strict" + (cfg_.behind_https == "true" ? "; Secure" : ""));
  {
    out = std::move(res);
    co_return;
  }
}

}  // namespace bot::net
