// Agent login over real HTTP: POST /agent/login (JSON and form), the session
// cookie, /agent/me, logout, expiry, the failed-login throttle, CSRF and bad
// requests.
#include "bot/net/agent_auth.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "agent_client.hpp"
#include "bot/handoff/password.hpp"
#include "chat_server.hpp"
#include "http_client.hpp"

using namespace bot;
using bot::test::chat_server;
using bot::test::http_raw;
using bot::test::http_response;
using namespace bot::test::agents;

namespace {}  // namespace

TEST_CASE(
    "an agent logs in with JSON, gets an HttpOnly SameSite cookie, and /agent/me knows them") {
  chat_server s;
  add_agent(s, "dave", "dave's password");
  const auto r = login(s.port, "dave", "dave's password");
  REQUIRE(r.status == 200);
  CHECK(r.body.find("\"name\":\"dave\"") != std::string::npos);
  CHECK(r.body.find("\"teams\":[\"orders\"]") != std::string::npos);
  CHECK(r.body.find("password") == std::string::npos);
  const std::string set_cookie = r.headers.at("set-cookie");
  CHECK(set_cookie.find("HttpOnly") != std::string::npos);
  CHECK(set_cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(set_cookie.find("Path=/") != std::string::npos);
  CHECK(set_cookie.find("Secure") == std::string::npos);  // plain HTTP here
  const auto cookie = cookie_of(r);
  CHECK(cookie.size() == std::string("sb_agent=").size() + 32);

  const auto me = get_me(s.port, "other=1; " + cookie);
  CHECK(me.status == 200);
  CHECK(me.body.find("\"name\":\"dave\"") != std::string::npos);
  CHECK(get_me(s.port, "sb_agent=0123456789abcdef0123456789abcdef").status == 401);
  CHECK(get_me(s.port, "").status == 401);

  // Logout ends the session; the cookie is cleared.
  const auto out =
      post(s.port, "/agent/logout", "", "application/json", "Cookie: " + cookie + "\r\n");
  CHECK(out.status == 200);
  CHECK(out.headers.at("set-cookie").find("Max-Age=0") != std::string::npos);
  CHECK(get_me(s.port, cookie).status == 401);
}

TEST_CASE("a form body logs in too, and behind_https makes the cookie Secure") {
  core::config cfg;
  cfg.behind_https = "true";
  chat_server s(cfg);
  add_agent(s, "erin", "p@ss word & more");
  const auto r = post(s.port, "/agent/login", "name=erin&password=p%40ss+word+%26+more",
                      "application/x-www-form-urlencoded");
  REQUIRE(r.status == 200);
  CHECK(r.headers.at("set-cookie").find("; Secure") != std::string::npos);
}

TEST_CASE("wrong passwords, unknown and disabled agents are refused") {
  chat_server s;
  add_agent(s, "dave", "dave's password");
  add_agent(s, "gone", "gone's password", true);
  auto r = login(s.port, "dave", "not it");
  CHECK(r.status == 401);
  CHECK(r.headers.count("set-cookie") == 0);
  CHECK(r.body == "{\"error\":\"wrong name or password\"}");
  // An unknown name gets the very same answer.
  CHECK(login(s.port, "nobody", "not it").body == r.body);
  CHECK(login(s.port, "gone", "gone's password").status == 403);
  CHECK(login(s.port, "gone", "wrong").status == 401);
}

TEST_CASE("five failed logins per name and address in a minute, then 429") {
  chat_server s;  // limits.agent_login_failures_per_min = 5
  add_agent(s, "dave", "dave's password");
  for (int i = 0; i < 5; ++i)
    CHECK(login(s.port, "dave", "guess " + std::to_string(i)).status == 401);
  const auto r = login(s.port, "dave", "dave's password");  // even the right one, now
  CHECK(r.status == 429);
  CHECK(std::stoi(r.headers.at("retry-after")) > 0);
  // Another name from the same address is not locked out.
  add_agent(s, "erin", "erin's password");
  CHECK(login(s.port, "erin", "erin's password").status == 200);
}

TEST_CASE("a session expires after agents.session_ttl_s") {
  core::config cfg;
  cfg.agents.session_ttl_s = 1;
  chat_server s(cfg);
  add_agent(s, "dave", "dave's password");
  const auto cookie = cookie_of(login(s.port, "dave", "dave's password"));
  CHECK(get_me(s.port, cookie).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(get_me(s.port, cookie).status == 401);
}

TEST_CASE("logins from another site's page and malformed requests are refused") {
  chat_server s;
  add_agent(s, "dave", "dave's password");
  CHECK(login(s.port, "dave", "dave's password", "Origin: https://evil.example\r\n").status == 403);
  CHECK(login(s.port, "dave", "dave's password", "Origin: http://localhost:3000\r\n").status ==
        200);
  CHECK(post(s.port, "/agent/login", "dave", "text/plain").status == 415);
  CHECK(post(s.port, "/agent/login", "[1,2]").status == 400);
  CHECK(post(s.port, "/agent/login", "{\"name\":\"dave\"}").status == 400);
  CHECK(post(s.port, "/agent/login", "{\"name\":\"\",\"password\":\"x\"}").status == 400);
  CHECK(post(s.port, "/agent/login", "name=dave&password=%zz", "application/x-www-form-urlencoded")
            .status == 400);
  CHECK(test::http_get(s.port, "/agent/login").status == 405);
}

TEST_CASE("cookie values and login forms are parsed exactly") {
  CHECK(net::cookie_value("a=1; sb_agent=abc; b=2", "sb_agent") == "abc");
  CHECK(net::cookie_value("sb_agent=abc", "sb_agent") == "abc");
  CHECK(net::cookie_value("xsb_agent=abc", "sb_agent").empty());
  CHECK(net::cookie_value("", "sb_agent").empty());
  std::string name, password;
  CHECK(net::parse_login_form("password=a%2Bb+c&name=x", name, password));
  CHECK(name == "x");
  CHECK(password == "a+b c");
  CHECK_FALSE(net::parse_login_form("name=x", name, password));
  CHECK_FALSE(net::parse_login_form("name=x&password=%4", name, password));
}
