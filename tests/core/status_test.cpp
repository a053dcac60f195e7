#include "bot/core/status.hpp"

#include <catch2/catch.hpp>

#include "bot/core/ids.hpp"

using namespace bot::core;

TEST_CASE("status carries a code and a message") {
  status ok;
  CHECK(ok.ok());
  CHECK(ok.to_string() == "ok");
  status bad = invalid_argument("port: expected an integer");
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == errc::invalid_argument);
  CHECK(bad.to_string() == "invalid_argument: port: expected an integer");
}

TEST_CASE("result holds a value or an error") {
  result<int> v = 42;
  REQUIRE(v.ok());
  CHECK(*v == 42);
  CHECK(v.error().ok());
  result<int> e = not_found("no such conversation");
  CHECK_FALSE(e.ok());
  CHECK(e.error().code() == errc::not_found);
  CHECK(e.error().message() == "no such conversation");
}

TEST_CASE("random ids are hex of the requested size and differ") {
  const std::string a = random_hex(16);
  const std::string b = random_hex(16);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  const std::string c = new_conversation_id();
  CHECK(c.rfind("c_", 0) == 0);
  CHECK(c.size() == 34);
}
