// The agent side of a handoff over real WebSockets: the queue, claiming
// (exactly one of many wins), messages both ways, release to the bot, close,
// the queue across a restart, and a logout closing the console's socket.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <chrono>

#include "agent_client.hpp"
#include "chat_server.hpp"
#include "ws_client.hpp"

using namespace bot;
using namespace bot::test::agents;
using bot::test::chat_server;
using bot::test::hello;
using bot::test::num;
using bot::test::str;
using bot::test::text_message;
using bot::test::ws_client;
namespace json = boost::json;

namespace {

// A logged-in agent with an open console socket (the first `queue` read).
struct console {
  std::string cookie;
  std::unique_ptr<ws_client> ws;
  json::object first_queue;
};

console open_console(chat_server& s, const std::string& name, const std::string& display = "") {
  add_agent(s, name, name + "'s password", false, {"general"}, display);
  console c;
  c.cookie = cookie_of(login(s.port, name, name + "'s password"));
  REQUIRE(!c.cookie.empty());
  test::ws_connect_options o;
  o.target = "/agent/ws";
  o.cookie = c.cookie;
  c.ws = ws_client::connect(s.port, o);
  REQUIRE(c.ws);
  c.first_queue = c.ws->recv_type("queue");
  return c;
}

// A visitor whose conversation was handed off and is queued.
std::pair<std::unique_ptr<ws_client>, std::string> queued_visitor(chat_server& s,
                                                                  std::string* token = nullptr) {
  auto visitor = handed_off(s, token);
  visitor.first->recv_type("message");
  CHECK(str(visitor.first->recv_type("state"), "state") == "queued");
  return visitor;
}

const json::array& waiting(const json::object& queue) {
  return queue.at("waiting").as_array();
}

// The visitor's next state frame other than a queue position update.
json::object next_state(ws_client& ws) { return state_not(ws, "queued"); }

// The next `queue` frame that lists `n` conversations.
json::object queue_of_size(ws_client& ws, std::size_t n) {
  for (int i = 0; i < 20; ++i) {
    auto q = ws.recv_type("queue");
    if (waiting(q).size() == n) return q;
  }
  FAIL("no queue of size " << n);
  return {};
}

json::object agent_frame(std::string_view type, const std::string& conversation_id) {
  return {{"type", type}, {"conversation_id", conversation_id}};
}

}  // namespace

TEST_CASE("the agent socket needs a login, and shows the queue at once") {
  chat_server s;
  int status = 0;
  test::ws_connect_options o;
  o.target = "/agent/ws";
  CHECK(!ws_client::connect(s.port, o, &status));
  CHECK(status == 401);
  o.cookie = "sb_agent=00000000000000000000000000000000";
  CHECK(!ws_client::connect(s.port, o, &status));
  CHECK(status == 401);
  auto a = open_console(s, "alice");
  CHECK(waiting(a.first_queue).empty());
  // A page of another site cannot open it, even with the cookie.
  o.cookie = a.cookie;
  o.origin = "https://evil.example";
  CHECK(!ws_client::connect(s.port, o, &status));
  CHECK(status == 403);
}

