// The visitor chat over a real WebSocket: a Beast server on 127.0.0.1 port 0
// with a real SQLite store (WAL, temp file) and the sample rules and
// knowledge base, driven by a real WebSocket client (ws_client). One test per
// frame type, guarantee and limit of docs/protocol.md.
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "bot/core/clock.hpp"
#include "bot/core/config.hpp"
#include "bot/net/conversation.hpp"
#include "bot/net/server.hpp"
#include "bot/store/sqlite.hpp"
#include "bot/store/store.hpp"
#include "chat_server.hpp"
#include "http_client.hpp"
#include "tests/temp_dir.hpp"
#include "ws_client.hpp"

using namespace bot;
using bot::test::chat_server;
using bot::test::hello;
using bot::test::num;
using bot::test::str;
using bot::test::text_message;
using bot::test::ws_client;
namespace json = boost::json;

namespace {

struct opened {
  std::unique_ptr<ws_client> ws;
  json::object welcome;
  std::string id() const { return str(welcome, "conversation_id"); }
  std::string token() const { return str(welcome, "token"); }
};

opened start(chat_server& s, const json::object& h = hello(),
             const test::ws_connect_options& o = {}) {
  opened c{s.connect(o), {}};
  REQUIRE(c.ws->send_json(h));
  c.welcome = c.ws->recv_type("welcome");
  return c;
}

// Sends a message and returns its ack and the bot's reply.
std::pair<json::object, json::object> say(ws_client& ws, const std::string& id,
                                          const std::string& text) {
  REQUIRE(ws.send_json(text_message(id, text)));
  auto ack = ws.recv_type("ack");
  CHECK(str(ack, "client_msg_id") == id);
  auto reply = ws.recv_type("message");
  CHECK(str(reply, "from") == "bot");
  return {std::move(ack), std::move(reply)};
}

// No frame within `ms` (and the connection still open).
bool silent(ws_client& ws, int ms = 300) {
  return !ws.recv(ms) && !ws.closed();
}

json::object expect_error(ws_client& ws, std::string_view code) {
  auto e = ws.recv_type("error");
  CHECK(str(e, "code") == code);
  CHECK(!str(e, "message").empty());
  return e;
}

std::string metrics(std::uint16_t port) {
  return test::http_get(port, "/metrics").body;
}

}  // namespace

TEST_CASE("hello opens a conversation and a message is acked after commit, then answered") {
  chat_server s;
  auto c = start(s);
  CHECK(c.id().size() > 8);
  CHECK(c.token().size() == 32);  // 128 random bits, hex
  CHECK(str(c.welcome, "state") == "bot");
  CHECK(num(c.welcome, "last_seq") == 0);
  CHECK(c.welcome.at("resumed").as_bool() == false);

  REQUIRE(c.ws->send_json(text_message("m-1", "hi")));
  const auto ack = c.ws->recv_type("ack");
  CHECK(num(ack, "seq") == 1);
  // Committed before the ack: a reader sees it at once.
  const auto stored = s.messages(c.id());
  REQUIRE(!stored.empty());
  CHECK(stored[0].seq == 1);
  CHECK(stored[0].client_msg_id == "m-1");
  CHECK(stored[0].text == "hi");

  const auto reply = c.ws->recv_type("message");
  CHECK(num(reply, "seq") == 2);
  CHECK(str(reply, "from") == "bot");
  CHECK(!str(reply, "text").empty());
  CHECK(num(reply, "ts") > 0);
  const auto& source = reply.at("source").as_object();
  CHECK(str(source, "kind") == "intent");
  CHECK(str(source, "id") == "greeting");
  CHECK(source.at("confidence").to_number<double>() > 0.6);
  REQUIRE(reply.contains("quick_replies"));
  CHECK(reply.at("quick_replies").as_array().size() == 4);

  // The token is stored hashed, never as sent.
  CHECK(s.query_int("SELECT count(*) FROM conversations WHERE token_hash = '" + c.token() + "'") ==
        0);
  CHECK(s.query_int("SELECT count(*) FROM conversations WHERE token_hash = '" +
                    net::token_hash(c.token()) + "'") == 1);
}

