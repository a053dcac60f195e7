#include "bot/core/clock.hpp"

#include <catch2/catch.hpp>

using namespace bot::core;

TEST_CASE("iso8601 formatting in UTC with milliseconds") {
  CHECK(format_iso8601_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_iso8601_ms(1'795'000'000'123) == "2026-11-18T11:06:40.123Z");
  CHECK(format_iso8601_ms(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("manual clock moves only when told") {
  manual_clock c(1000);
  CHECK(c.now_ms() == 1000);
  c.advance_ms(250);
  CHECK(c.now_ms() == 1250);
  CHECK(c.steady_ns() == 250'000'000);
}

TEST_CASE("system clock is near the present and monotonic") {
  const auto& c = system_clock::instance();
  CHECK(c.now_ms() > 1'700'000'000'000);
  const auto a = c.steady_ns();
  const auto b = c.steady_ns();
  CHECK(b >= a);
}