TEST_CASE("a handoff is queued, one claim wins, and agent and visitor talk until the release") {
  chat_server s;
  auto a = open_console(s, "alice", "Alice");
  auto b = open_console(s, "bob", "Bob");
  auto [visitor, id] = queued_visitor(s);

  const auto q = queue_of_size(*a.ws, 1);
  const auto& item = waiting(q)[0].as_object();
  CHECK(str(item, "conversation_id") == id);
  CHECK(str(item, "team") == "general");
  CHECK(!str(item, "reason").empty());
  CHECK(str(item, "preview") == "I want to talk to a human");
  queue_of_size(*b.ws, 1);

  // (Who wins a race is the 20-agent test's business: here Alice claims
  // first, then Bob.)
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  // Alice gets the conversation, and (before or after it) the emptied queue.
  json::object conv;
  bool emptied = false;
  while (conv.empty() || !emptied) {
    auto f = a.ws->recv(5000);
    REQUIRE(f);
    if (str(*f, "type") == "conversation") conv = *f;
    if (str(*f, "type") == "queue") emptied = waiting(*f).empty();
  }
  CHECK(str(conv, "conversation_id") == id);
  CHECK(str(conv, "state") == "agent");
  const auto& transcript = conv.at("transcript").as_array();
  REQUIRE(transcript.size() == 2);
  CHECK(str(transcript[0].as_object(), "text") == "I want to talk to a human");
  CHECK(str(transcript[1].as_object(), "from") == "bot");
  CHECK(conv.at("context").is_object());
  REQUIRE(b.ws->send_json(agent_frame("claim", id)));
  const auto lost = b.ws->recv_type("error");
  INFO(json::serialize(lost));
  CHECK(str(lost, "code") == "already_claimed");
  CHECK(str(lost, "conversation_id") == id);

  const auto joined = next_state(*visitor);
  CHECK(str(joined, "state") == "agent");
  CHECK(str(joined, "agent") == "Alice");

  // Agent -> visitor.
  REQUIRE(a.ws->send_json({{"type", "message"},
                           {"conversation_id", id},
                           {"client_msg_id", "a-1"},
                           {"text", "Hi, I'm Alice. How can I help?"}}));
  const auto ack = a.ws->recv_type("ack");
  CHECK(str(ack, "client_msg_id") == "a-1");
  CHECK(num(ack, "seq") == 3);
  const auto said = visitor->recv_type("message");
  CHECK(str(said, "from") == "agent");
  CHECK(str(said, "agent") == "Alice");
  CHECK(num(said, "seq") == 3);

  // Visitor -> agent; the bot stays silent.
  REQUIRE(visitor->send_json(text_message("v-2", "my order is late")));
  CHECK(num(visitor->recv_type("ack"), "seq") == 4);
  const auto heard = a.ws->recv_type("message");
  CHECK(str(heard, "conversation_id") == id);
  CHECK(str(heard, "from") == "visitor");
  CHECK(str(heard, "text") == "my order is late");
  CHECK(!visitor->recv(300));

  // Bob cannot write into Alice's conversation.
  REQUIRE(b.ws->send_json(
      {{"type", "message"}, {"conversation_id", id}, {"client_msg_id", "b-1"}, {"text", "hi"}}));
  CHECK(str(b.ws->recv_type("error"), "code") == "not_yours");

  // Back to the bot.
  REQUIRE(a.ws->send_json(agent_frame("release", id)));
  CHECK(str(a.ws->recv_type("state"), "state") == "bot");
  CHECK(str(next_state(*visitor), "state") == "bot");
  REQUIRE(visitor->send_json(text_message("v-3", "what are your store hours")));
  visitor->recv_type("ack");
  CHECK(str(visitor->recv_type("message"), "from") == "bot");
  CHECK(s.query_int("SELECT count(*) FROM assignments WHERE released_ms IS NOT NULL") == 1);
  CHECK(s.query_int("SELECT count(*) FROM messages WHERE sender = 'agent'") == 1);
  // Every turn that wrote a message carried the dialog context on its last
  // message (schema v3), the agent's reply included.
  CHECK(s.query_int("SELECT count(*) FROM messages WHERE sender = 'agent' AND context_json IS NOT "
                    "NULL") == 1);
}

TEST_CASE("of 20 agents claiming at once exactly one wins") {
  core::config cfg;
  cfg.limits.connections_per_ip = 100;
  chat_server s(cfg);
  std::vector<console> agents;
  for (int i = 0; i < 20; ++i) agents.push_back(open_console(s, "agent" + std::to_string(i)));
  auto [visitor, id] = queued_visitor(s);
  for (auto& a : agents) queue_of_size(*a.ws, 1);
  for (auto& a : agents) REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  int won = 0, lost = 0;
  for (auto& a : agents) {
    for (;;) {
      auto f = a.ws->recv(5000);
      REQUIRE(f);
      if (str(*f, "type") == "conversation") {
        ++won;
        break;
      }
      if (str(*f, "type") == "error") {
        CHECK(str(*f, "code") == "already_claimed");
        ++lost;
        break;
      }
    }
  }
  CHECK(won == 1);
  CHECK(lost == 19);
  CHECK(s.query_int("SELECT count(*) FROM assignments WHERE conversation_id = '" + id + "'") == 1);
}

