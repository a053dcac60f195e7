// The desk on a clock we set, with fake console links: presence and
// heartbeats, round-robin auto-assignment under max_chats, business hours.
#include "bot/net/desk.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace bot;
using net::desk;
namespace json = boost::json;

namespace {

// A console that keeps what it was sent.
struct fake_link final : net::agent_link {
  std::vector<std::string> frames;
  void send(net::shared_frame f, kind) override { frames.push_back(*f); }
  // The last frame of `type`, parsed.
  json::object last(std::string_view type) const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      auto v = json::parse(*it).as_object();
      if (v.at("type").as_string() == type) return v;
    }
    FAIL("no " << type << " frame");
    return {};
  }
  std::string status_of(std::string_view name) const {
    const json::object frame = last("agents");
    for (const auto& a : frame.at("agents").as_array()) {
      if (a.at("name").as_string() == name) return std::string(a.at("status").as_string());
    }
    return "absent";
  }
};

desk::agent_info agent(std::int64_t id, std::string name, int max_chats = 5,
                       std::vector<std::string> teams = {"general"}) {
  return {id, name, name, std::move(teams), max_chats};
}

desk::waiting waiting(std::string id, std::int64_t since_ms, std::string team = "general") {
  return {std::move(id), std::move(team), "handoff", since_ms, ""};
}

struct offers {
  std::vector<std::pair<std::string, std::int64_t>> made;  // conversation, agent id
  desk::assigner fn() {
    return [this](const std::string& id, const desk::agent_info& to) { made.emplace_back(id, to.id); };
  }
};

}  // namespace

