// The desk over real sockets: presence frames, auto-assignment, business
// hours, a restart while an agent holds a conversation, and the console's
// canned-answer search.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <ctime>

#include "agent_client.hpp"
#include "chat_server.hpp"
#include "ws_client.hpp"

using namespace bot;
using namespace bot::test::agents;
using bot::test::chat_server;
using bot::test::hello;
using bot::test::str;
using bot::test::text_message;
using bot::test::ws_client;
namespace json = boost::json;

namespace {

std::unique_ptr<ws_client> console_socket(chat_server& s, const std::string& name) {
  const std::string cookie = cookie_of(login(s.port, name, name + "'s password"));
  REQUIRE(!cookie.empty());
  test::ws_connect_options o;
  o.target = "/agent/ws";
  o.cookie = cookie;
  auto ws = ws_client::connect(s.port, o);
  REQUIRE(ws);
  return ws;
}

std::unique_ptr<ws_client> new_console(chat_server& s, const std::string& name) {
  add_agent(s, name, name + "'s password", false, {"general"}, name);
  return console_socket(s, name);
}

// The next `agents` frame in which `name` has `status`.
json::object agents_with(ws_client& ws, const std::string& name, const std::string& status) {
  for (int i = 0; i < 20; ++i) {
    auto f = ws.recv_type("agents");
    for (const auto& a : f.at("agents").as_array()) {
      if (str(a.as_object(), "name") == name && str(a.as_object(), "status") == status) return f;
    }
  }
  FAIL(name << " never " << status);
  return {};
}

}  // namespace

TEST_CASE("agents see each other's presence: online, away, offline") {
  chat_server s;
  auto alice = new_console(s, "alice");
  auto bob = new_console(s, "bob");
  agents_with(*bob, "alice", "online");
  REQUIRE(alice->send_json({{"type", "presence"}, {"status", "away"}}));
  agents_with(*bob, "alice", "away");
  REQUIRE(alice->send_json({{"type", "presence"}, {"status", "online"}}));
  agents_with(*bob, "alice", "online");
  REQUIRE(alice->send_json({{"type", "presence"}, {"status", "asleep"}}));
  CHECK(str(alice->recv_type("error"), "code") == "bad_field");
  alice->close();
  agents_with(*bob, "alice", "offline");
}

TEST_CASE("a visitor waiting while every agent is away is offered a ticket") {
  chat_server s;
  auto alice = new_console(s, "alice");
  REQUIRE(alice->send_json({{"type", "presence"}, {"status", "away"}}));
  agents_with(*alice, "alice", "away");
  auto [visitor, id] = handed_off(s);
  bool offered = false;
  for (int i = 0; i < 10 && !offered; ++i) {
    const auto st = visitor->recv_type("state");
    offered = st.contains("no_agents") && st.at("no_agents").as_bool();
  }
  CHECK(offered);
}

TEST_CASE("auto-assignment hands waiting chats round-robin to online agents") {
  core::config c;
  c.agents.auto_assign = "true";
  chat_server s(c);
  auto alice = new_console(s, "alice");
  auto bob = new_console(s, "bob");
  agents_with(*alice, "bob", "online");
  std::vector<std::unique_ptr<ws_client>> visitors;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto [v, id] = handed_off(s);
    // Each is assigned before the next arrives: the order is known.
    CHECK(str(state_not(*v, "queued"), "state") == "agent");
    visitors.push_back(std::move(v));
    ids.push_back(id);
  }
  // Alice (the lower id) first, then Bob, then Alice again.
  CHECK(str(alice->recv_type("conversation"), "conversation_id") == ids[0]);
  CHECK(str(bob->recv_type("conversation"), "conversation_id") == ids[1]);
  CHECK(str(alice->recv_type("conversation"), "conversation_id") == ids[2]);
  CHECK(s.query_int("SELECT count(*) FROM assignments WHERE released_ms IS NULL") == 3);
  // The assigned agent talks with the visitor as after a claim.
  REQUIRE(bob->send_json(
      {{"type", "message"}, {"conversation_id", ids[1]}, {"client_msg_id", "b-1"}, {"text", "Hi!"}}));
  CHECK(str(visitors[1]->recv_type("message"), "text") == "Hi!");
}

