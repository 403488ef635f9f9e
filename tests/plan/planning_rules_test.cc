// The planning rules protocol/README.md writes down ("Planning rules"), each
// checked on the planner with a real time zone (Europe/Paris): passed
// reminders, closed dates with and without sending hours, offsets in days
// across daylight-saving changes, the sending-hours edges.
#include <date/date.h>

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/plan/objects_json.h"
#include "server/plan/planner.h"
#include "server/plan/quiet_hours.h"
#include "tests/plan/plan_world.h"

namespace rappel::server::plan {
namespace {

using K = MessageKind;

// The instant of a Paris local time (a skipped time is its transition).
int64_t Paris(int y, unsigned m, unsigned d, int h, int min = 0) {
  static const TenantZone zone("Europe/Paris");
  int64_t day = date::sys_days{date::year{y} / date::month{m} / date::day{d}}.time_since_epoch().count();
  return zone.ToInstant(day * kDayMs + h * kHourMs + min * kMinuteMs, /*earliest=*/true);
}
int64_t Utc(int y, unsigned m, unsigned d, int h, int min = 0) {
  int64_t day = date::sys_days{date::year{y} / date::month{m} / date::day{d}}.time_since_epoch().count();
  return day * kDayMs + h * kHourMs + min * kMinuteMs;
}

// SMS only, no lead time, no e-mail addresses: the timing rules alone.
struct World : PlanWorld {
  World() {
    tenant.channels = ChannelBit(Channel::kSms);
    tenant.min_lead_ms = 0;
    calendar.email.clear();
    patient.email.clear();
  }
  // The tenant as a JSON document would set it (durations as written).
  void Configure(const std::string& json) {
    auto doc = ParseJsonObject(json);
    ASSERT_TRUE(doc.ok()) << doc.status();
    ASSERT_TRUE(FromJson(*doc, &tenant).ok()) << json;
    tenant.channels = ChannelBit(Channel::kSms);
  }
  // Booked (or moved) at `at`, now.
  void Book(int64_t start, int64_t at) {
    appointment.start_ms = start;
    appointment.end_ms = start + 30 * kMinuteMs;
    appointment.booked_at_ms = at;
    appointment.scheduled_at_ms = at;
    now = at;
  }
  PlanResult Run(Event event = Event::kCreated) const { return PlanWorld::Run(event); }
};

std::vector<int64_t> DueOf(const PlanResult& r, MessageKind kind) {
  std::vector<int64_t> out;
  for (const PlannedMessage& m : r.messages) {
    if (m.kind == kind) out.push_back(m.due_ms);
  }
  return out;
}
std::optional<std::string> OmittedWhy(const PlanResult& r, MessageKind kind) {
  for (const Omission& o : r.omitted) {
    if (o.kind == kind && !o.channel) return o.reason;  // not a channel left out
  }
  return std::nullopt;
}

// --- offsets in days and in hours across daylight-saving changes ---------

TEST(OffsetsAcrossDst, DaysKeepTheLocalTimeHoursAreExactDurations) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["1d", "48h"],
      "post_visit_delay": "1d"})");
  EXPECT_EQ(w.tenant.reminder_offsets_in_days, 1u);  // only the first one
  EXPECT_TRUE(w.tenant.post_visit_delay_in_days);
  // Spring forward (Sunday 29 March 2026, 02:00 -> 03:00): an appointment on
  // Monday 30 March at 10:00.
  w.Book(Paris(2026, 3, 30, 10), Paris(2026, 3, 20, 9));
  PlanResult r = w.Run();
  // 1d: Sunday 10:00 (24 h, both sides CEST); 48h: Saturday 09:00 local
  // (an exact 48 h, and Saturday is still CET).
  EXPECT_EQ(DueOf(r, K::kReminder),
            (std::vector<int64_t>{Paris(2026, 3, 28, 9), Paris(2026, 3, 29, 10)}));
  EXPECT_EQ(Paris(2026, 3, 30, 10) - Paris(2026, 3, 28, 9), 48 * kHourMs);

  // An appointment on the Sunday itself at 10:00: 1d is Saturday 10:00 CET,
  // 23 h before.
  w.Book(Paris(2026, 3, 29, 10), Paris(2026, 3, 20, 9));
  r = w.Run();
  EXPECT_EQ(DueOf(r, K::kReminder)[1], Paris(2026, 3, 28, 10));
  EXPECT_EQ(Paris(2026, 3, 29, 10) - Paris(2026, 3, 28, 10), 23 * kHourMs);
  EXPECT_EQ(Paris(2026, 3, 28, 10), Utc(2026, 3, 28, 9));

  // Fall back (Sunday 25 October 2026, 03:00 -> 02:00): Sunday 10:00 CET;
  // 1d is Saturday 10:00 CEST, 25 h before; 48h is Friday 11:00 local.
  w.Book(Paris(2026, 10, 25, 10), Paris(2026, 10, 20, 9));
  r = w.Run();
  EXPECT_EQ(DueOf(r, K::kReminder),
            (std::vector<int64_t>{Paris(2026, 10, 23, 11), Paris(2026, 10, 24, 10)}));
  EXPECT_EQ(Paris(2026, 10, 25, 10) - Paris(2026, 10, 24, 10), 25 * kHourMs);

  // After the visit, in days: the same local time the next day (Saturday
  // 18:00 CET -> Sunday 18:00 CEST, 23 h later).
  w.Book(Paris(2026, 3, 28, 17, 30), Paris(2026, 3, 20, 9));
  r = w.Run();
  EXPECT_EQ(DueOf(r, K::kPostVisit), (std::vector<int64_t>{Paris(2026, 3, 29, 18)}));
}