TEST_CASE("presence: online, away by choice or by a silent console, offline when gone", "[desk]") {
  core::manual_clock clock(1'000'000);
  desk::options o;
  o.heartbeat_timeout_ms = 60'000;
  desk d(clock, std::move(o));
  auto alice = std::make_shared<fake_link>();
  auto bob = std::make_shared<fake_link>();
  d.attach(agent(1, "alice"), alice);
  d.attach(agent(2, "bob"), bob);
  CHECK(bob->status_of("alice") == "online");
  CHECK(d.agents_online() == 2);

  d.presence(alice.get(), true);
  CHECK(bob->status_of("alice") == "away");
  CHECK(d.agents_online() == 1);
  d.presence(alice.get(), false);
  CHECK(bob->status_of("alice") == "online");

  // Bob's console keeps sending frames; Alice's goes silent.
  clock.advance_ms(40'000);
  d.seen(bob.get());
  clock.advance_ms(30'000);
  d.tick();
  CHECK(bob->status_of("alice") == "away");
  CHECK(bob->status_of("bob") == "online");
  d.seen(alice.get());  // a heartbeat brings her back
  CHECK(bob->status_of("alice") == "online");

  d.detach(alice.get());
  CHECK(bob->status_of("alice") == "offline");
}

TEST_CASE("a waiting visitor hears that nobody is online, and when someone comes", "[desk]") {
  core::manual_clock clock(1'000'000);
  desk d(clock);
  std::vector<desk::place> heard;
  d.set_position_listener([&](const desk::place& p) { heard.push_back(p); });
  d.queued(waiting("c1", clock.now_ms()));
  REQUIRE(!heard.empty());
  CHECK(heard.back().no_agents);
  CHECK_FALSE(heard.back().after_hours);
  CHECK(heard.back().position == 1);
  auto alice = std::make_shared<fake_link>();
  d.attach(agent(1, "alice"), alice);
  CHECK_FALSE(heard.back().no_agents);
  d.presence(alice.get(), true);  // away counts as nobody
  CHECK(heard.back().no_agents);
  // An agent of another team does not count either.
  d.attach(agent(2, "bob", 5, {"billing"}), std::make_shared<fake_link>());
  CHECK(heard.back().no_agents);
}

TEST_CASE("auto-assignment goes round-robin among online agents under max_chats", "[desk]") {
  core::manual_clock clock(1'000'000);
  desk d(clock);
  offers o;
  d.set_assigner(o.fn());
  auto alice = std::make_shared<fake_link>();
  auto bob = std::make_shared<fake_link>();
  auto carol = std::make_shared<fake_link>();
  d.attach(agent(1, "alice", 2), alice);
  d.attach(agent(2, "bob", 1), bob);
  d.attach(agent(3, "carol", 5, {"billing"}), carol);  // another team
  d.presence(carol.get(), false);

  for (int i = 1; i <= 5; ++i) d.queued(waiting("c" + std::to_string(i), clock.now_ms() + i));
  // c1 alice, c2 bob, c3 alice; then both are full (bob 1, alice 2).
  REQUIRE(o.made.size() == 3);
  CHECK(o.made[0] == std::pair<std::string, std::int64_t>{"c1", 1});
  CHECK(o.made[1] == std::pair<std::string, std::int64_t>{"c2", 2});
  CHECK(o.made[2] == std::pair<std::string, std::int64_t>{"c3", 1});
  CHECK(bob->last("agents").at("agents").as_array()[1].at("chats").as_int64() == 1);

  // The conversations accept: held, then out of the queue.
  for (const auto& [c, a] : o.made) {
    d.held(c, a);
    d.dequeued(c, true);
  }
  CHECK(d.queue_size() == 2);
  CHECK(o.made.size() == 3);

  // Bob's chat ends: his slot takes the oldest waiting one.
  d.released("c2");
  REQUIRE(o.made.size() == 4);
  CHECK(o.made[3] == std::pair<std::string, std::int64_t>{"c4", 2});
  // An offer that fails (the visitor left) frees the slot again.
  d.dequeued("c4");
  d.offer_done("c4");
  REQUIRE(o.made.size() == 5);
  CHECK(o.made[4] == std::pair<std::string, std::int64_t>{"c5", 2});

  // An away agent gets nothing.
  d.held("c5", 2);
  d.dequeued("c5", true);
  d.presence(alice.get(), true);
  d.released("c1");
  d.queued(waiting("c6", clock.now_ms() + 10));
  CHECK(o.made.size() == 5);
  d.presence(alice.get(), false);
  REQUIRE(o.made.size() == 6);
  CHECK(o.made[5] == std::pair<std::string, std::int64_t>{"c6", 1});
  CHECK(d.held_by(1) == std::vector<std::string>{"c3"});  // c6 is only offered so far
}

TEST_CASE("without an assigner nothing is assigned", "[desk]") {
  core::manual_clock clock(1'000'000);
  desk d(clock);
  auto alice = std::make_shared<fake_link>();
  d.attach(agent(1, "alice"), alice);
  d.queued(waiting("c1", clock.now_ms()));
  CHECK(d.queue_size() == 1);
  CHECK(alice->last("queue").at("waiting").as_array().size() == 1);
}

TEST_CASE("outside business hours visitors are told so and nothing is auto-assigned", "[desk]") {
  // Open Wednesdays 09:00-10:00 UTC; 2026-12-02 is a Wednesday.
  core::hours_config h;
  h.timezone = "UTC";
  h.open = {"wed 09:00-10:00"};
  h.ranges = core::parse_opening("wed 09:00-10:00").value();
  desk::options opt;
  opt.hours = handoff::business_hours::make(h).value();
  core::manual_clock clock(1796198340LL * 1000);  // 07:59 UTC
  desk d(clock, std::move(opt));
  offers o;
  d.set_assigner(o.fn());
  std::vector<desk::place> heard;
  d.set_position_listener([&](const desk::place& p) { heard.push_back(p); });
  auto alice = std::make_shared<fake_link>();
  d.attach(agent(1, "alice"), alice);
  d.queued(waiting("c1", clock.now_ms()));
  REQUIRE(!heard.empty());
  CHECK(heard.back().after_hours);
  CHECK(o.made.empty());
  CHECK_FALSE(d.open_now());

  // The hours open: the tick notices, tells the visitor, and assigns.
  clock.advance_ms(62 * 60 * 1000);  // 09:01
  d.tick();
  CHECK(d.open_now());
  CHECK_FALSE(heard.back().after_hours);
  CHECK(o.made.empty());  // Alice's console fell silent an hour ago: away
  d.seen(alice.get());
  REQUIRE(o.made.size() == 1);
  CHECK(o.made[0].first == "c1");
}

TEST_CASE("a restart loads the queue, tickets and holdings in one go", "[desk]") {
  core::manual_clock clock(1'000'000);
  desk d(clock);
  auto alice = std::make_shared<fake_link>();
  d.attach(agent(1, "alice"), alice);
  const auto before = alice->frames.size();
  std::vector<desk::waiting> q;
  for (int i = 0; i < 1000; ++i) q.push_back(waiting("c" + std::to_string(i), i));
  d.load(std::move(q), {{"t1", "general", "a@b.example", 5}}, {{"h1", 1}, {"h2", 1}});
  CHECK(d.queue_size() == 1000);
  // One queue snapshot and one agents list, not one per conversation.
  CHECK(alice->frames.size() - before == 2);
  CHECK(alice->last("queue").at("tickets").as_array().size() == 1);
  CHECK(d.held_by(1).size() == 2);
  CHECK(alice->last("agents").at("agents").as_array()[0].at("chats").as_int64() == 2);
}

TEST_CASE("a failed offer is not offered again before the next tick", "[desk]") {
  core::manual_clock clock(1'000'000);
  desk d(clock);
  offers o;
  d.set_assigner(o.fn());
  d.attach(agent(1, "alice"), std::make_shared<fake_link>());
  d.queued(waiting("c1", clock.now_ms()));
  REQUIRE(o.made.size() == 1);
  d.offer_done("c1", true);  // e.g. the store refused the claim
  CHECK(o.made.size() == 1);
  d.queued(waiting("c2", clock.now_ms() + 1));  // other events do not bring c1 back
  CHECK(o.made.size() == 2);
  CHECK(o.made[1].first == "c2");
  clock.advance_ms(5000);
  d.tick();
  REQUIRE(o.made.size() == 3);
  CHECK(o.made[2].first == "c1");
}