TEST_CASE("outside business hours the waiting visitor is told so") {
  core::config c;
  // Open one minute a week, on a day that is not today (UTC).
  static const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  const int today = (utc.tm_wday + 6) % 7;  // Monday = 0
  const std::string range = std::string(days[(today + 3) % 7]) + " 09:00-09:01";
  c.hours.timezone = "UTC";
  c.hours.open = {range};
  c.hours.ranges = core::parse_opening(range).value();
  chat_server s(c);
  auto alice = new_console(s, "alice");  // online, but it is after hours
  auto [visitor, id] = handed_off(s);
  bool told = false;
  for (int i = 0; i < 10 && !told; ++i) {
    const auto st = visitor->recv_type("state");
    told = st.contains("after_hours") && st.at("after_hours").as_bool() &&
           st.at("no_agents").as_bool();
  }
  CHECK(told);
  // The visitor leaves an email: a ticket agents see.
  REQUIRE(visitor->send_json({{"type", "contact"}, {"email", "sam@example.com"}}));
  CHECK(str(state_not(*visitor, "queued"), "state") == "ticket");
  for (int i = 0; i < 10; ++i) {
    const auto q = alice->recv_type("queue");
    if (!q.at("tickets").as_array().empty()) {
      CHECK(str(q.at("tickets").as_array()[0].as_object(), "email") == "sam@example.com");
      break;
    }
  }
}

TEST_CASE("a bad time zone with opening hours stops the server from starting") {
  core::config c;
  c.hours.timezone = "Mars/Olympus_Mons";
  c.hours.open = {"mon 09:00-17:00"};
  c.hours.ranges = core::parse_opening("mon 09:00-17:00").value();
  net::server_options o = net::server_options::from_config(c);
  o.port = 0;
  o.web_dir.clear();
  bot::testing::temp_dir dir;
  auto db = store::open_sqlite_store(dir.file("x.db"), c.store, core::system_clock::instance());
  REQUIRE(db.ok());
  dialog::snapshot_holder rules;
  rules.set(test::sample_rules());
  o.store = db.value().get();
  o.rules = &rules;
  net::server srv(std::move(o));
  const auto st = srv.start();
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("hours.timezone"));
  db.value()->close();
}

TEST_CASE("a restart while an agent holds the conversation: both sides carry on") {
  chat_server s;
  std::string token;
  std::string id;
  {
    auto alice = new_console(s, "alice");
    auto [visitor, vid] = handed_off(s, &token);
    id = vid;
    REQUIRE(alice->send_json({{"type", "claim"}, {"conversation_id", id}}));
    alice->recv_type("conversation");
    CHECK(str(state_not(*visitor, "queued"), "state") == "agent");
  }
  s.stop();
  s.open();
  // Logins do not survive a restart; the conversation does.
  auto alice = console_socket(s, "alice");
  const auto conv = alice->recv_type("conversation");
  CHECK(str(conv, "conversation_id") == id);
  CHECK(str(conv, "state") == "agent");
  auto visitor = s.connect();
  json::object h = hello();
  h["token"] = token;
  REQUIRE(visitor->send_json(h));
  const auto w = visitor->recv_type("welcome");
  CHECK(str(w, "conversation_id") == id);
  CHECK(str(w, "state") == "agent");
  REQUIRE(visitor->send_json(text_message("v-2", "are you still there?")));
  visitor->recv_type("ack");
  CHECK(str(alice->recv_type("message"), "text") == "are you still there?");
  REQUIRE(alice->send_json({{"type", "message"},
                            {"conversation_id", id},
                            {"client_msg_id", "a-1"},
                            {"text", "Yes, still here."}}));
  CHECK(str(visitor->recv_type("message"), "text") == "Yes, still here.");
  // The bot stayed silent throughout.
  CHECK(s.query_int("SELECT count(*) FROM messages WHERE sender = 'bot' AND conversation_id = '" +
                    id + "'") == 1);
}

TEST_CASE("a restart while queued: the visitor resumes waiting and an agent claims") {
  chat_server s;
  std::string token, id;
  {
    auto [visitor, vid] = handed_off(s, &token);
    id = vid;
  }
  s.stop();
  s.open();
  auto visitor = s.connect();
  json::object h = hello();
  h["token"] = token;
  REQUIRE(visitor->send_json(h));
  CHECK(str(visitor->recv_type("welcome"), "state") == "queued");
  auto alice = new_console(s, "alice");
  REQUIRE(alice->send_json({{"type", "claim"}, {"conversation_id", id}}));
  CHECK(str(alice->recv_type("conversation"), "conversation_id") == id);
  CHECK(str(state_not(*visitor, "queued"), "state") == "agent");
}

TEST_CASE("the console's canned answers search the knowledge base, for agents only") {
  chat_server s;
  add_agent(s, "alice", "alice's password", false, {"general"});
  const std::string cookie = cookie_of(login(s.port, "alice", "alice's password"));
  const std::string req = "GET /agent/api/kb?q=how+long+do+I+have+to+return+an+item HTTP/1.1\r\n"
                          "Host: x\r\nConnection: close\r\n";
  const auto anonymous = test::http_raw(s.port, req + "\r\n");
  CHECK(anonymous.status == 401);
  const auto r = test::http_raw(s.port, req + "Cookie: " + cookie + "\r\n\r\n");
  REQUIRE(r.status == 200);
  const auto body = json::parse(r.body).as_object();
  const auto& results = body.at("results").as_array();
  REQUIRE(!results.empty());
  CHECK(str(results[0].as_object(), "id") == "returns-policy");
  CHECK(!str(results[0].as_object(), "answer").empty());
  // Empty and odd queries answer an empty list, not an error.
  const auto empty = test::http_raw(s.port, "GET /agent/api/kb?q=%zz HTTP/1.1\r\nHost: x\r\n"
                                            "Connection: close\r\nCookie: " + cookie + "\r\n\r\n");
  CHECK(empty.status == 200);
  CHECK(json::parse(empty.body).at("results").as_array().empty());
  // The console's address without its slash.
  const auto moved = test::http_get(s.port, "/agent");
  CHECK(moved.status == 301);
  CHECK(moved.headers.at("location") == "/agent/");
}

