// Business hours (config `hours`, DESIGN §4, §6): whether agents are
// expected to be at work at a given moment, in the configured IANA time
// zone. Outside the hours a visitor handed to a person is told so and
// offered a ticket (leave an email) instead of a wait.
//
// Time zones are read from the system's compiled tz database
// (/usr/share/zoneinfo, Debian's tzdata): the transition table of the TZif
// file, and its POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") for moments past
// the last transition. Nothing here touches the process's TZ or localtime(),
// so several zones can be used at once from any thread.
//
// Thread-safety: both classes are immutable after construction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bot/core/config.hpp"
#include "bot/core/status.hpp"

namespace bot::handoff {

class time_zone {
 public:
  // Reads zone `name` (e.g. "Europe/Berlin", "UTC") from `zoneinfo_dir`.
  static core::result<time_zone> load(std::string_view name,
                                      const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  // Builds a zone from a POSIX TZ rule alone ("EST5EDT,M3.2.0,M11.1.0").
  static core::result<time_zone> from_rule(std::string_view rule);

  // Seconds east of UTC at UTC time `utc_s`.
  std::int64_t offset_at(std::int64_t utc_s) const;
  const std::string& name() const { return name_; }

  // A parsed POSIX TZ rule; public for the tests.
  struct rule {
    std::int64_t std_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    std::int64_t dst_offset = 0;
    // Mm.w.d: month 1-12, week 1-5 (5 = last), weekday 0 = Sunday; time in
    // seconds after local midnight (may be negative or past 24 h).
    struct when {
      int month = 0, week = 0, weekday = 0;
      std::int64_t time_s = 7200;
    };
    when start, end;
  };

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // UTC seconds, ascending
  std::vector<std::int64_t> offsets_;      // offset in force from transitions_[i]
  std::int64_t initial_offset_ = 0;        // before the first transition
  std::optional<rule> rule_;               // after the last transition
};

class business_hours {
 public:
  // Always open.
  business_hours() = default;
  // Fails when the time zone cannot be read.
  static core::result<business_hours> make(const core::hours_config& c);

  bool always_open() const { return ranges_.empty(); }
  // Whether `utc_ms` falls in an opening range (in the zone's local time).
  bool open_at(std::int64_t utc_ms) const;

 private:
  std::optional<time_zone> zone_;
  std::vector<core::weekly_range> ranges_;
};

}  // namespace bot::handoff
