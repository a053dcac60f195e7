// Test helpers for agents: an account in a chat_server's store (a fast
// hash), and the login requests over plain HTTP.
#pragma once

#include <string>

#include "bot/handoff/password.hpp"
#include "chat_server.hpp"
#include "http_client.hpp"

namespace bot::test::agents {

inline void add_agent(chat_server& s, const std::string& name, const std::string& password,
                      bool disabled = false, std::vector<std::string> teams = {"orders"},
                      const std::string& display = "") {
  store::new_agent a;
  a.name = name;
  a.password_hash = handoff::hash_password(password, 1000).value();  // fast for tests
  a.teams = std::move(teams);
  a.display_name = display;
  auto r =
      store::wait_for<store::agent_row>([&](auto done) { s.db->add_agent(a, std::move(done)); });
  REQUIRE(r.ok());
  if (disabled) {
    REQUIRE(store::wait_done([&](store::done_callback done) {
              s.db->set_agent_disabled(name, true, done);
            }).ok());
  }
}

inline http_response post(std::uint16_t port, const std::string& path, const std::string& body,
                          const std::string& type = "application/json",
                          const std::string& extra = "") {
  return http_raw(port, "POST " + path +
                            " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " + type +
                            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
                            "\r\n" + body);
}

inline http_response login(std::uint16_t port, const std::string& name, const std::string& password,
                           const std::string& extra = "") {
  return post(port, "/agent/login", "{\"name\":\"" + name + "\",\"password\":\"" + password + "\"}",
              "application/json", extra);
}

inline http_response get_me(std::uint16_t port, const std::string& cookie) {
  return http_raw(port, "GET /agent/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: " +
                            cookie + "\r\n\r\n");
}

// "sb_agent=TOKEN" from a Set-Cookie header.
inline std::string cookie_of(const http_response& r) {
  const auto it = r.headers.find("set-cookie");
  if (it == r.headers.end()) return {};
  return it->second.substr(0, it->second.find(';'));
}

}  // namespace bot::test::agents