TEST_CASE("a quick reply payload routes to its answer and a KB answer names its article") {
  chat_server s;
  auto c = start(s);
  REQUIRE(c.ws->send_json({{"type", "message"},
                           {"client_msg_id", "q-1"},
                           {"text", "Returns"},
                           {"payload", "intent:talk_to_human"}}));
  c.ws->recv_type("ack");
  const auto reply = c.ws->recv_type("message");
  CHECK(str(reply.at("source").as_object(), "id") == "talk_to_human");

  auto c2 = start(s);
  const auto [ack, kb] = say(*c2.ws, "k-1", "can I rent gear");
  const auto& source = kb.at("source").as_object();
  CHECK(str(source, "kind") == "kb");
  CHECK(!str(source, "id").empty());
  CHECK(str(source, "id") == "gear-rental");
  CHECK(!str(source, "title").empty());
}

TEST_CASE("seq is gap-free and both tabs of a visitor see one ordered conversation") {
  chat_server s;
  auto a = start(s);
  auto b = start(s, hello(a.token(), 0));
  CHECK(b.id() == a.id());
  CHECK(b.welcome.at("resumed").as_bool() == true);

  std::vector<std::int64_t> seen_a, seen_b;
  for (int i = 0; i < 6; ++i) {
    ws_client& sender = i % 2 == 0 ? *a.ws : *b.ws;
    ws_client& other = i % 2 == 0 ? *b.ws : *a.ws;
    auto& sender_seen = i % 2 == 0 ? seen_a : seen_b;
    auto& other_seen = i % 2 == 0 ? seen_b : seen_a;
    const std::string id = "t-" + std::to_string(i);
    const auto [ack, reply] =
        say(sender, id, i % 3 == 0 ? "what are your store hours" : "do you ship to Canada");
    sender_seen.push_back(num(ack, "seq"));
    sender_seen.push_back(num(reply, "seq"));
    // The other tab gets the visitor's message, then the same reply.
    const auto echoed = other.recv_type("message");
    CHECK(str(echoed, "from") == "visitor");
    CHECK(str(echoed, "client_msg_id") == id);
    CHECK(num(echoed, "seq") == num(ack, "seq"));
    const auto reply2 = other.recv_type("message");
    CHECK(num(reply2, "seq") == num(reply, "seq"));
    CHECK(str(reply2, "text") == str(reply, "text"));
    other_seen.push_back(num(echoed, "seq"));
    other_seen.push_back(num(reply2, "seq"));
  }
  std::vector<std::int64_t> expected;
  for (std::int64_t i = 1; i <= 12; ++i) expected.push_back(i);
  CHECK(seen_a == expected);
  CHECK(seen_b == expected);
  const auto stored = s.messages(a.id());
  REQUIRE(stored.size() == 12);
  for (std::size_t i = 0; i < stored.size(); ++i)
    CHECK(stored[i].seq == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("messages sent back to back without waiting keep their order and seqs") {
  core::config cfg;
  cfg.limits.visitor_messages_per_10s = 1000;
  chat_server s(cfg);
  auto c = start(s);
  constexpr int n = 40;
  for (int i = 0; i < n; ++i)
    REQUIRE(c.ws->send_json(text_message("p-" + std::to_string(i), "hi")));
  std::int64_t expected = 1;
  int acks = 0;
  while (acks < n) {
    auto f = c.ws->recv(5000);
    REQUIRE(f);
    if (str(*f, "type") == "ack") {
      CHECK(str(*f, "client_msg_id") == "p-" + std::to_string(acks));
      CHECK(num(*f, "seq") == expected++);
      ++acks;
    } else if (str(*f, "type") == "message") {
      CHECK(num(*f, "seq") == expected++);
    }
  }
  c.ws->recv_type("message");
  CHECK(s.messages(c.id()).size() == 2 * n);
}

TEST_CASE(
    "a repeated client_msg_id gets the first ack and stores nothing, other text is a conflict") {
  chat_server s;
  auto c = start(s);
  const auto [ack, reply] = say(*c.ws, "dup-1", "where is my order?");
  REQUIRE(c.ws->send_json(text_message("dup-1", "where is my order?")));
  const auto again = c.ws->recv_type("ack");
  CHECK(num(again, "seq") == num(ack, "seq"));
  CHECK(again.at("duplicate").as_bool() == true);
  CHECK(silent(*c.ws));  // no second reply
  CHECK(s.messages(c.id()).size() == 2);

  // From another tab after a reconnect: the same.
  auto d = start(s, hello(c.token(), num(reply, "seq")));
  REQUIRE(d.ws->send_json(text_message("dup-1", "where is my order?")));
  CHECK(num(d.ws->recv_type("ack"), "seq") == num(ack, "seq"));

  REQUIRE(c.ws->send_json(text_message("dup-1", "something else")));
  const auto e = expect_error(*c.ws, "conflict");
  CHECK(str(e, "client_msg_id") == "dup-1");
  CHECK(s.messages(c.id()).size() == 2);
  // The connection stays usable.
  say(*c.ws, "dup-2", "thanks");
  CHECK(metrics(s.port).find("supportbot_visitor_duplicates_total 2") != std::string::npos);
}

TEST_CASE("reconnecting with last_seq replays exactly the missed messages") {
  chat_server s;
  auto c = start(s);
  say(*c.ws, "r-1", "hi");
  say(*c.ws, "r-2", "what are your store hours");
  const auto [ack3, reply3] = say(*c.ws, "r-3", "do you ship to Canada");
  CHECK(num(reply3, "seq") == 6);
  c.ws->close(true);  // the network drops

  auto r = start(s, hello(c.token(), 2));
  CHECK(r.id() == c.id());
  CHECK(r.welcome.at("resumed").as_bool());
  CHECK(num(r.welcome, "last_seq") == 6);
  std::vector<std::int64_t> replayed;
  std::vector<std::string> from;
  while (auto f = r.ws->recv(500)) {
    REQUIRE(str(*f, "type") == "message");
    replayed.push_back(num(*f, "seq"));
    from.push_back(str(*f, "from"));
  }
  CHECK(replayed == std::vector<std::int64_t>{3, 4, 5, 6});
  CHECK(from == std::vector<std::string>{"visitor", "bot", "visitor", "bot"});

  // Up to date: nothing is replayed; and the conversation goes on.
  auto u = start(s, hello(c.token(), 6));
  CHECK(silent(*u.ws));
  const auto [ack, reply] = say(*u.ws, "r-4", "thanks");
  CHECK(num(ack, "seq") == 7);
  // The other open tab sees it too.
  CHECK(num(r.ws->recv_type("message"), "seq") == 7);
}

TEST_CASE("past the replay window the client is told to resync") {
  core::config cfg;
  cfg.limits.replay_window = 4;
  chat_server s(cfg);
  auto c = start(s);
  for (int i = 0; i < 5; ++i) say(*c.ws, "w-" + std::to_string(i), "what are your store hours");
  c.ws->close();
  auto r = start(s, hello(c.token(), 1));
  const auto resync = r.ws->recv_type("resync");
  CHECK(num(resync, "from_seq") == 7);
  CHECK(num(resync, "last_seq") == 10);
  std::vector<std::int64_t> replayed;
  while (auto f = r.ws->recv(500)) replayed.push_back(num(*f, "seq"));
  CHECK(replayed == std::vector<std::int64_t>{7, 8, 9, 10});

  // A client claiming more than the server has is resynced too.
  auto ahead = start(s, hello(c.token(), 99));
  CHECK(num(ahead.ws->recv_type("resync"), "last_seq") == 10);
}

TEST_CASE("a replay longer than the outbound queue is delivered whole") {
  core::config cfg;
  cfg.limits.outbound_queue = 8;
  cfg.limits.visitor_messages_per_10s = 1000;
  chat_server s(cfg);
  auto c = start(s);
  for (int i = 0; i < 30; ++i) say(*c.ws, "h-" + std::to_string(i), "what are your store hours");
  c.ws->close();
  auto r = start(s, hello(c.token(), 0));
  std::vector<std::int64_t> replayed;
  while (auto f = r.ws->recv(500)) replayed.push_back(num(*f, "seq"));
  CHECK(!r.ws->closed());
  REQUIRE(replayed.size() == 60);
  for (std::size_t i = 0; i < replayed.size(); ++i)
    CHECK(replayed[i] == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("an unknown token starts a new conversation with a new token") {
  chat_server s;
  auto first = start(s);
  auto c = start(s, hello("00000000000000000000000000000000", 5));
  CHECK(c.welcome.at("resumed").as_bool() == false);
  CHECK(c.token() != "00000000000000000000000000000000");
  CHECK(c.id() != first.id());
  CHECK(num(c.welcome, "last_seq") == 0);
}

TEST_CASE("close, survey, and a closed conversation reopening on a new message") {
  chat_server s;
  auto c = start(s);
  auto tab2 = start(s, hello(c.token(), 0));
  say(*c.ws, "c-1", "hi");
  tab2.ws->recv_type("message");
  tab2.ws->recv_type("message");

  REQUIRE(c.ws->send_json({{"type", "survey"}, {"csat", 5}}));
  expect_error(*c.ws, "bad_state");  // only once closed

  REQUIRE(c.ws->send_json({{"type", "close"}}));
  CHECK(str(c.ws->recv_type("state"), "state") == "closed");
  CHECK(str(tab2.ws->recv_type("state"), "state") == "closed");
  CHECK(s.query_int("SELECT count(*) FROM conversations WHERE state = 'closed'") == 1);

  REQUIRE(c.ws->send_json({{"type", "survey"}, {"csat", 4}, {"comment", "quick and friendly"}}));
  REQUIRE(c.ws->send_json({{"type", "survey"}, {"csat", 9}}));
  expect_error(*c.ws, "bad_field");
  CHECK(silent(*c.ws, 500));
  CHECK(s.query_int(
            "SELECT count(*) FROM surveys WHERE csat = 4 AND comment = 'quick and friendly'") == 1);

  // A new message reopens it with the bot, seqs going on.
  const auto [ack, reply] = say(*c.ws, "c-2", "what are your store hours");
  CHECK(num(ack, "seq") == 3);
  CHECK(str(c.ws->recv_type("state"), "state") == "bot");
  CHECK(s.query_int("SELECT count(*) FROM conversations WHERE state = 'bot'") == 1);
  CHECK(s.query_int("SELECT count(*) FROM events WHERE kind = 'reopened'") == 1);
}

TEST_CASE("a goodbye closes and a handoff queues the conversation, the bot is then silent") {
  chat_server s;
  auto c = start(s);
  const auto [ack, reply] = say(*c.ws, "h-1", "I want to talk to a human");
  CHECK(str(reply.at("source").as_object(), "id") == "talk_to_human");
  const auto st = c.ws->recv_type("state");
  CHECK(str(st, "state") == "queued");
  CHECK(str(st, "team") == "general");
  REQUIRE(c.ws->send_json(text_message("h-2", "hello?")));
  CHECK(num(c.ws->recv_type("ack"), "seq") == 3);
  CHECK(silent(*c.ws));
  CHECK(s.query_int("SELECT count(*) FROM events WHERE kind = 'handoff'") == 1);

  auto g = start(s);
  say(*g.ws, "g-1", "bye");
  CHECK(str(g.ws->recv_type("state"), "state") == "closed");
}

TEST_CASE("feedback is stored for a bot answer and refused for other seqs") {
  chat_server s;
  auto c = start(s);
  const auto [ack, reply] = say(*c.ws, "f-1", "what are your store hours");
  REQUIRE(c.ws->send_json({{"type", "feedback"}, {"seq", num(reply, "seq")}, {"helpful", false}}));
  CHECK(silent(*c.ws, 500));
  CHECK(s.query_int("SELECT count(*) FROM feedback WHERE helpful = 0 AND seq = " +
                    std::to_string(num(reply, "seq"))) == 1);
  REQUIRE(c.ws->send_json({{"type", "feedback"}, {"seq", num(ack, "seq")}, {"helpful", true}}));
  expect_error(*c.ws, "not_found");
  REQUIRE(c.ws->send_json({{"type", "feedback"}, {"seq", 999}, {"helpful", true}}));
  expect_error(*c.ws, "not_found");
}

TEST_CASE("typing is accepted silently and contact without a ticket is refused") {
  chat_server s;
  auto c = start(s);
  REQUIRE(c.ws->send_json({{"type", "typing"}, {"on", true}}));
  CHECK(silent(*c.ws));
  REQUIRE(c.ws->send_json({{"type", "typing"}, {"on", "yes"}}));
  expect_error(*c.ws, "bad_field");
  REQUIRE(c.ws->send_json({{"type", "contact"}, {"email", "a@b.example"}}));
  expect_error(*c.ws, "bad_state");
}

TEST_CASE("malformed frames get a coded error and the connection stays usable") {
  chat_server s;
  auto c = start(s);
  REQUIRE(c.ws->send("not json"));
  expect_error(*c.ws, "bad_json");
  REQUIRE(c.ws->send("[1,2]"));
  expect_error(*c.ws, "bad_frame");
  REQUIRE(c.ws->send_binary("\x01\x02"));
  expect_error(*c.ws, "bad_frame");
  REQUIRE(c.ws->send_json({{"type", "teleport"}}));
  expect_error(*c.ws, "unknown_type");
  REQUIRE(c.ws->send_json({{"type", "message"}, {"text", "no id"}}));
  expect_error(*c.ws, "missing_field");
  REQUIRE(c.ws->send_json({{"type", "message"}, {"client_msg_id", "e-1"}, {"text", "   "}}));
  expect_error(*c.ws, "bad_field");
  REQUIRE(c.ws->send_json({{"type", "hello"}}));
  expect_error(*c.ws, "already_hello");
  const auto [ack, reply] = say(*c.ws, "e-2", "hi");
  CHECK(num(ack, "seq") == 1);
  CHECK(metrics(s.port).find("supportbot_ws_error_frames_total 7") != std::string::npos);
}

TEST_CASE("the first frame must be a hello, within the handshake timeout") {
  core::config cfg;
  cfg.limits.handshake_timeout_s = 1;
  chat_server s(cfg);
  auto c = s.connect();
  REQUIRE(c->send_json(text_message("x", "hi")));
  expect_error(*c, "hello_first");
  // No hello: an error, then close 1008.
  expect_error(*c, "hello_first");
  CHECK(c->wait_closed(3000));
  CHECK(c->close_code() == 1008);

  // A TCP connection that never sends its request is closed too.
  const int fd = test::connect_local(s.port);
  REQUIRE(fd >= 0);
  timeval tv{4, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char b[16];
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(::recv(fd, b, sizeof b, 0) == 0);  // closed by the server, not our timeout
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  ::close(fd);
}

TEST_CASE("text over max_text_chars gets too_long and the connection stays") {
  core::config cfg;
  cfg.limits.max_text_chars = 50;
  chat_server s(cfg);
  auto c = start(s);
  // 50 characters of 3 bytes each is within the limit; 51 is not.
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "\xe2\x82\xac";
  REQUIRE(c.ws->send_json(text_message("l-1", fifty + "\xe2\x82\xac")));
  const auto e = expect_error(*c.ws, "too_long");
  CHECK(str(e, "client_msg_id") == "l-1");
  const auto [ack, reply] = say(*c.ws, "l-2", fifty);
  CHECK(num(ack, "seq") == 1);
}

TEST_CASE("a frame over max_frame_bytes closes the connection with 1009") {
  core::config cfg;
  cfg.limits.max_frame_bytes = 1024;
  chat_server s(cfg);
  auto c = start(s);
  REQUIRE(c.ws->send_json(text_message("big", std::string(2000, 'a'))));
  CHECK(c.ws->wait_closed(3000));
  CHECK(c.ws->close_code() == 1009);
  // The conversation is intact: a new connection resumes it.
  auto r = start(s, hello(c.token(), 0));
  CHECK(r.id() == c.id());
  CHECK(s.messages(c.id()).empty());
}

TEST_CASE("the rate limit per conversation answers rate_limited and the connection stays") {
  core::config cfg;
  cfg.limits.visitor_messages_per_10s = 3;
  chat_server s(cfg);
  auto c = start(s);
  auto tab2 = start(s, hello(c.token(), 0));
  say(*c.ws, "rl-1", "hi");
  say(*c.ws, "rl-2", "hi");
  // The limit is per conversation, whatever the tab.
  REQUIRE(tab2.ws->send_json(text_message("rl-3", "hi")));
  tab2.ws->recv_type("ack");
  REQUIRE(tab2.ws->send_json(text_message("rl-4", "hi")));
  const auto e = expect_error(*tab2.ws, "rate_limited");
  CHECK(str(e, "client_msg_id") == "rl-4");
  REQUIRE(c.ws->send_json(text_message("rl-5", "hi")));
  expect_error(*c.ws, "rate_limited");
  REQUIRE(c.ws->send_json({{"type", "typing"}, {"on", true}}));  // other frames still work
  CHECK(!c.ws->closed());
  CHECK(s.messages(c.id()).size() == 6);
  CHECK(metrics(s.port).find(
            "supportbot_rate_limit_hits_total{limit=\"visitor_messages_per_10s\"} 2") !=
        std::string::npos);
}

TEST_CASE(
    "connections per IP, the connection cap and the Origin allow-list refuse before the upgrade") {
  core::config cfg;
  cfg.limits.connections_per_ip = 2;
  cfg.allowed_origins = {"https://shop.example", "http://localhost:*"};
  chat_server s(cfg);
  int status = 0;
  auto a = ws_client::connect(s.port, {}, &status);
  CHECK(status == 101);
  auto b = ws_client::connect(s.port, {"/ws", "https://shop.example", "", 0}, &status);
  CHECK(b);
  auto c = ws_client::connect(s.port, {}, &status);
  CHECK(!c);
  CHECK(status == 503);
  a->close();
  // Released when a connection ends.
  std::unique_ptr<ws_client> d;
  for (int i = 0; i < 50 && !d; ++i) {
    d = ws_client::connect(s.port, {}, &status);
    if (!d) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(d);
  d->close();
  b->close();

  auto evil = ws_client::connect(s.port, {"/ws", "https://evil.example", "", 0}, &status);
  CHECK(!evil);
  CHECK(status == 403);
  auto lookalike =
      ws_client::connect(s.port, {"/ws", "https://shop.example.evil.example", "", 0}, &status);
  CHECK(!lookalike);
  CHECK(status == 403);
  auto local = ws_client::connect(s.port, {"/ws", "http://localhost:3000", "", 0}, &status);
  CHECK(local);
  CHECK(metrics(s.port).find("supportbot_ws_origin_refused_total 2") != std::string::npos);
  CHECK(test::http_get(s.port, "/ws").status == 426);

  core::config full;
  full.limits.max_connections = 1;
  chat_server t(full);
  auto one = ws_client::connect(t.port, {}, &status);
  CHECK(one);
  auto two = ws_client::connect(t.port, {}, &status);
  CHECK(!two);
  CHECK(status == 503);
}

TEST_CASE("an idle client that answers pings stays, one that does not is closed") {
  core::config cfg;
  cfg.limits.idle_timeout_s = 2;
  chat_server s(cfg);
  auto reading = start(s);
  auto deaf = start(s);
  // A pending read answers the server's pings (at half the idle timeout).
  CHECK(!reading.ws->recv(4500));
  CHECK(!reading.ws->closed());
  say(*reading.ws, "i-1", "hi");
  // `deaf` had no read pending for 4.5 s: it never saw the pings.
  CHECK(deaf.ws->wait_closed(3000));
}

TEST_CASE("a client that does not read is closed with 1008 once its outbound queue is full") {
  core::config cfg;
  cfg.limits.outbound_queue = 8;
  cfg.limits.visitor_messages_per_10s = 100000;
  cfg.limits.max_text_chars = 4000;
  chat_server s(cfg);
  auto writer = start(s);
  // A second tab with a tiny receive buffer that never reads: the echoes of
  // the writer's messages pile up in the kernel, then in its queue.
  test::ws_connect_options o;
  o.rcvbuf_bytes = 4096;
  auto slow = start(s, hello(writer.token(), 0), o);
  const std::string text(3900, 'x');
  int acks = 0;
  std::int64_t last_ack = 0;
  const auto count = [&](const json::object& f) {
    if (str(f, "type") != "ack") return 0;
    last_ack = std::max(last_ack, num(f, "seq"));
    return 1;
  };
  constexpr int n = 3000;
  // The writer waits for each ack (its own queue is bounded by the same
  // limit, and it must not be the one that falls behind).
  for (int i = 0; i < n; ++i) {
    REQUIRE(writer.ws->send_json(text_message("s-" + std::to_string(i), text)));
    while (acks <= i) {
      auto f = writer.ws->recv(10000);
      REQUIRE(f);
      acks += count(*f);
    }
  }
  CHECK(slow.ws->wait_closed(10000));
  CHECK(slow.ws->close_code() == 1008);
  CHECK(metrics(s.port).find("supportbot_ws_slow_client_closes_total 1") != std::string::npos);
  // The writer was never affected, and the slow tab can resume.
  CHECK(!writer.ws->closed());
  auto back = start(s, hello(writer.token(), last_ack - 3));
  int replayed = 0;
  while (auto f = back.ws->recv(500)) replayed += str(*f, "type") == "message";
  CHECK(replayed == 3);
}

TEST_CASE("metrics count connections, frames, decisions and message latency") {
  chat_server s;
  auto c = start(s);
  say(*c.ws, "x-1", "hi");
  say(*c.ws, "x-2", "zxqv blorft");
  const std::string m = metrics(s.port);
  CHECK(m.find("supportbot_ws_connections_open 1") != std::string::npos);
  CHECK(m.find("supportbot_ws_connections_total 1") != std::string::npos);
  CHECK(m.find("supportbot_ws_frames_in_total 3") != std::string::npos);
  CHECK(m.find("supportbot_visitor_messages_total 2") != std::string::npos);
  CHECK(m.find("supportbot_decisions_total{kind=\"answer\"} 1") != std::string::npos);
  CHECK(m.find("supportbot_decisions_total{kind=\"fallback\"} 1") != std::string::npos);
  CHECK(m.find("supportbot_message_latency_seconds_count 2") != std::string::npos);
  CHECK(m.find("supportbot_conversations_total{how=\"new\"} 1") != std::string::npos);
}

TEST_CASE("stopping sends in-flight replies, closes with 1001 and keeps every acked message") {
  chat_server s;
  auto c = start(s);
  auto idle = start(s);
  say(*c.ws, "z-1", "hi");
  REQUIRE(c.ws->send_json(text_message("z-2", "what are your store hours")));
  std::chrono::milliseconds took{};
  std::thread stopper([&] { took = s.stop(); });
  bool acked = false, answered = false, refused = false;
  while (auto f = c.ws->recv(5000)) {
    const auto type = str(*f, "type");
    acked = acked || type == "ack";
    answered = answered || (type == "message" && str(*f, "from") == "bot");
    refused = refused || (type == "error" && str(*f, "code") == "unavailable");
  }
  CHECK(c.ws->closed());
  CHECK(c.ws->close_code() == 1001);
  CHECK(idle.ws->wait_closed(5000));
  CHECK(idle.ws->close_code() == 1001);
  stopper.join();
  CHECK(took < std::chrono::seconds(3));
  // A message read before the stop is answered before the close; one read
  // after it is refused (or dropped with the close) and not stored: the
  // client sends it again when it reconnects.
  CHECK(acked == answered);
  if (refused) CHECK(!acked);
  // Reopened on the same file: what was acked is there.
  s.open();
  const auto stored = s.messages(c.id());
  CHECK(stored.size() == (acked ? 4u : 2u));
}

TEST_CASE("a text frame that is not UTF-8 closes with 1007 and the conversation is intact") {
  chat_server s;
  auto c = start(s);
  say(*c.ws, "u-1", "hi");
  // Not even JSON can be read from it: WebSocket requires UTF-8 in text frames.
  REQUIRE(c.ws->send(
      std::string("{\"type\":\"message\",\"client_msg_id\":\"u-2\",\"text\":\"\xff\xfe\"}")));
  CHECK(c.ws->wait_closed(3000));
  CHECK(c.ws->close_code() == 1007);
  auto r = start(s, hello(c.token(), 2));
  CHECK(r.id() == c.id());
  const auto [ack, reply] =
      say(*r.ws, "u-3", "emoji \xf0\x9f\x98\x80 and \xe4\xbd\xa0\xe5\xa5\xbd are fine");
  CHECK(num(ack, "seq") == 3);
  CHECK(s.messages(c.id()).size() == 4);
}

TEST_CASE("a flood of close frames is refused beyond a bound and the server keeps serving") {
  chat_server s;
  auto c = start(s);
  say(*c.ws, "f-1", "hi");
  for (int i = 0; i < 5000; ++i) REQUIRE(c.ws->send_json({{"type", "close"}}));
  int states = 0, limited = 0;
  while (auto f = c.ws->recv(1000)) {
    states += str(*f, "type") == "state";
    limited += str(*f, "type") == "error" && str(*f, "code") == "rate_limited";
  }
  CHECK(states + limited >= 1);
  // A client that floods and does not read is disconnected (its outbound
  // queue overflows: 1008); the server itself keeps serving, the
  // conversation too.
  if (c.ws->closed()) CHECK(c.ws->close_code() == 1008);
  auto back = start(s, hello(c.token(), 2));
  CHECK(back.id() == c.id());
  const auto [ack, reply] = say(*back.ws, "f-2", "what are your store hours");
  CHECK(num(ack, "seq") > 2);
  auto other = start(s);
  say(*other.ws, "o-1", "hi");
}
