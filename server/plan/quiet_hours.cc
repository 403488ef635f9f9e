#include "server/plan/quiet_hours.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>


namespace rappel::server::plan {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int kSearchDays = 400;

constexpr std::array<const char*, 7> kWeekdayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                      "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 7> kWeekdayShort = {"Sun", "Mon", "Tue", "Wed",
                                                      "Thu", "Fri", "Sat"};

// 1970-01-01 was a Thursday.
int WeekdayOf(int64_t day) { return static_cast<int>(((day + 4) % 7 + 7) % 7); }

bool Closed(const QuietHours& q, int64_t day) {
  return std::binary_search(q.closed_days.begin(), q.closed_days.end(), day);
}

struct Interval {
  int64_t start_ms;
  int64_t end_ms;
};

Interval IntervalOf(const TenantZone& zone, int64_t day, const TimeRange& r) {
  int64_t base = day * kDayMs;
  return {zone.ToInstant(base + r.start_minute * kMinuteMs, true),
          zone.ToInstant(base + r.end_minute * kMinuteMs, false)};
}

// "08:00 on Mon 2026-03-30", in the zone.
std::string Describe(const TenantZone& zone, int64_t unix_ms) {
  int64_t local = unix_ms + zone.OffsetMsAt(unix_ms);
  int64_t day = TenantZone::FloorDiv(local, kDayMs);
  int64_t minute = (local - day * kDayMs) / kMinuteMs;
  date::year_month_day ymd{date::sys_days{date::days{day}}};
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%02d:%02d on %s %04d-%02u-%02u",
                        static_cast<int>(minute / 60), static_cast<int>(minute % 60),
                        kWeekdayShort[WeekdayOf(day)], static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return std::string(buf, static_cast<size_t>(n));
}

std::string Hm(int minute) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

bool TwoDigits(std::string_view s, size_t at, int* out) {
  if (at + 2 > s.size()) return false;
  char a = s[at], b = s[at + 1];
  if (a < '0' || a > '9' || b < '0' || b > '9') return false;
  *out = (a - '0') * 10 + (b - '0');
  return true;
}

// "HH:MM" at s[at..at+5): minutes of the day, 0..1440 (24:00 only if allow_24).
bool ParseHm(std::string_view s, size_t at, bool allow_24, int* out) {
  int h = 0, m = 0;
  if (!TwoDigits(s, at, &h) || s[at + 2] != ':' || !TwoDigits(s, at + 3, &m)) return false;
  if (m > 59) return false;
  if (h == 24 && m == 0 && allow_24) {
    *out = 1440;
    return true;
  }
  if (h > 23) return false;
  *out = h * 60 + m;
  return true;
}

// Every weekday open 00:00-24:00: no sending hours, only closed dates.
bool AllDay(const QuietHours& q) {
  for (const std::vector<TimeRange>& ranges : q.allowed) {
    if (ranges.size() != 1 || ranges[0].start_minute != 0 || ranges[0].end_minute != 1440) {
      return false;
    }
  }
  return true;
}

Placement Dropped(std::string reason) {
  Placement p;
  p.kind = Placement::Kind::kDropped;
  p.at_ms = 0;
  p.reason = std::move(reason);
  return p;
}

// Closed dates without sending hours (see Place): the same local time of
// day on another day, so nothing goes at a time the clinic would not send at.
Placement PlaceOnClosedDate(const QuietHours& q, const TenantZone& zone, int64_t due_ms,
                            int64_t due_day, int64_t deadline_ms, int64_t now_ms) {
  const int64_t time_of_day = due_ms + zone.OffsetMsAt(due_ms) - due_day * kDayMs;
  const std::string closed = "closed date " + FormatLocalDate(static_cast<int32_t>(due_day));
  auto same_time_on = [&](int64_t day) {
    return zone.ToInstant(day * kDayMs + time_of_day, /*earliest=*/true);
  };
  auto placed = [&](Placement::Kind kind, int64_t at, const char* verb) {
    Placement p;
    p.kind = kind;
    p.at_ms = at;
    p.reason = "quiet hours: " + closed + ": " + verb + Describe(zone, at);
    return p;
  };
  if (deadline_ms != 0 && due_ms > now_ms) {
    // Before the start: back to the last open day before, if still ahead.
    for (int64_t day = due_day - 1; day >= due_day - kSearchDays; --day) {
      if (Closed(q, day)) continue;
      int64_t at = same_time_on(day);
      if (at > now_ms && at < deadline_ms) return placed(Placement::Kind::kAdvanced, at, "moved back to ");
      break;
    }
    return Dropped("quiet hours: " + closed +
                   ": the same time on the last open day before has passed");
  }
  // Due now (a notice) or after the visit: forward to the next open day.
  for (int64_t day = due_day + 1; day <= due_day + kSearchDays; ++day) {
    if (Closed(q, day)) continue;
    int64_t at = same_time_on(day);
    if (deadline_ms == 0 || at < deadline_ms) return placed(Placement::Kind::kDeferred, at, "moved to ");
    break;
  }
  return Dropped("quiet hours: " + closed + ": no open day before the deadline");
}

}  // namespace

