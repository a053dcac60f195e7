// Test helpers for agents: an account in a chat_server's store (a fast
// hash), the login requests over plain HTTP, and a visitor handed to a person.
#pragma once

#include <memory>
#include <string>
#include <utility>

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

// A visitor who asked for a person: the client (its `ack` read) and the
// conversation id; `token` gets the visitor's token.
inline std::pair<std::unique_ptr<ws_client>, std::string> handed_off(chat_server& s,
                                                                     std::string* token = nullptr) {
  auto v = s.connect();
  REQUIRE(v->send_json(hello()));
  const auto w = v->recv_type("welcome");
  if (token) *token = str(w, "token");
  REQUIRE(v->send_json(text_message("v-1", "I want to talk to a human")));
  v->recv_type("ack");
  return {std::move(v), str(w, "conversation_id")};
}

// The visitor's next `state` frame whose state is not `skip` (queue
// position updates are `queued` frames).
inline boost::json::object state_not(ws_client& ws, const std::string& skip) {
  for (int i = 0; i < 20; ++i) {
    auto st = ws.recv_type("state");
    if (str(st, "state") != skip) return st;
  }
  FAIL("only " << skip);
  return {};
}

}  // namespace bot::test::agents