TEST_CASE("a visitor who comes back to a waiting conversation hears their place at once") {
  chat_server s;
  std::string token;
  auto [first, id] = handed_off(s, &token);
  first->close();
  auto again = s.connect();
  REQUIRE(again->send_json(hello(token)));
  CHECK(str(again->recv_type("welcome"), "state") == "queued");
  const auto st = again->recv_type("state");
  CHECK(str(st, "state") == "queued");
  CHECK(st.at("position").as_int64() == 1);
  CHECK(st.at("no_agents").as_bool());
}

TEST_CASE("the conversation frame says why and which team, and errors name the agent message") {
  chat_server s;
  auto alice = new_console(s, "alice");
  auto [visitor, id] = handed_off(s);
  REQUIRE(alice->send_json({{"type", "claim"}, {"conversation_id", id}}));
  const auto conv = alice->recv_type("conversation");
  CHECK(str(conv, "why") == "intent:talk_to_human");
  CHECK(str(conv, "team") == "general");
  // A second console of Alice's sees what the first one writes.
  auto second = console_socket(s, "alice");
  second->recv_type("conversation");  // her held conversation, on connect
  REQUIRE(alice->send_json({{"type", "message"},
                            {"conversation_id", id},
                            {"client_msg_id", "a-1"},
                            {"text", "Hello from tab one"}}));
  alice->recv_type("ack");
  const auto mirrored = second->recv_type("message");
  CHECK(str(mirrored, "from") == "agent");
  CHECK(str(mirrored, "text") == "Hello from tab one");
  // Too long: the error names the message it refuses.
  REQUIRE(alice->send_json({{"type", "message"},
                            {"conversation_id", id},
                            {"client_msg_id", "a-2"},
                            {"text", std::string(5000, 'x')}}));
  const auto err = alice->recv_type("error");
  CHECK(str(err, "code") == "too_long");
  CHECK(str(err, "client_msg_id") == "a-2");
}

TEST_CASE("a closed conversation takes one survey per close") {
  chat_server s;
  auto v = s.connect();
  REQUIRE(v->send_json(hello()));
  const auto w = v->recv_type("welcome");
  const auto id = str(w, "conversation_id");
  const auto token = str(w, "token");
  REQUIRE(v->send_json({{"type", "close"}}));
  CHECK(str(state_not(*v, "bot"), "state") == "closed");
  REQUIRE(v->send_json({{"type", "survey"}, {"csat", 5}}));
  REQUIRE(v->send_json({{"type", "survey"}, {"csat", 1}}));
  CHECK(str(v->recv_type("error"), "code") == "bad_state");
  CHECK(s.query_int("SELECT count(*) FROM surveys WHERE conversation_id = '" + id + "'") == 1);
  CHECK(s.query_int("SELECT csat FROM surveys WHERE conversation_id = '" + id + "'") == 5);
  // Also after the conversation is read back from the store (a new server).
  v->close();
  s.stop();
  s.open();
  auto again = s.connect();
  REQUIRE(again->send_json(hello(token)));
  CHECK(str(again->recv_type("welcome"), "state") == "closed");
  REQUIRE(again->send_json({{"type", "survey"}, {"csat", 2}}));
  CHECK(str(again->recv_type("error"), "code") == "bad_state");
  CHECK(s.query_int("SELECT count(*) FROM surveys WHERE conversation_id = '" + id + "'") == 1);
}

TEST_CASE("disabling an account or changing its password closes its consoles within seconds") {
  chat_server s;
  auto alice = new_console(s, "alice");
  auto bob = new_console(s, "bob");
  const std::string bob_cookie = cookie_of(login(s.port, "bob", "bob's password"));
  REQUIRE(store::wait_done([&](store::done_callback done) {
            s.db->set_agent_disabled("alice", true, done);
          }).ok());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(alice->wait_closed(6000));
  CHECK(alice->close_code() == 1008);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  // A new password ends Bob's sessions too, his other logins included.
  REQUIRE(store::wait_done([&](store::done_callback done) {
            s.db->set_agent_password("bob", handoff::hash_password("a new password!", 1000).value(),
                                     done);
          }).ok());
  CHECK(bob->wait_closed(6000));
  CHECK(get_me(s.port, bob_cookie).status == 401);
}