TEST(OffsetsAcrossDst, ADayOffsetIntoTheSkippedHourIsTheTransition) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["1d"]})");
  // Monday 30 March 02:30: Sunday 02:30 does not exist; 03:00 CEST (01:00 UTC).
  w.Book(Paris(2026, 3, 30, 2, 30), Paris(2026, 3, 20, 9));
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Utc(2026, 3, 29, 1)}));
  // Monday 26 October 02:30: Sunday 02:30 happens twice; the first (CEST, 00:30 UTC).
  w.Book(Paris(2026, 10, 26, 2, 30), Paris(2026, 10, 20, 9));
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Utc(2026, 10, 25, 0, 30)}));
}

TEST(OffsetsAcrossDst, DaysRoundTripThroughTheDocumentAndOthersStayDurations) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["2d", "36h", "3d"],
      "pre_visit_offset": "3d", "second_reminder_offset": "2h", "post_visit_delay": "1d"})");
  nlohmann::json j = ToJson(w.tenant);
  EXPECT_EQ(j["reminder_offsets"], (nlohmann::json{"2d", "36h", "3d"}));
  EXPECT_EQ(j["pre_visit_offset"], "3d");
  EXPECT_EQ(j["second_reminder_offset"], "2h");
  EXPECT_EQ(j["post_visit_delay"], "1d");
  Tenant again;
  ASSERT_TRUE(FromJson(j, &again).ok());
  EXPECT_EQ(again.reminder_offsets_ms, w.tenant.reminder_offsets_ms);
  EXPECT_EQ(again.reminder_offsets_in_days, 0b101u);
  // "24h" and "1d" are one offset twice; "1d12h" is not a day offset.
  Tenant t;
  auto twice = ParseJsonObject(R"({"reminder_offsets": ["24h", "1d"]})");
  EXPECT_FALSE(FromJson(*twice, &t).ok());
  EXPECT_FALSE(IsWholeDays("1d12h"));
  EXPECT_FALSE(IsWholeDays("d"));
  EXPECT_TRUE(IsWholeDays("14d"));
  EXPECT_EQ(*ParseDurationMs("14d"), 14 * kDayMs);
  // The type's offsets, in days too.
  AppointmentType type;
  auto doc = ParseJsonObject(R"({"reminder_offsets": ["1d", "2h"], "recall_interval": "180d"})");
  ASSERT_TRUE(FromJson(*doc, &type).ok());
  EXPECT_EQ(type.reminder_offsets_in_days, 1u);
  EXPECT_TRUE(type.recall_interval_in_days);
  EXPECT_EQ(ToJson(type)["recall_interval"], "180d");
}

