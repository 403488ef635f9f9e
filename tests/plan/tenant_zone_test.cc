// TenantZone: the worked example of its header, and its local days and day
// ends against date/tz's own zoned conversions over two years of hours in
// zones with and without daylight saving.
#include "server/plan/tenant_zone.h"

#include <date/tz.h>

#include <chrono>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace rappel::server::plan {
namespace {

constexpr int64_t kHourMs = 3'600'000;

int64_t Utc(int y, int mo, int d, int h, int mi = 0) {
  auto t = date::sys_days{date::year{y} / mo / d} + std::chrono::hours(h) + std::chrono::minutes(mi);
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TEST(TenantZoneTest, TheHeadersExample) {
  TenantZone paris("Europe/Paris");
  ASSERT_TRUE(paris.ok());
  EXPECT_EQ(paris.LocalDay(Utc(2026, 3, 29, 1, 30)), 20541);  // 03:30 local, the 29th
  EXPECT_EQ(date::sys_days{date::year{2026} / 3 / 29}.time_since_epoch().count(), 20541);
  // Local 02:30 on the 29th does not exist: the transition, 01:00 UTC.
  EXPECT_EQ(paris.ToInstant(20541 * 24 * kHourMs + 2 * kHourMs + 30 * 60'000, true),
            Utc(2026, 3, 29, 1, 0));
  EXPECT_EQ(paris.EndOfLocalDay(Utc(2026, 3, 29, 1, 30)), Utc(2026, 3, 29, 22, 0));
  // 02:30 on 25 October happens twice: first at 00:30 UTC, then at 01:30.
  int64_t twice = (20541 + 210) * 24 * kHourMs + 2 * kHourMs + 30 * 60'000;
  EXPECT_EQ(paris.ToInstant(twice, true), Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(paris.ToInstant(twice, false), Utc(2026, 10, 25, 1, 30));
}

TEST(TenantZoneTest, AnUnknownZoneIsUnresolvedAndSaysWhy) {
  for (const char* name : {"Mars/Olympus", "", "localtime"}) {
    TenantZone z(name);
    EXPECT_FALSE(z.ok()) << name;
    EXPECT_EQ(z.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(z.name(), name);
  }
  EXPECT_FALSE(TenantZone().ok());
  EXPECT_TRUE(TenantZone("UTC").status().ok());
}

TEST(TenantZoneTest, LocalDaysAndDayEndsAgreeWithDateTz) {
  for (const char* name : {"Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                           "Asia/Kolkata", "Pacific/Chatham", "UTC"}) {
    TenantZone zone(name);
    ASSERT_TRUE(zone.ok()) << name;
    const date::time_zone* tz = date::locate_zone(name);
    for (int64_t at = Utc(2026, 1, 1, 0, 7); at < Utc(2028, 1, 1, 0); at += kHourMs + 60'000) {
      using Ms = std::chrono::milliseconds;
      auto local = tz->to_local(date::sys_time<Ms>(Ms(at)));
      auto day = date::floor<date::days>(local);
      ASSERT_EQ(zone.LocalDay(at), day.time_since_epoch().count()) << name << " " << at;
      auto end = tz->to_sys(day + date::days(1), date::choose::earliest);
      ASSERT_EQ(zone.EndOfLocalDay(at),
                std::chrono::duration_cast<Ms>(end.time_since_epoch()).count())
          << name << " " << at;
      auto t = zone.ToLocal(at);
      ASSERT_TRUE(t.ok());
      date::year_month_day ymd{day};
      ASSERT_EQ(t->day, static_cast<int>(static_cast<unsigned>(ymd.day()))) << name << " " << at;
    }
  }
}

TEST(TenantZoneTest, OffsetsAtEachSideOfTransitionsAskedOutOfOrderAcrossZones) {
  // The offset period kept per zone must never answer for an instant
  // outside it: zones alternate, instants jump back and forth, and each
  // transition is asked at its last millisecond before and its first.
  const char* names[] = {"Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                         "Pacific/Chatham"};
  std::vector<std::pair<const char*, int64_t>> asks;
  for (const char* name : names) {
    const date::time_zone* tz = date::locate_zone(name);
    auto t = date::sys_seconds{std::chrono::seconds{Utc(2026, 1, 1, 0) / 1000}};
    for (int i = 0; i < 6; ++i) {
      date::sys_info info = tz->get_info(t);
      int64_t end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           info.end.time_since_epoch()).count();
      for (int64_t at : {end_ms - 1, end_ms, end_ms - kHourMs, end_ms + 1}) asks.emplace_back(name, at);
      t = info.end;
    }
  }
  // Far from each other first, then interleaved: every lookup moves.
  std::vector<std::pair<const char*, int64_t>> order;
  for (size_t i = 0; i < asks.size(); ++i) {
    order.push_back(asks[(i * 37) % asks.size()]);
  }
  ASSERT_EQ(order.size(), asks.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [name, at] : order) {
      TenantZone zone(name);
      const date::time_zone* tz = date::locate_zone(name);
      using Ms = std::chrono::milliseconds;
      auto info = tz->get_info(date::floor<std::chrono::seconds>(date::sys_time<Ms>(Ms(at))));
      ASSERT_EQ(zone.OffsetMsAt(at), std::chrono::duration_cast<Ms>(info.offset).count())
          << name << " " << at;
      auto local = tz->to_local(date::sys_time<Ms>(Ms(at)));
      ASSERT_EQ(zone.LocalDay(at), date::floor<date::days>(local).time_since_epoch().count())
          << name << " " << at;
    }
  }
}

}  // namespace
}  // namespace rappel::server::plan