TEST_CASE("an agent closes the conversation, and a visitor's close reaches the agent") {
  chat_server s;
  auto a = open_console(s, "alice");
  auto [visitor, id] = queued_visitor(s);
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  a.ws->recv_type("conversation");
  CHECK(str(next_state(*visitor), "state") == "agent");
  REQUIRE(a.ws->send_json(agent_frame("close", id)));
  CHECK(str(a.ws->recv_type("state"), "state") == "closed");
  CHECK(str(next_state(*visitor), "state") == "closed");
  REQUIRE(visitor->send_json({{"type", "survey"}, {"csat", 5}}));
  CHECK(!visitor->recv(300));
  CHECK(s.query_int("SELECT count(*) FROM surveys WHERE csat = 5") == 1);

  auto [visitor2, id2] = queued_visitor(s);
  REQUIRE(a.ws->send_json(agent_frame("claim", id2)));
  a.ws->recv_type("conversation");
  REQUIRE(visitor2->send_json({{"type", "close"}}));
  const auto st = a.ws->recv_type("state");
  CHECK(str(st, "conversation_id") == id2);
  CHECK(str(st, "state") == "closed");
  CHECK(s.query_int("SELECT count(*) FROM assignments WHERE released_ms IS NULL") == 0);
  // Claiming what is not waiting is refused.
  REQUIRE(a.ws->send_json(agent_frame("claim", id2)));
  CHECK(str(a.ws->recv_type("error"), "code") == "bad_state");
  REQUIRE(a.ws->send_json(agent_frame("claim", "c_no_such_conversation")));
  CHECK(str(a.ws->recv_type("error"), "code") == "not_found");
  REQUIRE(a.ws->send("not json"));
  CHECK(str(a.ws->recv_type("error"), "code") == "bad_json");
}

TEST_CASE("the queue survives a restart of the server") {
  chat_server s;
  std::string id;
  {
    auto [visitor, vid] = queued_visitor(s);
    id = vid;
  }
  s.stop();
  s.open();
  auto a = open_console(s, "alice");
  std::size_t n = waiting(a.first_queue).size();
  json::object q = a.first_queue;
  if (n == 0) q = queue_of_size(*a.ws, 1);  // the queue is read from the store as the server starts
  REQUIRE(waiting(q).size() == 1);
  CHECK(str(waiting(q)[0].as_object(), "conversation_id") == id);
}

TEST_CASE("logging out closes the console's socket within seconds") {
  chat_server s;
  auto a = open_console(s, "alice");
  const auto out =
      post(s.port, "/agent/logout", "", "application/json", "Cookie: " + a.cookie + "\r\n");
  REQUIRE(out.status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(a.ws->wait_closed(5000));
  CHECK(a.ws->close_code() == 1008);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4));
}

TEST_CASE("typing goes both ways between the visitor and the agent who holds the conversation") {
  chat_server s;
  auto a = open_console(s, "alice");
  auto [visitor, id] = queued_visitor(s);
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  a.ws->recv_type("conversation");
  REQUIRE(visitor->send_json({{"type", "typing"}, {"on", true}}));
  const auto t = a.ws->recv_type("typing");
  CHECK(str(t, "conversation_id") == id);
  CHECK(str(t, "from") == "visitor");
  CHECK(t.at("on").as_bool());
  REQUIRE(a.ws->send_json({{"type", "typing"}, {"conversation_id", id}, {"on", true}}));
  const auto v = visitor->recv_type("typing");
  CHECK(str(v, "from") == "agent");
  CHECK(v.at("on").as_bool());
  REQUIRE(a.ws->send_json({{"type", "typing"}, {"conversation_id", id}, {"on", "yes"}}));
  CHECK(str(a.ws->recv_type("error"), "code") == "bad_field");
}

TEST_CASE(
    "a queued visitor hears their place in the queue and, after a claim, the estimated wait") {
  chat_server s;
  auto a = open_console(s, "alice");
  auto [first, id1] = queued_visitor(s);
  const auto p1 = first->recv_type("state");
  CHECK(str(p1, "state") == "queued");
  CHECK(num(p1, "position") == 1);
  CHECK_FALSE(p1.contains("eta_s"));  // no claim yet: no estimate
  auto [second, id2] = queued_visitor(s);
  CHECK(num(second->recv_type("state"), "position") == 2);
  REQUIRE(a.ws->send_json(agent_frame("claim", id1)));
  a.ws->recv_type("conversation");
  // The second moves up, now with an estimate from the first one's wait.
  json::object moved;
  for (int i = 0; i < 5 && num(moved, "position") != 1; ++i) moved = second->recv_type("state");
  CHECK(num(moved, "position") == 1);
  CHECK(num(moved, "eta_s") >= 0);
  CHECK(str(next_state(*first), "state") == "agent");
}