// --- reminders already due when booked or moved ---------------------------

TEST(PassedReminders, NotSentWithSendingHoursAtBooking) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["48h", "24h"],
      "sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"], "wed": ["08:00-19:00"], "thu": ["08:00-19:00"], "fri": ["08:00-19:00"], "sat": ["08:00-19:00"], "sun": ["08:00-19:00"]}})");
  // Booked Monday 21:00 for Wednesday 20:00: 48 h before (Monday 20:00) has
  // passed; the sending hours do not turn it into Tuesday 08:00. 24 h
  // before (Tuesday 20:00) goes at the next opening, Wednesday 08:00.
  w.Book(Paris(2026, 6, 3, 20), Paris(2026, 6, 1, 21));
  PlanResult r = w.Run();
  EXPECT_EQ(DueOf(r, K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 3, 8)}));
  auto why = OmittedWhy(r, K::kReminder);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, "due time has passed (48 h before the start)");
  // Planned again later (a confirmation on Tuesday at 07:00), it stays out:
  // it was already due when booked, though its next opening is ahead.
  w.now = Paris(2026, 6, 2, 7);
  r = w.Run(Event::kConfirmed);
  EXPECT_EQ(DueOf(r, K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 3, 8)}));
  EXPECT_EQ(*OmittedWhy(r, K::kReminder),
            "due time has passed (48 h before the start) when the appointment was booked or moved");
  w.now = Paris(2026, 6, 1, 21);
  // Without sending hours, the same.
  w.tenant.quiet_hours = QuietHours{};
  r = w.Run();
  EXPECT_EQ(DueOf(r, K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 2, 20)}));
  EXPECT_EQ(*OmittedWhy(r, K::kReminder), "due time has passed (48 h before the start)");
}

TEST(PassedReminders, NotSentAfterAMoveButKeptAtALaterReplan) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["48h"],
      "pre_visit_offset": "48h", "second_reminder": "everybody", "second_reminder_offset": "48h",
      "sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"], "wed": ["08:00-19:00"], "thu": ["08:00-19:00"], "fri": ["08:00-19:00"], "sat": ["08:00-19:00"], "sun": ["08:00-19:00"]}})");
  // Moved on Monday 21:00 to Wednesday 07:30: 48 h before was Monday 07:30.
  w.Book(Paris(2026, 6, 3, 7, 30), Paris(2026, 6, 1, 21));
  w.appointment.booked_at_ms = Paris(2026, 5, 1, 9);
  PlanResult r = w.Run(Event::kModified);
  for (K kind : {K::kReminder, K::kPreVisit, K::kSecondReminder}) {
    EXPECT_TRUE(DueOf(r, kind).empty()) << KindName(kind);
    ASSERT_TRUE(OmittedWhy(r, kind).has_value()) << KindName(kind);
    EXPECT_EQ(*OmittedWhy(r, kind), "due time has passed (48 h before the start)");
  }
  // Booked Sunday 20:00 for Wednesday 07:30: Monday 07:30 is held to 08:00.
  // A re-plan on Monday 07:45 (a confirmation) keeps it: it was ahead when
  // booked, and its sending time is still ahead.
  w.Book(Paris(2026, 6, 3, 7, 30), Paris(2026, 5, 31, 20));
  w.tenant.pre_visit_offset_ms = 0;
  w.tenant.second_reminder = SecondReminderPolicy::kOff;
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 1, 8)}));
  w.now = Paris(2026, 6, 1, 7, 45);
  EXPECT_EQ(DueOf(w.Run(Event::kConfirmed), K::kReminder),
            (std::vector<int64_t>{Paris(2026, 6, 1, 8)}));
}

// --- closed dates ------------------------------------------------------------