absl::Status Validate(const QuietHours& q) {
  for (int d = 0; d < 7; ++d) {
    const std::vector<TimeRange>& ranges = q.allowed[d];
    for (size_t i = 0; i < ranges.size(); ++i) {
      const TimeRange& r = ranges[i];
      std::string what = std::string("quiet hours: ") + kWeekdayNames[d] + " range " +
                         std::to_string(i + 1) + " (" + std::to_string(r.start_minute) + "-" +
                         std::to_string(r.end_minute) + " min)";
      if (r.start_minute < 0 || r.start_minute > 1440 || r.end_minute < 0 || r.end_minute > 1440) {
        return absl::InvalidArgumentError(what + ": out of range 0..1440 minutes");
      }
      if (r.start_minute >= r.end_minute) {
        return absl::InvalidArgumentError(what + ": start is not before end");
      }
      if (i > 0 && ranges[i - 1].end_minute > r.start_minute) {
        return absl::InvalidArgumentError(what + ": overlaps or comes before " +
                                          FormatTimeRange(ranges[i - 1]) +
                                          " (ranges must be sorted and not overlap)");
      }
    }
  }
  for (size_t i = 1; i < q.closed_days.size(); ++i) {
    if (q.closed_days[i - 1] >= q.closed_days[i]) {
      return absl::InvalidArgumentError("quiet hours: closed days must be strictly increasing (" +
                                        FormatLocalDate(q.closed_days[i - 1]) + " then " +
                                        FormatLocalDate(q.closed_days[i]) + ")");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TimeRange> ParseTimeRange(std::string_view text) {
  TimeRange r;
  if (text.size() != 11 || text[5] != '-' || !ParseHm(text, 0, false, &r.start_minute) ||
      !ParseHm(text, 6, true, &r.end_minute)) {
    return absl::InvalidArgumentError("bad time range \"" + std::string(text) +
                                      "\": expected HH:MM-HH:MM, e.g. 08:00-12:30");
  }
  if (r.start_minute >= r.end_minute) {
    return absl::InvalidArgumentError("bad time range \"" + std::string(text) +
                                      "\": start is not before end");
  }
  return r;
}

absl::StatusOr<int32_t> ParseLocalDate(std::string_view text) {
  int c = 0, y = 0, m = 0, d = 0;
  bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-' && TwoDigits(text, 0, &c) &&
               TwoDigits(text, 2, &y) && TwoDigits(text, 5, &m) && TwoDigits(text, 8, &d);
  date::year_month_day ymd{date::year{c * 100 + y}, date::month{static_cast<unsigned>(m)},
                           date::day{static_cast<unsigned>(d)}};
  if (!shape || c * 100 + y < 1 || !ymd.ok()) {
    return absl::InvalidArgumentError("bad date \"" + std::string(text) +
                                      "\": expected a real date YYYY-MM-DD, e.g. 2026-12-25");
  }
  return static_cast<int32_t>(date::sys_days{ymd}.time_since_epoch().count());
}

std::string FormatTimeRange(const TimeRange& r) {
  return Hm(r.start_minute) + "-" + Hm(r.end_minute);
}

std::string FormatLocalDate(int32_t days) {
  date::year_month_day ymd{date::sys_days{date::days{days}}};
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return std::string(buf, static_cast<size_t>(n));
}

Placement Place(const QuietHours& q, const TenantZone& zone, int64_t due_ms,
                int64_t deadline_ms, int64_t now_ms) {
  Placement p;
  p.at_ms = due_ms;
  if (!q.enabled) return p;
  if (!zone.ok()) return Dropped("quiet hours: unknown time zone \"" + zone.name() + "\"");
  const int64_t due_day = zone.LocalDay(due_ms);
  if (AllDay(q)) {
    if (!Closed(q, due_day)) return p;
    return PlaceOnClosedDate(q, zone, due_ms, due_day, deadline_ms, now_ms);
  }

  // Forward: the first interval ending after due. The day before is looked
  // at too (a range ending at 24:00 before a fall-back at midnight).
  bool found_next = false;
  int64_t next_ms = 0;
  for (int64_t day = due_day - 1; day <= due_day + kSearchDays && !found_next; ++day) {
    const std::vector<TimeRange>& ranges = q.allowed[WeekdayOf(day)];
    if (ranges.empty() || Closed(q, day)) continue;
    for (const TimeRange& r : ranges) {
      Interval iv = IntervalOf(zone, day, r);
      if (iv.start_ms >= iv.end_ms || iv.end_ms <= due_ms) continue;
      if (iv.start_ms <= due_ms) return p;  // allowed: as is
      found_next = true;
      next_ms = iv.start_ms;
      break;
    }
  }
  if (found_next && (deadline_ms == 0 || next_ms < deadline_ms)) {
    p.kind = Placement::Kind::kDeferred;
    p.at_ms = next_ms;
    p.reason = "quiet hours: moved to " + Describe(zone, next_ms);
    return p;
  }

  if (!found_next && deadline_ms == 0) {
    return Dropped("quiet hours: no allowed time in the next 400 days");
  }
  // Backward: the last interval starting before due, not before now's day.
  const int64_t stop_day = std::max(due_day - kSearchDays, zone.LocalDay(now_ms) - 1);
  for (int64_t day = due_day + 1; day >= stop_day; --day) {
    const std::vector<TimeRange>& ranges = q.allowed[WeekdayOf(day)];
    if (ranges.empty() || Closed(q, day)) continue;
    for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
      Interval iv = IntervalOf(zone, day, *it);
      if (iv.start_ms >= iv.end_ms || iv.start_ms >= due_ms) continue;
      int64_t at = std::max(iv.start_ms, std::min(iv.end_ms, due_ms) - kMinuteMs);
      if (at > now_ms && (deadline_ms == 0 || at < deadline_ms)) {
        p.kind = Placement::Kind::kAdvanced;
        p.at_ms = at;
        p.reason = "quiet hours: moved back to " + Describe(zone, at) +
                   (found_next ? " (next allowed time is past the deadline)"
                               : " (no allowed time ahead within 400 days)");
        return p;
      }
      // The latest interval before due is too early: every earlier one is too.
      return Dropped("quiet hours: no allowed time before the deadline");
    }
  }
  return Dropped("quiet hours: no allowed time before the deadline");
}

}  // namespace rappel::server::plan
