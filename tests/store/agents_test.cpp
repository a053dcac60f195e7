// Agent accounts in the SQLite store: add, find, list, disable, passwd, and
// what is refused.
#include <catch2/catch.hpp>

#include "bot/store/store.hpp"
#include "tests/store/temp_db.hpp"

using namespace bot;
using namespace bot::store;

namespace {

std::unique_ptr<store::store> open_db(const std::string& path) {
  auto s = open_sqlite_store(path, test::test_config(), core::system_clock::instance());
  REQUIRE(s.ok());
  return std::move(s).value();
}

new_agent agent(const std::string& name, std::vector<std::string> teams = {}) {
  new_agent a;
  a.name = name;
  a.password_hash = "pbkdf2-sha256$1000$00$00";
  a.teams = std::move(teams);
  return a;
}

core::result<agent_row> add(store::store& s, new_agent a) {
  return wait_for<agent_row>([&](auto done) { s.add_agent(std::move(a), done); });
}
core::result<agent_row> find(store::store& s, const std::string& name) {
  return wait_for<agent_row>([&](auto done) { s.find_agent(name, done); });
}

}  // namespace

TEST_CASE("agents are added with their teams and found by name", "[store][agents]") {
  test::temp_dir dir;
  auto s = open_db(dir.file("a.db"));
  auto a = agent("alice.smith", {"orders", "general", "orders"});
  a.admin = true;
  a.max_chats = 3;
  a.display_name = "Alice S.";
  const auto added = add(*s, a);
  REQUIRE(added.ok());
  CHECK(added.value().id > 0);
  CHECK(added.value().teams == std::vector<std::string>{"general", "orders"});

  const auto got = find(*s, "alice.smith");
  REQUIRE(got.ok());
  CHECK(got.value().display_name == "Alice S.");
  CHECK(got.value().teams == std::vector<std::string>{"general", "orders"});
  CHECK(got.value().admin);
  CHECK(got.value().max_chats == 3);
  CHECK_FALSE(got.value().disabled);
  CHECK(got.value().password_hash == "pbkdf2-sha256$1000$00$00");

  REQUIRE(add(*s, agent("bob")).ok());
  CHECK(find(*s, "bob").value().display_name == "bob");  // defaults to the name
  const auto all = wait_for<std::vector<agent_row>>([&](auto done) { s->list_agents(done); });
  REQUIRE(all.ok());
  REQUIRE(all.value().size() == 2);
  CHECK(all.value()[0].name == "alice.smith");
  CHECK(all.value()[1].name == "bob");
  CHECK(all.value()[1].teams.empty());
}

TEST_CASE("agent names are unique and validated", "[store][agents]") {
  test::temp_dir dir;
  auto s = open_db(dir.file("a.db"));
  REQUIRE(add(*s, agent("alice")).ok());
  const auto again = add(*s, agent("alice", {"orders"}));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == core::errc::conflict);
  // The failed add left no team row behind for the existing agent.
  CHECK(find(*s, "alice").value().teams.empty());

  for (const std::string& bad : std::vector<std::string>{"", "has space", "semi;colon", std::string(65, 'a')}) {
    const auto r = add(*s, agent(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == core::errc::invalid_argument);
  }
  auto no_hash = agent("carol");
  no_hash.password_hash.clear();
  CHECK(add(*s, no_hash).error().code() == core::errc::invalid_argument);
  auto bad_team = agent("dave", {"no way"});
  CHECK(add(*s, bad_team).error().code() == core::errc::invalid_argument);
  auto many = agent("erin");
  many.max_chats = -1;
  CHECK(add(*s, many).error().code() == core::errc::invalid_argument);
  CHECK(find(*s, "nobody").error().code() == core::errc::not_found);
}

TEST_CASE("agents are disabled, enabled and get new passwords", "[store][agents]") {
  test::temp_dir dir;
  auto s = open_db(dir.file("a.db"));
  REQUIRE(add(*s, agent("alice")).ok());
  const auto disable = [&](const std::string& name, bool d) {
    return wait_done([&](done_callback done) { s->set_agent_disabled(name, d, done); });
  };
  REQUIRE(disable("alice", true).ok());
  CHECK(find(*s, "alice").value().disabled);
  REQUIRE(disable("alice", false).ok());
  CHECK_FALSE(find(*s, "alice").value().disabled);
  CHECK(disable("nobody", true).code() == core::errc::not_found);

  const auto passwd = [&](const std::string& name, const std::string& hash) {
    return wait_done([&](done_callback done) { s->set_agent_password(name, hash, done); });
  };
  REQUIRE(passwd("alice", "pbkdf2-sha256$2000$11$22").ok());
  CHECK(find(*s, "alice").value().password_hash == "pbkdf2-sha256$2000$11$22");
  CHECK(passwd("nobody", "x").code() == core::errc::not_found);
  CHECK(passwd("alice", "").code() == core::errc::invalid_argument);

  // Everything survives a reopen.
  s->close();
  s = open_db(dir.file("a.db"));
  CHECK(find(*s, "alice").value().password_hash == "pbkdf2-sha256$2000$11$22");
}
