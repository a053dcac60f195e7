#include "bot/handoff/hours.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

namespace bot::handoff {

namespace {

using core::invalid_argument;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::int64_t year_of_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return yoe + era * 400 + (m <= 2);
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int month_days(std::int64_t y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// 0 = Sunday (POSIX rules count weekdays from Sunday).
int weekday_sunday0(std::int64_t days) { return static_cast<int>(((days % 7) + 11) % 7); }

// Local seconds since the epoch at which rule date `w` falls in year `y`.
std::int64_t rule_local_s(std::int64_t y, const time_zone::rule::when& w) {
  const std::int64_t first = days_from_civil(y, w.month, 1);
  int day = 1 + (w.weekday - weekday_sunday0(first) + 7) % 7 + (w.week - 1) * 7;
  while (day > month_days(y, w.month)) day -= 7;
  return (first + day - 1) * 86400 + w.time_s;
}

// A cursor over a POSIX TZ string.
struct rule_reader {
  std::string_view s;
  std::size_t i = 0;
  bool ok = true;

  bool at_end() const { return i >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[i]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
  // A zone abbreviation: letters, or <...> with signs and digits.
  bool name() {
    if (eat('<')) {
      const auto close = s.find('>', i);
      if (close == std::string_view::npos) return ok = false;
      i = close + 1;
      return true;
    }
    const std::size_t from = i;
    while (!at_end() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    if (i - from < 3) return ok = false;
    return true;
  }
  int number(int max) {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      ok = false;
      return 0;
    }
    int v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (s[i++] - '0');
      if (v > max) {
        ok = false;
        return 0;
      }
    }
    return v;
  }
  // [+-]hh[:mm[:ss]] in seconds.
  std::int64_t hms() {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    std::int64_t v = number(167) * 3600;
    if (eat(':')) v += number(59) * 60;
    if (eat(':')) v += number(59);
    return sign * v;
  }
  time_zone::rule::when date() {
    time_zone::rule::when w;
    if (!eat('M')) {  // the Jn and n forms are not used by the tz database
      ok = false;
      return w;
    }
    w.month = number(12);
    if (!eat('.')) ok = false;
    w.week = number(5);
    if (!eat('.')) ok = false;
    w.weekday = number(6);
    if (w.month < 1 || w.week < 1) ok = false;
    if (eat('/')) w.time_s = hms();
    return w;
  }
};

std::optional<time_zone::rule> parse_rule(std::string_view text) {
  rule_reader r{text};
  time_zone::rule out;
  r.name();
  out.std_offset = -r.hms();  // POSIX offsets count west of Greenwich
  if (!r.ok) return std::nullopt;
  if (r.at_end()) return out;
  r.name();
  out.has_dst = true;
  out.dst_offset = out.std_offset + 3600;
  if (r.peek() != ',' && !r.at_end()) out.dst_offset = -r.hms();
  if (!r.eat(',')) return std::nullopt;  // a DST zone without dates
  out.start = r.date();
  if (!r.eat(',')) return std::nullopt;
  out.end = r.date();
  if (!r.ok || !r.at_end()) return std::nullopt;
  return out;
}

std::int64_t offset_by_rule(const time_zone::rule& r, std::int64_t utc_s) {
  if (!r.has_dst) return r.std_offset;
  const std::int64_t year = year_of_days(floor_div(utc_s + r.std_offset, 86400));
  // DST starts at a standard-time wall clock and ends at a DST one.
  const std::int64_t start = rule_local_s(year, r.start) - r.std_offset;
  const std::int64_t end = rule_local_s(year, r.end) - r.dst_offset;
  const bool dst = start < end ? (utc_s >= start && utc_s < end) : (utc_s < end || utc_s >= start);
  return dst ? r.dst_offset : r.std_offset;
}

std::int64_t be(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | p[k];
  if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

}  // namespace

core::result<time_zone> time_zone::from_rule(std::string_view rule_text) {
  auto r = parse_rule(rule_text);
  if (!r) return invalid_argument("'" + std::string(rule_text) + "' is not a POSIX TZ rule");
  time_zone z;
  z.name_ = std::string(rule_text);
  z.initial_offset_ = r->std_offset;
  z.rule_ = *r;
  return z;
}

core::result<time_zone> time_zone::load(std::string_view name, const std::string& zoneinfo_dir) {
  const auto fail = [&](const std::string& why) {
    return invalid_argument("time zone '" + std::string(name) + "': " + why);
  };
  if (name.empty() || name.find("..") != std::string_view::npos || name.front() == '/')
    return fail("not a zone name like Europe/Berlin");
  const std::string path = zoneinfo_dir + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("not found in " + zoneinfo_dir + " (is the tzdata package installed?)");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > (1 << 20)) return fail("file too large");
  const auto* b = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t size = data.size();

  struct counts {
    std::int64_t isut, isstd, leap, time, type, chars;
  };
  const auto header = [&](std::size_t at, counts* c) -> bool {
    if (at + 44 > size || data.compare(at, 4, "TZif") != 0) return false;
    const unsigned char* p = b + at + 20;
    *c = {be(p, 4), be(p + 4, 4), be(p + 8, 4), be(p + 12, 4), be(p + 16, 4), be(p + 20, 4)};
    return c->isut >= 0 && c->isstd >= 0 && c->leap >= 0 && c->time >= 0 && c->type > 0 &&
           c->chars >= 0;
  };
  counts c{};
  if (!header(0, &c)) return fail("not a TZif file");
  const char version = size > 4 ? data[4] : 0;
  std::size_t at = 44;
  int tsize = 4;
  if (version >= '2') {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    at += c.time * 4 + c.time + c.type * 6 + c.chars + c.leap * 8 + c.isstd + c.isut;
    if (!header(at, &c)) return fail("damaged TZif file");
    at += 44;
    tsize = 8;
  }
  const std::size_t block = c.time * tsize + c.time + c.type * 6 + c.chars + c.leap * (tsize + 4) +
                            c.isstd + c.isut;
  if (at + block > size) return fail("truncated TZif file");
  std::vector<std::int64_t> type_offsets(static_cast<std::size_t>(c.type));
  const unsigned char* types = b + at + c.time * tsize + c.time;
  for (std::int64_t k = 0; k < c.type; ++k) type_offsets[k] = be(types + k * 6, 4);
  time_zone z;
  z.name_ = std::string(name);
  z.initial_offset_ = type_offsets[0];
  for (std::int64_t k = 0; k < c.time; ++k) {
    const std::size_t idx = b[at + c.time * tsize + k];
    if (idx >= type_offsets.size()) return fail("damaged TZif file");
    z.transitions_.push_back(be(b + at + k * tsize, tsize));
    z.offsets_.push_back(type_offsets[idx]);
  }
  if (!std::is_sorted(z.transitions_.begin(), z.transitions_.end()))
    return fail("damaged TZif file");
  if (version >= '2') {
    // The footer: "\n<POSIX TZ rule>\n", for moments past the last transition.
    const std::size_t from = at + block;
    if (from < size && data[from] == '\n') {
      const auto nl = data.find('\n', from + 1);
      if (nl != std::string::npos && nl > from + 1) z.rule_ = parse_rule(
          std::string_view(data).substr(from + 1, nl - from - 1));
    }
  }
  return z;
}

std::int64_t time_zone::offset_at(std::int64_t utc_s) const {
  if (transitions_.empty() || utc_s >= transitions_.back()) {
    if (rule_) return offset_by_rule(*rule_, utc_s);
    return transitions_.empty() ? initial_offset_ : offsets_.back();
  }
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_s);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<std::size_t>(it - transitions_.begin() - 1)];
}

core::result<business_hours> business_hours::make(const core::hours_config& c) {
  business_hours h;
  h.ranges_ = c.ranges;
  if (h.ranges_.empty()) return h;
  auto z = time_zone::load(c.timezone);
  if (!z.ok()) return invalid_argument("hours.timezone: " + z.error().message());
  h.zone_ = std::move(z.value());
  return h;
}

bool business_hours::open_at(std::int64_t utc_ms) const {
  if (ranges_.empty()) return true;
  const std::int64_t utc_s = floor_div(utc_ms, 1000);
  const std::int64_t local = utc_s + (zone_ ? zone_->offset_at(utc_s) : 0);
  const std::int64_t days = floor_div(local, 86400);
  const int minute = static_cast<int>((local - days * 86400) / 60);
  const int weekday = static_cast<int>(((days % 7) + 10) % 7);  // 1970-01-01 was a Thursday (3)
  return std::any_of(ranges_.begin(), ranges_.end(), [&](const core::weekly_range& r) {
    return r.weekday == weekday && minute >= r.start_min && minute < r.end_min;
  });
}

}  // namespace bot::handoff