TEST_CASE("an agent who reconnects gets the conversations they hold") {
  chat_server s;
  auto a = open_console(s, "alice");
  auto [visitor, id] = queued_visitor(s);
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  a.ws->recv_type("conversation");
  a.ws->close();
  test::ws_connect_options o;
  o.target = "/agent/ws";
  o.cookie = a.cookie;
  auto again = ws_client::connect(s.port, o);
  REQUIRE(again);
  const auto conv = again->recv_type("conversation");
  CHECK(str(conv, "conversation_id") == id);
  CHECK(str(conv, "state") == "agent");
  // And the visitor's messages reach the new connection.
  REQUIRE(visitor->send_json(text_message("v-9", "still there?")));
  CHECK(str(again->recv_type("message"), "text") == "still there?");
}

TEST_CASE("a visitor's token opens their own conversation and nothing else") {
  chat_server s;
  auto v1 = s.connect();
  REQUIRE(v1->send_json(hello()));
  const auto w1 = v1->recv_type("welcome");
  REQUIRE(v1->send_json(text_message("p-1", "my address is 12 Secret Lane")));
  v1->recv_type("ack");
  auto v2 = s.connect();
  REQUIRE(v2->send_json(hello()));
  const auto w2 = v2->recv_type("welcome");
  CHECK(str(w2, "conversation_id") != str(w1, "conversation_id"));
  // Resuming with one's own token replays only one's own messages.
  auto again = s.connect();
  REQUIRE(again->send_json(hello(str(w2, "token"), 0)));
  CHECK(str(again->recv_type("welcome"), "conversation_id") == str(w2, "conversation_id"));
  CHECK(!again->recv(300));
  // A token is not a conversation id: using the other's id as a token opens
  // a new conversation, not theirs.
  auto guess = s.connect();
  REQUIRE(guess->send_json(hello(str(w1, "conversation_id"), 0)));
  const auto g = guess->recv_type("welcome");
  CHECK(str(g, "conversation_id") != str(w1, "conversation_id"));
  CHECK(g.at("resumed").as_bool() == false);
  CHECK(!guess->recv(300));
}

TEST_CASE("notes stay among agents and travel with a transfer to another agent") {
  chat_server s;
  auto a = open_console(s, "alice", "Alice");
  auto b = open_console(s, "bob", "Bob");
  auto [visitor, id] = queued_visitor(s);
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  a.ws->recv_type("conversation");
  REQUIRE(a.ws->send_json(
      {{"type", "note"}, {"conversation_id", id}, {"text", "VIP customer, be quick"}}));
  const auto note = a.ws->recv_type("note");
  CHECK(str(note.at("note").as_object(), "text") == "VIP customer, be quick");
  CHECK(str(note.at("note").as_object(), "agent") == "Alice");
  CHECK(s.query_int("SELECT count(*) FROM notes") == 1);
  CHECK(s.query_int("SELECT count(*) FROM messages WHERE text LIKE '%VIP%'") ==
        0);  // not a message

  REQUIRE(a.ws->send_json({{"type", "transfer"}, {"conversation_id", id}, {"agent", "bob"}}));
  CHECK(str(a.ws->recv_type("transferred"), "to") == "Bob");
  const auto conv = b.ws->recv_type("conversation");
  CHECK(str(conv, "conversation_id") == id);
  REQUIRE(conv.at("notes").as_array().size() == 1);
  CHECK(str(conv.at("notes").as_array()[0].as_object(), "text") == "VIP customer, be quick");
  json::object now_with;
  for (int i = 0; i < 5 && str(now_with, "agent") != "Bob"; ++i) now_with = next_state(*visitor);
  CHECK(str(now_with, "agent") == "Bob");
  // Bob holds it now; Alice does not.
  REQUIRE(visitor->send_json(text_message("v-5", "hello?")));
  CHECK(str(b.ws->recv_type("message"), "text") == "hello?");
  REQUIRE(a.ws->send_json(
      {{"type", "message"}, {"conversation_id", id}, {"client_msg_id", "x"}, {"text", "hi"}}));
  CHECK(str(a.ws->recv_type("error"), "code") == "not_yours");
  REQUIRE(b.ws->send_json({{"type", "transfer"}, {"conversation_id", id}, {"agent", "nobody"}}));
  CHECK(str(b.ws->recv_type("error"), "code") == "not_found");
  REQUIRE(b.ws->send_json({{"type", "transfer"}, {"conversation_id", id}}));
  CHECK(str(b.ws->recv_type("error"), "code") == "bad_field");
}