TEST(ClosedDates, WithoutSendingHoursAReminderMovesBackToTheSameTime) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["24h", "48h"],
      "closed_dates": ["2026-12-25", "2026-12-26"]})");
  // Sunday 27 December 10:00: 24 h before is the 26th, 48 h the 25th, both
  // closed: each goes at 10:00 on Thursday 24th (one message per offset).
  w.Book(Paris(2026, 12, 27, 10), Paris(2026, 12, 20, 9));
  PlanResult r = w.Run();
  EXPECT_EQ(DueOf(r, K::kReminder),
            (std::vector<int64_t>{Paris(2026, 12, 24, 10), Paris(2026, 12, 24, 10)}));
  // Booked on the 24th at 12:00: 10:00 that day has passed: left out, with
  // the reason (not sent at 00:00 on the 27th as it used to be).
  w.Book(Paris(2026, 12, 27, 10), Paris(2026, 12, 24, 12));
  r = w.Run();
  EXPECT_TRUE(DueOf(r, K::kReminder).empty());
  ASSERT_TRUE(OmittedWhy(r, K::kReminder).has_value());
  EXPECT_EQ(*OmittedWhy(r, K::kReminder),
            "quiet hours: closed date 2026-12-26: the same time on the last open day before has passed");
  // A confirmation due on a closed date goes at the same time the next open day.
  w.Book(Paris(2026, 12, 29, 10), Paris(2026, 12, 25, 14, 20));
  r = w.Run();
  EXPECT_EQ(DueOf(r, K::kConfirmation), (std::vector<int64_t>{Paris(2026, 12, 27, 14, 20)}));
}

TEST(ClosedDates, WithSendingHoursTheNextOpeningBeforeTheStart) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["24h"],
      "sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"], "wed": ["08:00-19:00"], "thu": ["08:00-19:00"], "fri": ["08:00-19:00"], "sat": ["08:00-19:00"]}, "closed_dates": ["2026-12-25"]})");
  // Saturday 26th 10:00: 24 h before is the 25th (closed): Saturday 08:00.
  w.Book(Paris(2026, 12, 26, 10), Paris(2026, 12, 20, 9));
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Paris(2026, 12, 26, 8)}));
  // Saturday 26th 07:30: no opening before the start after the 25th: back
  // to the last minute of the 24th's range, 18:59.
  w.Book(Paris(2026, 12, 26, 7, 30), Paris(2026, 12, 20, 9));
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Paris(2026, 12, 24, 18, 59)}));
}

// --- the sending-hours rules protocol/README.md states -----------------------

TEST(SendingHoursRules, AnEndIsExclusiveAndTheLastAllowedTimeIsItsLastMinute) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["24h"],
      "sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"], "wed": ["08:00-19:00"], "thu": ["08:00-19:00"], "fri": ["08:00-19:00"], "sat": ["08:00-19:00"], "sun": ["08:00-19:00"]}})");
  // Due at 19:00 exactly: outside (the end is exclusive): next day 08:00.
  w.Book(Paris(2026, 6, 4, 19), Paris(2026, 6, 1, 9));
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 4, 8)}));
  // Due at 18:59:59.999: inside, as is.
  w.appointment.start_ms = Paris(2026, 6, 4, 19) - 1;
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 3, 19) - 1}));
  // 12 h before a start at 07:30 is 19:30 the day before; the next opening
  // (08:00) is after the start: moved back to the last allowed time, 18:59.
  w.tenant.reminder_offsets_ms = {12 * kHourMs};
  w.appointment.start_ms = Paris(2026, 6, 4, 7, 30);
  EXPECT_EQ(DueOf(w.Run(), K::kReminder), (std::vector<int64_t>{Paris(2026, 6, 3, 18, 59)}));
}

TEST(SendingHoursRules, TheMinimumLeadTimeCoversTheRemindersOnly) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["1h"], "min_lead": "12h",
      "pre_visit_offset": "30m", "second_reminder": "everybody", "second_reminder_offset": "20m",
      "post_visit_delay": "2h"})");
  w.type.recall_interval_ms = 30 * kDayMs;
  w.Book(Paris(2026, 6, 1, 12), Paris(2026, 6, 1, 9));  // 3 h before
  PlanResult r = w.Run();
  for (K kind : {K::kReminder, K::kPreVisit, K::kSecondReminder}) {
    ASSERT_TRUE(OmittedWhy(r, kind).has_value()) << KindName(kind);
    EXPECT_NE(OmittedWhy(r, kind)->find("minimum lead time"), std::string::npos);
  }
  EXPECT_EQ(DueOf(r, K::kConfirmation).size(), 1u);
  EXPECT_EQ(DueOf(r, K::kPostVisit).size(), 1u);
  EXPECT_EQ(DueOf(r, K::kRecall).size(), 1u);
}

