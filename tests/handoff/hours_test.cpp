#include "bot/handoff/hours.hpp"

#include <catch2/catch.hpp>

using bot::handoff::business_hours;
using bot::handoff::time_zone;

namespace {
constexpr std::int64_t h = 3600;

bot::core::hours_config hours(std::string zone, std::vector<std::string> open) {
  bot::core::hours_config c;
  c.timezone = std::move(zone);
  for (const auto& o : open) {
    auto r = bot::core::parse_opening(o);
    REQUIRE(r.ok());
    c.ranges.insert(c.ranges.end(), r->begin(), r->end());
  }
  c.open = std::move(open);
  return c;
}
}  // namespace

// Expected offsets come from `TZ=... date`, independent of this code.
TEST_CASE("time zones come from the tz database, across DST changes", "[hours]") {
  auto utc = time_zone::load("UTC");
  REQUIRE(utc.ok());
  CHECK(utc->offset_at(1768478400) == 0);

  auto berlin = time_zone::load("Europe/Berlin");
  REQUIRE(berlin.ok());
  CHECK(berlin->offset_at(1768478400) == 1 * h);  // 2026-01-15
  CHECK(berlin->offset_at(1784116800) == 2 * h);  // 2026-07-15
  CHECK(berlin->offset_at(1774745999) == 1 * h);  // a second before DST starts
  CHECK(berlin->offset_at(1774746000) == 2 * h);  // 2026-03-29 01:00 UTC
  CHECK(berlin->offset_at(1792889999) == 2 * h);
  CHECK(berlin->offset_at(1792890000) == 1 * h);  // 2026-10-25 01:00 UTC
  CHECK(berlin->offset_at(-618105600) == 1 * h);  // 1950

  // Past the file's last transition the zone's POSIX rule decides.
  auto ny = time_zone::load("America/New_York");
  REQUIRE(ny.ok());
  CHECK(ny->offset_at(2540289600) == -4 * h);  // 2050-07-01
  CHECK(ny->offset_at(2524651200) == -5 * h);  // 2050-01-01
}

TEST_CASE("POSIX TZ rules, northern and southern", "[hours]") {
  auto cet = time_zone::from_rule("CET-1CEST,M3.5.0,M10.5.0/3");
  REQUIRE(cet.ok());
  CHECK(cet->offset_at(1774745999) == 1 * h);
  CHECK(cet->offset_at(1774746000) == 2 * h);
  CHECK(cet->offset_at(1792889999) == 2 * h);
  CHECK(cet->offset_at(1792890000) == 1 * h);
  CHECK(cet->offset_at(2540289600) == 2 * h);

  auto sydney = time_zone::from_rule("AEST-10AEDT,M10.1.0,M4.1.0/3");
  REQUIRE(sydney.ok());
  CHECK(sydney->offset_at(1768478400) == 11 * h);  // January is summer
  CHECK(sydney->offset_at(1784116800) == 10 * h);

  auto fixed = time_zone::from_rule("<+0530>-5:30");
  REQUIRE(fixed.ok());
  CHECK(fixed->offset_at(0) == 5 * h + 30 * 60);

  CHECK_FALSE(time_zone::from_rule("").ok());
  CHECK_FALSE(time_zone::from_rule("CET-1CEST").ok());  // DST without dates
  CHECK_FALSE(time_zone::from_rule("CET-1CEST,M13.5.0,M10.5.0").ok());
  CHECK_FALSE(time_zone::from_rule("X5").ok());
}

TEST_CASE("a zone that does not exist, or a path, is refused with a reason", "[hours]") {
  auto missing = time_zone::load("Mars/Olympus_Mons");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message(), Catch::Contains("Mars/Olympus_Mons"));
  CHECK_FALSE(time_zone::load("../etc/passwd").ok());
  CHECK_FALSE(time_zone::load("/etc/passwd").ok());
  // A file that is not TZif.
  CHECK_FALSE(time_zone::load("zone.tab").ok());
}

TEST_CASE("business hours in the configured zone", "[hours]") {
  auto h1 = business_hours::make(hours("Europe/Berlin", {"mon-fri 09:00-17:00", "sat 10:00-14:00"}));
  REQUIRE(h1.ok());
  CHECK_FALSE(h1->always_open());
  // Wednesday 2026-12-02 (UTC+1 in winter).
  CHECK(h1->open_at(1796200200LL * 1000));        // 08:30 UTC = 09:30 local
  CHECK_FALSE(h1->open_at(1796198340LL * 1000));  // 07:59 UTC = 08:59 local
  CHECK_FALSE(h1->open_at(1796229000LL * 1000));  // 16:30 UTC = 17:30 local
  CHECK(h1->open_at(1796464800LL * 1000));        // Saturday 10:00 UTC = 11:00 local
  CHECK_FALSE(h1->open_at((1796464800LL + 4 * h) * 1000));  // Saturday 15:00 local

  auto always = business_hours::make(hours("Mars/Olympus_Mons", {}));
  REQUIRE(always.ok());  // no ranges: the zone is never read
  CHECK(always->always_open());
  CHECK(always->open_at(0));

  auto bad = business_hours::make(hours("Mars/Olympus_Mons", {"mon 09:00-10:00"}));
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message(), Catch::Contains("hours.timezone"));
}