TEST_CASE("a transfer to a team puts the conversation back in that team's queue") {
  chat_server s;
  auto a = open_console(s, "alice");
  add_agent(s, "oscar", "oscar's password", false, {"orders"});
  test::ws_connect_options o;
  o.target = "/agent/ws";
  o.cookie = cookie_of(login(s.port, "oscar", "oscar's password"));
  auto orders = ws_client::connect(s.port, o);
  REQUIRE(orders);
  CHECK(waiting(orders->recv_type("queue")).empty());
  auto [visitor, id] = queued_visitor(s);
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  a.ws->recv_type("conversation");
  REQUIRE(a.ws->send_json({{"type", "transfer"}, {"conversation_id", id}, {"team", "orders"}}));
  CHECK(str(a.ws->recv_type("state"), "state") == "queued");
  const auto q = queue_of_size(*orders, 1);
  CHECK(str(waiting(q)[0].as_object(), "team") == "orders");
  CHECK(str(waiting(q)[0].as_object(), "reason").find("transferred") == 0);
  REQUIRE(orders->send_json(agent_frame("claim", id)));
  CHECK(str(orders->recv_type("conversation"), "conversation_id") == id);
}

TEST_CASE(
    "with no agent online the visitor may leave an email, and the ticket is answered when they "
    "return") {
  chat_server s;
  std::string token;
  auto [visitor, id] = queued_visitor(s, &token);
  const auto offer = visitor->recv_type("state");
  CHECK(str(offer, "state") == "queued");
  CHECK(offer.at("no_agents").as_bool());
  REQUIRE(visitor->send_json({{"type", "contact"}, {"email", "not an email"}}));
  CHECK(str(visitor->recv_type("error"), "code") == "bad_field");
  REQUIRE(visitor->send_json({{"type", "contact"}, {"email", "sam@example.com"}}));
  CHECK(str(next_state(*visitor), "state") == "ticket");
  CHECK(s.query_int(
            "SELECT count(*) FROM tickets WHERE email = 'sam@example.com' AND status = 'open'") ==
        1);
  CHECK(s.query_int("SELECT count(*) FROM conversations WHERE visitor_email = 'sam@example.com'") ==
        1);
  visitor->close();

  // Later an agent sees the ticket, takes it and answers.
  auto a = open_console(s, "alice", "Alice");
  REQUIRE(a.first_queue.at("tickets").as_array().size() == 1);
  CHECK(str(a.first_queue.at("tickets").as_array()[0].as_object(), "email") == "sam@example.com");
  REQUIRE(a.ws->send_json(agent_frame("claim", id)));
  a.ws->recv_type("conversation");
  REQUIRE(a.ws->send_json({{"type", "message"},
                           {"conversation_id", id},
                           {"client_msg_id", "t-1"},
                           {"text", "Your refund went out today."}}));
  const auto seq = num(a.ws->recv_type("ack"), "seq");
  CHECK(s.query_int("SELECT count(*) FROM tickets WHERE status = 'answered'") == 1);
  // The visitor comes back (same token): the answer is there.
  auto back = s.connect();
  REQUIRE(back->send_json(hello(token, 2)));
  CHECK(str(back->recv_type("welcome"), "state") == "agent");
  json::object answer;
  for (int i = 0; i < 5 && num(answer, "seq") != seq; ++i) answer = back->recv_type("message");
  CHECK(str(answer, "from") == "agent");
  CHECK(str(answer, "text") == "Your refund went out today.");
}

TEST_CASE("a console that reads slowly gets the newest queue, not a pile of old ones") {
  core::config cfg;
  cfg.limits.outbound_queue = 4;
  cfg.limits.connections_per_ip = 100;
  chat_server s(cfg);
  add_agent(s, "slow", "slow's password", false, {"general"});
  test::ws_connect_options o;
  o.target = "/agent/ws";
  o.cookie = cookie_of(login(s.port, "slow", "slow's password"));
  o.rcvbuf_bytes = 4096;
  auto a = ws_client::connect(s.port, o);
  REQUIRE(a);
  std::vector<std::unique_ptr<ws_client>> visitors;
  for (int i = 0; i < 25; ++i) visitors.push_back(queued_visitor(s).first);
  // Only now does the console read: it is still open, and the last queue
  // it gets lists all 25.
  json::object last;
  while (auto f = a->recv(1000)) {
    if (str(*f, "type") == "queue") last = *f;
  }
  CHECK_FALSE(a->closed());
  CHECK(waiting(last).size() == 25);
}