TEST(SendingHoursRules, AfterTheVisitThereIsNoDeadline) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": [], "post_visit_delay": "2h",
      "sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"], "wed": ["08:00-19:00"], "thu": ["08:00-19:00"], "fri": ["08:00-19:00"]}})");
  w.type.recall_interval_ms = 30 * kDayMs;
  // Ends Friday 5 June 18:30: post-visit due 20:30 goes Monday 08:00; the
  // recall (Sunday 5 July 18:30) Monday 6 July 08:00; neither expires.
  w.Book(Paris(2026, 6, 5, 18), Paris(2026, 6, 1, 9));
  PlanResult r = w.Run();
  EXPECT_EQ(DueOf(r, K::kPostVisit), (std::vector<int64_t>{Paris(2026, 6, 8, 8)}));
  EXPECT_EQ(DueOf(r, K::kRecall), (std::vector<int64_t>{Paris(2026, 7, 6, 8)}));
  for (const PlannedMessage& m : r.messages) {
    if (m.kind == K::kPostVisit || m.kind == K::kRecall) EXPECT_EQ(m.expiry_ms, 0);
  }
}

TEST(SendingHoursRules, RangesInsideASkippedOrRepeatedHour) {
  QuietHours q;
  q.enabled = true;
  const TenantZone zone("Europe/Paris");
  // Sunday 29 March 2026 (02:00 -> 03:00): 01:30-02:30 is 01:30-03:00 local,
  // 30 minutes; 02:00-03:00 is empty, so a message due in it goes on.
  q.allowed[0] = {TimeRange{90, 150}, TimeRange{600, 660}};
  Placement p = Place(q, zone, Paris(2026, 3, 29, 1, 0), 0, 0);
  EXPECT_EQ(p.at_ms, Paris(2026, 3, 29, 1, 30));
  EXPECT_EQ(Place(q, zone, Paris(2026, 3, 29, 3, 0) - 1, 0, 0).kind, Placement::Kind::kAsIs);
  EXPECT_EQ(Place(q, zone, Paris(2026, 3, 29, 3, 0), 0, 0).at_ms, Paris(2026, 3, 29, 10));
  q.allowed[0] = {TimeRange{120, 180}, TimeRange{600, 660}};
  EXPECT_EQ(Place(q, zone, Utc(2026, 3, 29, 0, 59), 0, 0).at_ms, Paris(2026, 3, 29, 10));
  // Sunday 25 October 2026 (03:00 -> 02:00): 01:00-02:30 ends at the second
  // 02:30 (the last one), so it lasts 2 h 30; 02:30-04:00 starts at the first.
  q.allowed[0] = {TimeRange{60, 150}};
  EXPECT_EQ(Place(q, zone, Utc(2026, 10, 25, 1, 29), 0, 0).kind, Placement::Kind::kAsIs);
  EXPECT_NE(Place(q, zone, Utc(2026, 10, 25, 1, 30), 0, 0).kind, Placement::Kind::kAsIs);
  q.allowed[0] = {TimeRange{150, 240}};
  EXPECT_EQ(Place(q, zone, Utc(2026, 10, 25, 0, 30), 0, 0).kind, Placement::Kind::kAsIs);
  EXPECT_EQ(Place(q, zone, Utc(2026, 10, 25, 0, 29), 0, 0).at_ms, Utc(2026, 10, 25, 0, 30));
}

TEST(SendingHoursRules, OmissionsBeforeAChannelIsChosenHaveNoChannel) {
  World w;
  w.Configure(R"({"time_zone": "Europe/Paris", "reminder_offsets": ["48h"]})");
  w.Book(Paris(2026, 6, 2, 10), Paris(2026, 6, 1, 12));
  PlanResult r = w.Run();
  bool seen = false;
  for (const Omission& o : r.omitted) {
    if (o.kind == K::kReminder) {
      EXPECT_FALSE(o.channel.has_value());  // shown as channel "*"
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace rappel::server::plan
