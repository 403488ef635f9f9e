// Quiet hours: a tenant's allowed sending hours per weekday in its own time
// zone, public holidays closed, and where a message due at some instant is
// actually sent.
//
// The allowed set, in instants: on each local day D (not closed), each range
// [start, end) of D's weekday becomes the interval
//   [first instant whose local time is D+start, last instant whose local time is D+end)
// i.e. an endpoint inside a daylight-saving gap maps to the transition (so a
// range 02:00-03:00 on a spring-forward day is empty, 01:30-02:30 lasts 30
// minutes), and an ambiguous start takes its first occurrence, an ambiguous
// end its last (so 01:00-03:00 on a fall-back day lasts 3 hours; a range
// with an endpoint inside the repeated hour covers the whole repetition).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/plan/tenant_zone.h"

namespace rappel::server::plan {

// [start, end) minutes of the local day, 0 <= start < end <= 1440.
struct TimeRange {
  int start_minute = 0;
  int end_minute = 0;
};

// Allowed sending hours of a tenant, in its local time.
struct QuietHours {
  bool enabled = false;  // false: every time is allowed
  std::array<std::vector<TimeRange>, 7>
      allowed;                       // by local weekday, 0 = Sunday; sorted, non-overlapping
  std::vector<int32_t> closed_days;  // local dates, days since 1970-01-01, strictly increasing:
                                     // nothing allowed that day (public holidays)
};

// InvalidArgument naming the problem: a range out of 0..1440 or with
// start >= end, ranges of a day unsorted or overlapping (touching is fine),
// closed days not strictly increasing.
absl::Status Validate(const QuietHours& q);

// "08:00-12:30": two-digit hours and minutes; "24:00" only as an end.
absl::StatusOr<TimeRange> ParseTimeRange(std::string_view text);
// "2026-12-25" -> days since 1970-01-01; a real date, years 0001-9999.
absl::StatusOr<int32_t> ParseLocalDate(std::string_view text);
// "08:00-12:30" (an end of 1440 is "24:00").
std::string FormatTimeRange(const TimeRange& r);
// "2026-12-25".
std::string FormatLocalDate(int32_t days);

struct Placement {
  enum class Kind { kAsIs, kDeferred, kAdvanced, kDropped } kind = Kind::kAsIs;
  int64_t at_ms = 0;   // when to send (kAsIs: the due time; kDropped: 0)
  std::string reason;  // empty for kAsIs; else readable English starting "quiet hours: "
};

// Where a message due at due_ms goes:
// - kAsIs if quiet hours are disabled or due_ms is in an allowed interval;
// - with closed dates but no sending hours (every weekday 00:00-24:00), a
//   message due on a closed date keeps its local time of day: before the
//   start (a deadline, due after now_ms), kAdvanced to that time on the
//   last open day before, if after now_ms, else kDropped; due now (a notice)
//   or without a deadline (after the visit), kDeferred to that time on the
//   next open day if before the deadline, else kDropped. A local time the
//   day skips is its transition. Reasons: "quiet hours: closed date
//   2026-12-25: moved back to 10:00 on Thu 2026-12-24", "quiet hours: closed
//   date 2026-12-25: the same time on the last open day before has passed";
// - else kDeferred to the start of the next allowed interval, if there is one
//   within 400 days and it is before deadline_ms (0: no deadline);
// - else kAdvanced to the start of the last minute of the latest allowed
//   interval before due_ms (end - 1 min, not before the interval's start), if
//   that is after now_ms (and before the deadline); the search goes back at
//   most 400 days and never before now_ms's local day. Without a deadline
//   and with nothing allowed in the next 400 days: kDropped;
// - else kDropped (at_ms 0). An unknown time zone (with quiet hours enabled)
//   drops too, with the reason saying so.
// Reasons: "quiet hours: moved to 08:00 on Mon 2026-03-30",
// "quiet hours: moved back to 19:59 on Fri 2026-03-27 (next allowed time is past the deadline)",
// "quiet hours: no allowed time before the deadline",
// "quiet hours: no allowed time in the next 400 days",
// "quiet hours: unknown time zone \"Mars/Olympus\"".
// Zone lookups are cached per thread; no allocation when the result is kAsIs.
// q is assumed valid (Validate).
Placement Place(const QuietHours& q, const TenantZone& zone, int64_t due_ms,
                int64_t deadline_ms, int64_t now_ms);

}  // namespace rappel::server::plan
