#include "server/plan/quiet_hours.h"

#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace rappel::server::plan {
namespace {

using Kind = Placement::Kind;

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kAsIs:
      return "kAsIs";
    case Kind::kDeferred:
      return "kDeferred";
    case Kind::kAdvanced:
      return "kAdvanced";
    case Kind::kDropped:
      return "kDropped";
  }
  return "?";
}

// A local wall-clock time; second: the later of two occurrences (fall-back).
// year 0: none.
struct Local {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  bool second = false;
};
constexpr Local kNone{};
Local L(int y, int mo, int d, int h, int mi) { return {y, mo, d, h, mi, false}; }
Local Later(int y, int mo, int d, int h, int mi) { return {y, mo, d, h, mi, true}; }

// Unix ms of a local time in a zone, through date::zoned_time. A time in a
// gap is an error in the test (throws).
int64_t Ms(const std::string& zone, const Local& t) {
  date::local_time<std::chrono::minutes> lt = date::local_days{date::year{t.y} / t.mo / t.d} +
                                              std::chrono::hours{t.h} + std::chrono::minutes{t.mi};
  auto z = date::zoned_time<std::chrono::minutes>(
      zone, lt, t.second ? date::choose::latest : date::choose::earliest);
  if (date::locate_zone(zone)->get_info(lt).result == date::local_info::nonexistent) {
    ADD_FAILURE() << "test time in a gap";
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(z.get_sys_time().time_since_epoch())
      .count();
}

int64_t Utc(int y, int mo, int d, int h, int mi) {
  auto tp =
      date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} + std::chrono::minutes{mi};
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

int32_t Day(int y, int mo, int d) {
  return static_cast<int32_t>(date::sys_days{date::year{y} / mo / d}.time_since_epoch().count());
}

TimeRange R(int h1, int m1, int h2, int m2) { return {h1 * 60 + m1, h2 * 60 + m2}; }

// Setups.
QuietHours Office() {  // Monday to Friday 08:00-20:00, weekend closed
  QuietHours q;
  q.enabled = true;
  for (int d = 1; d <= 5; ++d) q.allowed[d] = {R(8, 0, 20, 0)};
  return q;
}
QuietHours Disabled() {
  QuietHours q = Office();
  q.enabled = false;
  return q;
}
QuietHours Holidays() {
  QuietHours q = Office();
  q.closed_days = {Day(2026, 12, 25), Day(2027, 1, 1)};
  return q;
}
QuietHours Lunch() {  // a lunch break
  QuietHours q;
  q.enabled = true;
  for (int d = 1; d <= 5; ++d) q.allowed[d] = {R(8, 0, 12, 0), R(14, 0, 19, 0)};
  return q;
}
QuietHours Daily() {
  QuietHours q;
  q.enabled = true;
  for (int d = 0; d <= 6; ++d) q.allowed[d] = {R(8, 0, 20, 0)};
  return q;
}
QuietHours Nothing() {
  QuietHours q;
  q.enabled = true;
  return q;
}
QuietHours SundayTwoToThree() {  // the hour that changes, and a morning hour
  QuietHours q;
  q.enabled = true;
  q.allowed[0] = {R(2, 0, 3, 0), R(9, 0, 10, 0)};
  return q;
}
QuietHours SundayHalfGap() {  // ends inside the spring gap of Europe/Paris
  QuietHours q;
  q.enabled = true;
  q.allowed[0] = {R(1, 30, 2, 30), R(9, 0, 10, 0)};
  return q;
}
QuietHours SundayOneToThree() {  // 3 hours on an autumn change in Europe/Paris
  QuietHours q;
  q.enabled = true;
  q.allowed[0] = {R(1, 0, 3, 0)};
  return q;
}
QuietHours SundayToTwoThirty() {  // ends inside the repeated hour of Europe/Paris
  QuietHours q;
  q.enabled = true;
  q.allowed[0] = {R(0, 0, 2, 30)};
  return q;
}
QuietHours SundayTwoToFour() {  // starts inside the spring gap of America/Montreal
  QuietHours q;
  q.enabled = true;
  q.allowed[0] = {R(2, 0, 4, 0)};
  return q;
}

constexpr const char* kParis = "Europe/Paris";
constexpr const char* kMontreal = "America/Montreal";
constexpr const char* kAuckland = "Pacific/Auckland";
constexpr const char* kKolkata = "Asia/Kolkata";

struct Row {
  const char* name;
  const char* zone;
  QuietHours (*setup)();
  Local due;
  Local deadline;  // kNone: no deadline
  Local now;       // kNone: 2026-01-01 00:00 local (well before)
  Kind kind;
  Local at;            // kDropped: unused (at_ms must be 0); kAsIs: must equal due
  const char* reason;  // a substring of the reason; kAsIs: reason must be empty
};

std::ostream& operator<<(std::ostream& os, const Row& r) { return os << r.name; }

const Row kRows[] = {
    // Basics (Paris, ordinary weeks).
    {"allowed_kept", kParis, Office, L(2026, 3, 30, 10, 0), kNone, kNone, Kind::kAsIs,
     L(2026, 3, 30, 10, 0), ""},
    {"start_of_range_allowed", kParis, Office, L(2026, 3, 30, 8, 0), kNone, kNone, Kind::kAsIs,
     L(2026, 3, 30, 8, 0), ""},
    {"last_minute_allowed", kParis, Office, L(2026, 3, 30, 19, 59), kNone, kNone, Kind::kAsIs,
     L(2026, 3, 30, 19, 59), ""},
    {"end_of_range_not_allowed", kParis, Office, L(2026, 3, 30, 20, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 3, 31, 8, 0), "quiet hours: moved to 08:00 on Tue 2026-03-31"},
    {"night_to_next_morning", kParis, Office, L(2026, 3, 30, 23, 30), kNone, kNone, Kind::kDeferred,
     L(2026, 3, 31, 8, 0), "quiet hours: moved to 08:00 on Tue 2026-03-31"},
    {"early_morning_same_day", kParis, Office, L(2026, 3, 31, 6, 0), kNone, kNone, Kind::kDeferred,
     L(2026, 3, 31, 8, 0), "moved to 08:00 on Tue 2026-03-31"},
    {"saturday_evening_to_monday", kParis, Office, L(2026, 4, 4, 19, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 4, 6, 8, 0), "moved to 08:00 on Mon 2026-04-06"},
    {"sunday_to_monday", kParis, Office, L(2026, 4, 5, 12, 0), kNone, kNone, Kind::kDeferred,
     L(2026, 4, 6, 8, 0), "moved to 08:00 on Mon 2026-04-06"},
    {"holiday_eve_skips_holiday_and_weekend", kParis, Holidays, L(2026, 12, 24, 21, 0), kNone,
     kNone, Kind::kDeferred, L(2026, 12, 28, 8, 0), "moved to 08:00 on Mon 2026-12-28"},
    {"due_on_holiday", kParis, Holidays, L(2026, 12, 25, 10, 0), kNone, kNone, Kind::kDeferred,
     L(2026, 12, 28, 8, 0), "moved to 08:00 on Mon 2026-12-28"},
    {"new_year_holiday", kParis, Holidays, L(2026, 12, 31, 20, 30), kNone, kNone, Kind::kDeferred,
     L(2027, 1, 4, 8, 0), "moved to 08:00 on Mon 2027-01-04"},
    {"day_before_holiday_allowed", kParis, Holidays, L(2026, 12, 24, 10, 0), kNone, kNone,
     Kind::kAsIs, L(2026, 12, 24, 10, 0), ""},
    {"lunch_break_to_afternoon", kParis, Lunch, L(2026, 3, 30, 12, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 3, 30, 14, 0), "moved to 14:00 on Mon 2026-03-30"},
    {"lunch_break_end", kParis, Lunch, L(2026, 3, 30, 13, 59), kNone, kNone, Kind::kDeferred,
     L(2026, 3, 30, 14, 0), "moved to 14:00 on Mon 2026-03-30"},
    {"morning_range_kept", kParis, Lunch, L(2026, 3, 30, 11, 59), kNone, kNone, Kind::kAsIs,
     L(2026, 3, 30, 11, 59), ""},
    {"afternoon_range_kept", kParis, Lunch, L(2026, 3, 30, 14, 0), kNone, kNone, Kind::kAsIs,
     L(2026, 3, 30, 14, 0), ""},
    {"after_afternoon_range", kParis, Lunch, L(2026, 3, 30, 19, 0), kNone, kNone, Kind::kDeferred,
     L(2026, 3, 31, 8, 0), "moved to 08:00 on Tue 2026-03-31"},
    {"disabled_night_as_is", kParis, Disabled, L(2026, 3, 30, 3, 0), kNone, kNone, Kind::kAsIs,
     L(2026, 3, 30, 3, 0), ""},
    {"disabled_unknown_zone_as_is", "Mars/Olympus", Disabled, L(2026, 3, 30, 3, 0), kNone, kNone,
     Kind::kAsIs, L(2026, 3, 30, 3, 0), ""},

    // Deadlines.
    {"deadline_after_next_allowed", kParis, Office, L(2026, 4, 4, 10, 0), L(2026, 4, 6, 8, 1),
     kNone, Kind::kDeferred, L(2026, 4, 6, 8, 0), "moved to 08:00 on Mon 2026-04-06"},
    {"deadline_at_next_allowed_advances", kParis, Office, L(2026, 4, 4, 10, 0), L(2026, 4, 6, 8, 0),
     kNone, Kind::kAdvanced, L(2026, 4, 3, 19, 59),
     "quiet hours: moved back to 19:59 on Fri 2026-04-03 (next allowed time is past the "
     "deadline)"},
    {"deadline_before_next_allowed_advances", kParis, Office, L(2026, 4, 4, 10, 0),
     L(2026, 4, 4, 14, 0), L(2026, 4, 3, 9, 0), Kind::kAdvanced, L(2026, 4, 3, 19, 59),
     "moved back to 19:59 on Fri 2026-04-03"},
    {"advanced_just_after_now", kParis, Office, L(2026, 4, 4, 10, 0), L(2026, 4, 4, 14, 0),
     L(2026, 4, 3, 19, 58), Kind::kAdvanced, L(2026, 4, 3, 19, 59),
     "moved back to 19:59 on Fri 2026-04-03"},
    {"advanced_equal_to_now_dropped", kParis, Office, L(2026, 4, 4, 10, 0), L(2026, 4, 4, 14, 0),
     L(2026, 4, 3, 19, 59), Kind::kDropped, kNone,
     "quiet hours: no allowed time before the deadline"},
    {"advanced_in_the_past_dropped", kParis, Office, L(2026, 4, 4, 10, 0), L(2026, 4, 4, 14, 0),
     L(2026, 4, 3, 20, 30), Kind::kDropped, kNone,
     "quiet hours: no allowed time before the deadline"},
    {"lunch_break_advanced_to_morning", kParis, Lunch, L(2026, 3, 30, 12, 30),
     L(2026, 3, 30, 13, 0), L(2026, 3, 30, 9, 0), Kind::kAdvanced, L(2026, 3, 30, 11, 59),
     "moved back to 11:59 on Mon 2026-03-30"},
    {"nothing_allowed_no_deadline", kParis, Nothing, L(2026, 3, 30, 10, 0), kNone, kNone,
     Kind::kDropped, kNone, "quiet hours: no allowed time in the next 400 days"},
    {"nothing_allowed_with_deadline", kParis, Nothing, L(2026, 3, 30, 10, 0), L(2026, 3, 31, 10, 0),
     kNone, Kind::kDropped, kNone, "quiet hours: no allowed time before the deadline"},
    {"unknown_zone_dropped", "Mars/Olympus", Office, L(2026, 3, 30, 10, 0), kNone, kNone,
     Kind::kDropped, kNone, "quiet hours: unknown time zone \"Mars/Olympus\""},

    // Europe/Paris, spring change 2026-03-29 02:00 CET -> 03:00 CEST.
    {"paris_spring_night_to_summer_morning", kParis, Daily, L(2026, 3, 28, 21, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 3, 29, 8, 0), "moved to 08:00 on Sun 2026-03-29"},
    {"paris_spring_missing_hour_skipped", kParis, SundayTwoToThree, L(2026, 3, 29, 1, 0), kNone,
     kNone, Kind::kDeferred, L(2026, 3, 29, 9, 0), "moved to 09:00 on Sun 2026-03-29"},
    {"paris_spring_half_range_before_gap", kParis, SundayHalfGap, L(2026, 3, 29, 1, 45), kNone,
     kNone, Kind::kAsIs, L(2026, 3, 29, 1, 45), ""},
    {"paris_spring_after_gap_not_allowed", kParis, SundayHalfGap, L(2026, 3, 29, 3, 10), kNone,
     kNone, Kind::kDeferred, L(2026, 3, 29, 9, 0), "moved to 09:00 on Sun 2026-03-29"},
    {"paris_spring_advanced_to_before_gap", kParis, SundayHalfGap, L(2026, 3, 29, 3, 10),
     L(2026, 3, 29, 9, 0), L(2026, 3, 28, 12, 0), Kind::kAdvanced, L(2026, 3, 29, 1, 59),
     "moved back to 01:59 on Sun 2026-03-29"},

    // Europe/Paris, autumn change 2026-10-25 03:00 CEST -> 02:00 CET.
    {"paris_autumn_night_to_winter_morning", kParis, Daily, L(2026, 10, 24, 21, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 10, 25, 8, 0), "moved to 08:00 on Sun 2026-10-25"},
    {"paris_autumn_to_start_of_long_range", kParis, SundayOneToThree, L(2026, 10, 25, 0, 59), kNone,
     kNone, Kind::kDeferred, L(2026, 10, 25, 1, 0), "moved to 01:00 on Sun 2026-10-25"},
    {"paris_autumn_first_repeated_hour", kParis, SundayOneToThree, L(2026, 10, 25, 2, 30), kNone,
     kNone, Kind::kAsIs, L(2026, 10, 25, 2, 30), ""},
    {"paris_autumn_second_repeated_hour", kParis, SundayOneToThree, Later(2026, 10, 25, 2, 59),
     kNone, kNone, Kind::kAsIs, Later(2026, 10, 25, 2, 59), ""},
    {"paris_autumn_advanced_to_last_minute", kParis, SundayOneToThree, L(2026, 10, 25, 3, 0),
     L(2026, 10, 25, 12, 0), L(2026, 10, 24, 12, 0), Kind::kAdvanced, Later(2026, 10, 25, 2, 59),
     "moved back to 02:59 on Sun 2026-10-25"},
    {"paris_autumn_repeated_hour_range_first", kParis, SundayTwoToThree, L(2026, 10, 25, 1, 59),
     kNone, kNone, Kind::kDeferred, L(2026, 10, 25, 2, 0), "moved to 02:00 on Sun 2026-10-25"},
    {"paris_autumn_repeated_hour_range_second", kParis, SundayTwoToThree,
     Later(2026, 10, 25, 2, 15), kNone, kNone, Kind::kAsIs, Later(2026, 10, 25, 2, 15), ""},
    // An end inside the repeated hour is its last occurrence: the range
    // covers the whole first occurrence of the hour (documented choice).
    {"paris_autumn_end_in_repeated_hour_second", kParis, SundayToTwoThirty,
     Later(2026, 10, 25, 2, 29), kNone, kNone, Kind::kAsIs, Later(2026, 10, 25, 2, 29), ""},
    {"paris_autumn_end_in_repeated_hour_first", kParis, SundayToTwoThirty, L(2026, 10, 25, 2, 45),
     kNone, kNone, Kind::kAsIs, L(2026, 10, 25, 2, 45), ""},
    {"paris_autumn_after_end_in_repeated_hour", kParis, SundayToTwoThirty,
     Later(2026, 10, 25, 2, 30), L(2026, 10, 25, 12, 0), L(2026, 10, 24, 12, 0), Kind::kAdvanced,
     Later(2026, 10, 25, 2, 29), "moved back to 02:29 on Sun 2026-10-25"},

    // America/Montreal, spring change 2026-03-08 02:00 EST -> 03:00 EDT.
    {"montreal_spring_night_to_summer_morning", kMontreal, Daily, L(2026, 3, 7, 21, 0), kNone,
     kNone, Kind::kDeferred, L(2026, 3, 8, 8, 0), "moved to 08:00 on Sun 2026-03-08"},
    {"montreal_spring_missing_hour_skipped", kMontreal, SundayTwoToThree, L(2026, 3, 8, 1, 0),
     kNone, kNone, Kind::kDeferred, L(2026, 3, 8, 9, 0), "moved to 09:00 on Sun 2026-03-08"},
    {"montreal_spring_range_starts_after_gap", kMontreal, SundayTwoToFour, L(2026, 3, 8, 1, 0),
     kNone, kNone, Kind::kDeferred, L(2026, 3, 8, 3, 0), "moved to 03:00 on Sun 2026-03-08"},
    {"montreal_saturday_to_monday", kMontreal, Office, L(2026, 3, 7, 19, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 3, 9, 8, 0), "moved to 08:00 on Mon 2026-03-09"},

    // Pacific/Auckland, autumn change 2026-04-05 03:00 NZDT -> 02:00 NZST.
    {"auckland_autumn_night_to_winter_morning", kAuckland, Daily, L(2026, 4, 4, 21, 0), kNone,
     kNone, Kind::kDeferred, L(2026, 4, 5, 8, 0), "moved to 08:00 on Sun 2026-04-05"},
    {"auckland_autumn_repeated_hour_range_first", kAuckland, SundayTwoToThree, L(2026, 4, 5, 1, 59),
     kNone, kNone, Kind::kDeferred, L(2026, 4, 5, 2, 0), "moved to 02:00 on Sun 2026-04-05"},
    {"auckland_autumn_repeated_hour_second", kAuckland, SundayTwoToThree, Later(2026, 4, 5, 2, 15),
     kNone, kNone, Kind::kAsIs, Later(2026, 4, 5, 2, 15), ""},
    {"auckland_autumn_after_range_advanced", kAuckland, SundayTwoToThree, L(2026, 4, 5, 3, 0),
     L(2026, 4, 5, 8, 0), L(2026, 4, 4, 12, 0), Kind::kAdvanced, Later(2026, 4, 5, 2, 59),
     "moved back to 02:59 on Sun 2026-04-05"},

    // Asia/Kolkata, UTC+05:30.
    {"kolkata_morning_deferred", kKolkata, Office, L(2026, 3, 30, 7, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 3, 30, 8, 0), "moved to 08:00 on Mon 2026-03-30"},
    {"kolkata_last_minute_allowed", kKolkata, Office, L(2026, 3, 30, 19, 59), kNone, kNone,
     Kind::kAsIs, L(2026, 3, 30, 19, 59), ""},
    {"kolkata_evening_deferred", kKolkata, Office, L(2026, 3, 30, 20, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 3, 31, 8, 0), "moved to 08:00 on Tue 2026-03-31"},
    {"kolkata_friday_night_to_monday", kKolkata, Office, L(2026, 4, 3, 22, 0), kNone, kNone,
     Kind::kDeferred, L(2026, 4, 6, 8, 0), "moved to 08:00 on Mon 2026-04-06"},
};

class PlaceTest : public testing::TestWithParam<Row> {};

TEST_P(PlaceTest, Row) {
  const Row& r = GetParam();
  // Test times are built in the zone; an unknown zone's rows use Paris times.
  std::string zone =
      date::locate_zone(r.zone == std::string("Mars/Olympus") ? kParis : r.zone)->name();
  const QuietHours q = r.setup();
  ASSERT_TRUE(Validate(q).ok()) << Validate(q);
  int64_t due = Ms(zone, r.due);
  int64_t deadline = r.deadline.y == 0 ? 0 : Ms(zone, r.deadline);
  int64_t now = r.now.y == 0 ? Ms(zone, L(2026, 1, 1, 0, 0)) : Ms(zone, r.now);
  Placement p = Place(q, TenantZone(r.zone), due, deadline, now);
  EXPECT_EQ(KindName(p.kind), std::string(KindName(r.kind)));
  if (r.kind == Kind::kDropped) {
    EXPECT_EQ(p.at_ms, 0);
  } else {
    EXPECT_EQ(p.at_ms, Ms(zone, r.at));
  }
  if (r.kind == Kind::kAsIs) {
    EXPECT_EQ(p.at_ms, due);
    EXPECT_EQ(p.reason, "");
  } else {
    EXPECT_NE(p.reason.find(r.reason), std::string::npos)
        << "reason \"" << p.reason << "\" lacks \"" << r.reason << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, PlaceTest, testing::ValuesIn(kRows),
                         [](const testing::TestParamInfo<Row>& info) {
                           return std::string(info.param.name);
                         });

// The test's own clock, against hand-computed UTC, so that Ms cannot be
// wrong the same way as Place.
TEST(QuietHoursHelpers, LocalTimesAreTheExpectedInstants) {
  EXPECT_EQ(Ms(kParis, L(2026, 3, 29, 8, 0)), Utc(2026, 3, 29, 6, 0));    // CEST
  EXPECT_EQ(Ms(kParis, L(2026, 3, 29, 1, 59)), Utc(2026, 3, 29, 0, 59));  // CET
  EXPECT_EQ(Ms(kParis, L(2026, 10, 25, 2, 30)), Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(Ms(kParis, Later(2026, 10, 25, 2, 30)), Utc(2026, 10, 25, 1, 30));
  EXPECT_EQ(Ms(kMontreal, L(2026, 3, 8, 3, 0)), Utc(2026, 3, 8, 7, 0));    // EDT
  EXPECT_EQ(Ms(kAuckland, L(2026, 4, 5, 8, 0)), Utc(2026, 4, 4, 20, 0));   // NZST
  EXPECT_EQ(Ms(kAuckland, L(2026, 4, 5, 2, 0)), Utc(2026, 4, 4, 13, 0));   // NZDT
  EXPECT_EQ(Ms(kKolkata, L(2026, 3, 30, 8, 0)), Utc(2026, 3, 30, 2, 30));  // +05:30
}

// The range 01:00-03:00 on Paris's autumn change covers 3 hours of instants;
// 02:00-03:00 on its spring change none; 01:30-02:30 half an hour.
TEST(Place, DaylightSavingLengths) {
  QuietHours q = SundayOneToThree();
  int64_t start = Utc(2026, 10, 24, 23, 0);  // 01:00 CEST
  EXPECT_EQ(Place(q, TenantZone(kParis), start - 1, 0, 0).kind, Kind::kDeferred);
  EXPECT_EQ(Place(q, TenantZone(kParis), start, 0, 0).kind, Kind::kAsIs);
  EXPECT_EQ(Place(q, TenantZone(kParis), start + 3 * 3'600'000 - 1, 0, 0).kind, Kind::kAsIs);
  EXPECT_EQ(Place(q, TenantZone(kParis), start + 3 * 3'600'000, 0, 0).kind, Kind::kDeferred);

  QuietHours gap = SundayTwoToThree();
  for (int minute = -60; minute < 120; ++minute) {  // 00:00 UTC (01:00 CET) .. 03:00 UTC
    int64_t t = Utc(2026, 3, 29, 1, 0) + minute * 60'000;
    Placement p = Place(gap, TenantZone(kParis), t, 0, 0);
    EXPECT_EQ(p.kind, Kind::kDeferred) << minute;
    EXPECT_EQ(p.at_ms, Utc(2026, 3, 29, 7, 0)) << minute;  // 09:00 CEST
  }

  QuietHours half = SundayHalfGap();
  int64_t half_start = Utc(2026, 3, 29, 0, 30);  // 01:30 CET
  EXPECT_EQ(Place(half, TenantZone(kParis), half_start - 1, 0, 0).kind, Kind::kDeferred);
  EXPECT_EQ(Place(half, TenantZone(kParis), half_start, 0, 0).kind, Kind::kAsIs);
  EXPECT_EQ(Place(half, TenantZone(kParis), half_start + 1'800'000 - 1, 0, 0).kind, Kind::kAsIs);
  EXPECT_EQ(Place(half, TenantZone(kParis), half_start + 1'800'000, 0, 0).kind, Kind::kDeferred);
}

TEST(Place, SubMinuteDueTimes) {
  QuietHours q = Office();
  int64_t eight = Ms(kParis, L(2026, 3, 30, 8, 0));
  Placement before = Place(q, TenantZone(kParis), eight - 1, 0, 0);
  EXPECT_EQ(before.kind, Kind::kDeferred);
  EXPECT_EQ(before.at_ms, eight);
  Placement kept = Place(q, TenantZone(kParis), eight + 12'345, 0, 0);
  EXPECT_EQ(kept.kind, Kind::kAsIs);
  EXPECT_EQ(kept.at_ms, eight + 12'345);
}

// More than 400 days of closed days: nothing found, dropped.
TEST(Place, SearchIsBounded) {
  QuietHours q = Daily();
  int32_t first = Day(2026, 3, 30);
  for (int32_t d = first; d < first + 401; ++d) q.closed_days.push_back(d);
  ASSERT_TRUE(Validate(q).ok());
  Placement p = Place(q, TenantZone(kParis), Ms(kParis, L(2026, 3, 30, 10, 0)), 0, 0);
  EXPECT_EQ(p.kind, Kind::kDropped);
  EXPECT_EQ(p.reason, "quiet hours: no allowed time in the next 400 days");
  // 399 closed days: the day after is found.
  q.closed_days.resize(399);
  p = Place(q, TenantZone(kParis), Ms(kParis, L(2026, 3, 30, 10, 0)), 0, 0);
  EXPECT_EQ(p.kind, Kind::kDeferred);
  int32_t open = first + 399;
  EXPECT_EQ(p.reason, "quiet hours: moved to 08:00 on " +
                          std::string(date::format("%a ", date::sys_days{date::days{open}})) +
                          FormatLocalDate(open));
}

TEST(ParseTimeRange, Good) {
  struct Case {
    const char* text;
    int start, end;
  };
  for (const Case& c : {Case{"08:00-12:30", 480, 750}, Case{"00:00-24:00", 0, 1440},
                        Case{"23:59-24:00", 1439, 1440}, Case{"00:00-00:01", 0, 1}}) {
    absl::StatusOr<TimeRange> r = ParseTimeRange(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status();
    EXPECT_EQ(r->start_minute, c.start) << c.text;
    EXPECT_EQ(r->end_minute, c.end) << c.text;
    EXPECT_EQ(FormatTimeRange(*r), c.text);
  }
}

TEST(ParseTimeRange, Bad) {
  for (const char* text :
       {"", "8:00-12:00", "08:00-12:60", "24:00-24:00", "12:00-08:00", "12:00-12:00",
        "08:00 - 12:00", "08:00-12:00 ", "08h00-12h00", "25:00-26:00", "08:00-24:01", "08:00-12",
        "0a:00-12:00", "08:00_12:00", "-8:00-12:00"}) {
    absl::StatusOr<TimeRange> r = ParseTimeRange(text);
    EXPECT_FALSE(r.ok()) << "\"" << text << "\"";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
      EXPECT_NE(std::string(r.status().message()).find(text), std::string::npos) << r.status();
    }
  }
  EXPECT_NE(
      std::string(ParseTimeRange("12:00-08:00").status().message()).find("start is not before end"),
      std::string::npos);
}

TEST(ParseLocalDate, GoodAndRoundTrip) {
  struct Case {
    const char* text;
    int32_t days;
  };
  for (const Case& c :
       {Case{"1970-01-01", 0}, Case{"1969-12-31", -1}, Case{"2026-12-25", Day(2026, 12, 25)},
        Case{"2028-02-29", Day(2028, 2, 29)}, Case{"2000-02-29", Day(2000, 2, 29)},
        Case{"0001-01-01", Day(1, 1, 1)}, Case{"9999-12-31", Day(9999, 12, 31)}}) {
    absl::StatusOr<int32_t> d = ParseLocalDate(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.days) << c.text;
    EXPECT_EQ(FormatLocalDate(*d), c.text);
  }
  EXPECT_EQ(Day(2026, 12, 25), 20812);  // the helper itself, by hand
}

TEST(ParseLocalDate, Bad) {
  for (const char* text : {"", "2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-12-32",
                           "2026-04-31", "26-12-25", "2026/12/25", "0000-01-01", "2026-1-05",
                           "2026-12-25 ", "2026-12-2x", "+026-12-25"}) {
    absl::StatusOr<int32_t> d = ParseLocalDate(text);
    EXPECT_FALSE(d.ok()) << "\"" << text << "\"";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(Validate, GoodSetups) {
  for (QuietHours (*setup)() :
       {Office, Disabled, Holidays, Lunch, Daily, Nothing, SundayTwoToThree, SundayHalfGap,
        SundayOneToThree, SundayToTwoThirty, SundayTwoToFour}) {
    EXPECT_TRUE(Validate(setup()).ok()) << Validate(setup());
  }
  QuietHours touching;
  touching.allowed[2] = {R(8, 0, 12, 0), R(12, 0, 24, 0)};
  EXPECT_TRUE(Validate(touching).ok()) << Validate(touching);
}

TEST(Validate, Bad) {
  struct Case {
    const char* name;
    QuietHours q;
    const char* message;  // substring
  };
  auto with = [](int weekday, std::vector<TimeRange> ranges) {
    QuietHours q;
    q.enabled = true;
    q.allowed[weekday] = std::move(ranges);
    return q;
  };
  QuietHours unsorted_days = Office();
  unsorted_days.closed_days = {Day(2026, 12, 25), Day(2026, 1, 1)};
  QuietHours duplicate_days = Office();
  duplicate_days.closed_days = {Day(2026, 12, 25), Day(2026, 12, 25)};
  const Case cases[] = {
      {"negative", with(1, {{-1, 60}}), "Monday range 1 (-1-60 min): out of range"},
      {"past_midnight", with(3, {{600, 1441}}), "Wednesday range 1 (600-1441 min): out of range"},
      {"start_is_end", with(0, {{600, 600}}),
       "Sunday range 1 (600-600 min): start is not before end"},
      {"start_after_end", with(6, {{700, 600}}),
       "Saturday range 1 (700-600 min): start is not before end"},
      {"overlap", with(2, {R(8, 0, 12, 0), R(11, 0, 14, 0)}),
       "Tuesday range 2 (660-840 min): overlaps or comes before 08:00-12:00"},
      {"unsorted", with(5, {R(14, 0, 16, 0), R(8, 0, 12, 0)}),
       "Friday range 2 (480-720 min): overlaps or comes before 14:00-16:00"},
      {"closed_days_unsorted", unsorted_days,
       "closed days must be strictly increasing (2026-12-25 then 2026-01-01)"},
      {"closed_days_duplicate", duplicate_days,
       "closed days must be strictly increasing (2026-12-25 then 2026-12-25)"},
  };
  for (const Case& c : cases) {
    absl::Status s = Validate(c.q);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(std::string(s.message()).find(c.message), std::string::npos) << c.name << ": " << s;
  }
}

TEST(Format, TimeRangeAndDate) {
  EXPECT_EQ(FormatTimeRange({0, 1440}), "00:00-24:00");
  EXPECT_EQ(FormatTimeRange({485, 750}), "08:05-12:30");
  EXPECT_EQ(FormatLocalDate(0), "1970-01-01");
  EXPECT_EQ(FormatLocalDate(-1), "1969-12-31");
  EXPECT_EQ(FormatLocalDate(20812), "2026-12-25");
}

}  // namespace
}  // namespace rappel::server::plan
