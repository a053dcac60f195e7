// Agent sessions and the failed-login throttle, on a clock we set.
#include "bot/handoff/sessions.hpp"

#include <catch2/catch.hpp>

using namespace bot::handoff;

namespace {
agent_session session_for(const std::string& name, std::int64_t expires_ms) {
  agent_session s;
  s.name = name;
  s.expires_ms = expires_ms;
  return s;
}
}  // namespace

TEST_CASE("a session is found by its token until it expires") {
  session_table t;
  const auto token = t.create(session_for("alice", 10000), 0);
  CHECK(token.size() == 32);
  CHECK(t.find(token, 9999)->name == "alice");
  CHECK_FALSE(t.find("not-a-token", 0));
  CHECK_FALSE(t.find(token, 10000));  // expired, and dropped
  CHECK(t.size() == 0);
}

TEST_CASE("sessions end one by one or all of an agent's at once") {
  session_table t;
  const auto a1 = t.create(session_for("alice", 10000), 0);
  const auto a2 = t.create(session_for("alice", 10000), 0);
  const auto b = t.create(session_for("bob", 10000), 0);
  CHECK(a1 != a2);
  CHECK(t.erase(a1));
  CHECK_FALSE(t.erase(a1));
  CHECK(t.erase_agent("alice") == 1);
  CHECK_FALSE(t.find(a2, 0));
  CHECK(t.find(b, 0));
}

TEST_CASE("the table is bounded: expired sessions go first, then the oldest") {
  session_table t(2);
  const auto old = t.create(session_for("a", 100), 0);
  const auto live = t.create(session_for("b", 5000), 0);
  const auto fresh = t.create(session_for("c", 6000), 200);  // `old` expired at 100
  CHECK(t.size() == 2);
  CHECK_FALSE(t.find(old, 200));
  const auto newest = t.create(session_for("d", 7000), 300);  // none expired: `live` ends first
  CHECK(t.size() == 2);
  CHECK_FALSE(t.find(live, 300));
  CHECK(t.find(fresh, 300));
  CHECK(t.find(newest, 300));
}

TEST_CASE("failed logins are limited per name and address over a sliding minute") {
  login_throttle th(3);
  for (int i = 0; i < 3; ++i) {
    CHECK(th.allowed("alice", "10.0.0.1", i * 1000));
    th.failed("alice", "10.0.0.1", i * 1000);
  }
  int retry = 0;
  CHECK_FALSE(th.allowed("alice", "10.0.0.1", 3000, &retry));
  CHECK(retry == 57);  // the first failure leaves the window at 60 s
  // Another name, or the same name from another address, is not affected.
  CHECK(th.allowed("bob", "10.0.0.1", 3000));
  CHECK(th.allowed("alice", "10.0.0.2", 3000));
  // A minute after the first failure, one more attempt is allowed.
  CHECK(th.allowed("alice", "10.0.0.1", 60001));
  th.failed("alice", "10.0.0.1", 60001);
  CHECK_FALSE(th.allowed("alice", "10.0.0.1", 60002));
  // A success forgets the failures.
  th.succeeded("alice", "10.0.0.1");
  CHECK(th.allowed("alice", "10.0.0.1", 60003));
}

TEST_CASE("the throttle's memory is bounded") {
  login_throttle th(1, 100);
  for (int i = 0; i < 1000; ++i) th.failed("user" + std::to_string(i), "ip", 0);
  // Still limiting the most recent ones, never growing without bound.
  CHECK_FALSE(th.allowed("user999", "ip", 1));
}

TEST_CASE("an attempt counts from its start, so simultaneous attempts cannot all pass") {
  login_throttle th(5);
  int passed = 0;
  for (int i = 0; i < 50; ++i) passed += th.try_attempt("alice", "ip", 1000);
  CHECK(passed == 5);
  // A success forgets them: the next attempt passes.
  th.succeeded("alice", "ip");
  CHECK(th.try_attempt("alice", "ip", 1000));
}

TEST_CASE("a new password ends the sessions made with the old one only") {
  session_table t;
  auto old_login = session_for("alice", 10000);
  old_login.credential = "hash-1";
  auto new_login = session_for("alice", 10000);
  new_login.credential = "hash-2";
  const auto a = t.create(old_login, 0);
  const auto b = t.create(new_login, 0);
  CHECK(t.erase_agent("alice", "hash-2") == 1);
  CHECK_FALSE(t.find(a, 1));
  CHECK(t.find(b, 1));
  CHECK(t.erase_agent("alice") == 1);  // disabled: all of them
  CHECK_FALSE(t.find(b, 1));
}
