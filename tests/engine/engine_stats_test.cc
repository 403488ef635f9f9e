// The engine's operator counters (live by tenant and channel, bytes, due
// soon) follow every kind of change, survive a reopen, and CompactNow
// reclaims the garbage and reports it.
#include <map>

#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::TempDir;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

class EngineStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<EngineHarness>(dir_.Sub("db"));
    ASSERT_TRUE(h_->Open().ok());
  }
  void Reopen() {
    h_->Close();
    ASSERT_TRUE(h_->Open().ok());
  }
  ReminderSpec R(const std::string& key, int64_t due_in, uint32_t tenant, Channel c,
                 std::string payload = "hello") {
    ReminderSpec r = h_->Reminder(key, due_in, std::move(payload), tenant);
    r.channel = c;
    return r;
  }
  std::map<uint32_t, uint64_t> Tenants() {
    std::map<uint32_t, uint64_t> out;
    for (auto [t, n] : h_->engine().TopTenants(100)) out[t.value] = n;
    return out;
  }
  uint64_t DueNextHour() {
    int64_t now = h_->clock.now_ms();
    return h_->engine().DueBetween(now, now + kHour);
  }
  uint64_t DueNextDay() {
    int64_t now = h_->clock.now_ms();
    return h_->engine().DueBetween(now, now + 24 * kHour);
  }
  absl::StatusOr<CompactionResult> CompactNow() {
    absl::StatusOr<CompactionResult> out = absl::UnknownError("not answered");
    bool done = false;
    h_->engine().CompactNow([&](absl::StatusOr<CompactionResult> r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(h_->queue.RunUntil([&] { return done; }));
    return out;
  }
  // What a full recount from the engine's point of view would give.
  void ExpectConsistent() {
    EngineStats s = h_->engine().stats();
    uint64_t by_channel = 0;
    for (int c = 1; c <= kChannelCount; ++c) by_channel += s.live_by_channel[c];
    EXPECT_EQ(by_channel, s.live);
    uint64_t by_tenant = 0;
    for (auto [t, n] : Tenants()) by_tenant += n;
    EXPECT_EQ(by_tenant, s.live);
    EXPECT_EQ(s.tenants, Tenants().size());
    EXPECT_EQ(h_->engine().DueBetween(0, INT64_MAX / 2), s.live);
    EXPECT_LE(s.live_bytes, s.log_bytes);
  }

  TempDir dir_;
  std::unique_ptr<EngineHarness> h_;
};

TEST_F(EngineStatsTest, DueBetweenCountsWholeMinutesInTheRange) {
  // One reminder per minute for three hours, so that an hour's range is
  // shorter than the set of minutes (looked up minute by minute) and a long
  // range longer (the minutes are walked): both ways must agree.
  int64_t base = (h_->clock.now_ms() / kMinute + 2) * kMinute;  // a minute boundary
  for (int i = 0; i < 180; ++i) {
    ReminderSpec r = R("m" + std::to_string(i), 0, 1, Channel::kSms);
    r.due_ms = base + i * kMinute + 30'000;
    ASSERT_TRUE(h_->ScheduleOne(r).ok());
  }
  EngineStats s = h_->engine().stats();
  ASSERT_EQ(s.live, 180u);
  auto& e = h_->engine();
  EXPECT_EQ(e.DueBetween(base, base + kHour), 60u);
  EXPECT_EQ(e.DueBetween(base + 10 * kMinute, base + 20 * kMinute), 10u);
  // A bound inside a minute counts that minute whole (as documented).
  EXPECT_EQ(e.DueBetween(base + 10 * kMinute + 45'000, base + 20 * kMinute + 1), 11u);
  EXPECT_EQ(e.DueBetween(base + kMinute, base + kMinute), 0u);
  EXPECT_EQ(e.DueBetween(base + 2 * kMinute, base + kMinute), 0u);
  EXPECT_EQ(e.DueBetween(base - 24 * kHour, base), 0u);
  EXPECT_EQ(e.DueBetween(base + 179 * kMinute, base + 365 * 24 * kHour), 1u);
  EXPECT_EQ(e.DueBetween(base - kHour, base + 24 * kHour), 180u);
  ExpectConsistent();
}

TEST_F(EngineStatsTest, CountersFollowScheduleReplaceCancelCompleteExpire) {
  ASSERT_TRUE(h_->ScheduleOne(R("a", 30 * kMinute, 1, Channel::kSms)).ok());
  ASSERT_TRUE(h_->ScheduleOne(R("b", 5 * kHour, 2, Channel::kEmail)).ok());
  ASSERT_TRUE(h_->ScheduleOne(R("c", 48 * kHour, 1, Channel::kSms)).ok());
  EngineStats s = h_->engine().stats();
  EXPECT_EQ(s.live_by_channel[static_cast<int>(Channel::kSms)], 2u);
  EXPECT_EQ(s.live_by_channel[static_cast<int>(Channel::kEmail)], 1u);
  EXPECT_EQ(Tenants(), (std::map<uint32_t, uint64_t>{{1, 2}, {2, 1}}));
  EXPECT_EQ(h_->engine().TopTenants(1).size(), 1u);
  EXPECT_EQ(h_->engine().TopTenants(1)[0].first.value, 1u);
  EXPECT_EQ(DueNextHour(), 1u);
  EXPECT_EQ(DueNextDay(), 2u);
  EXPECT_GT(s.live_bytes, 0u);
  EXPECT_EQ(s.live_bytes, s.log_bytes);
  ExpectConsistent();

  // Replaced with another channel and due time: the counts move.
  ASSERT_TRUE(h_->ScheduleOne(R("a", 3 * kHour, 1, Channel::kPush, "longer payload")).ok());
  s = h_->engine().stats();
  EXPECT_EQ(s.live_by_channel[static_cast<int>(Channel::kSms)], 1u);
  EXPECT_EQ(s.live_by_channel[static_cast<int>(Channel::kPush)], 1u);
  EXPECT_EQ(DueNextHour(), 0u);
  EXPECT_EQ(DueNextDay(), 2u);
  EXPECT_GT(s.log_bytes, s.live_bytes);
  ExpectConsistent();

  // Rescheduled into the next hour.
  ASSERT_TRUE(h_->Reschedule({TenantId{1}, "c"}, h_->clock.now_ms() + 10 * kMinute).ok());
  EXPECT_EQ(DueNextHour(), 1u);
  ExpectConsistent();

  // Cancelled: tenant 2 has nothing left.
  ASSERT_TRUE(h_->Cancel({{TenantId{2}, "b"}})[0].ok());
  EXPECT_EQ(Tenants(), (std::map<uint32_t, uint64_t>{{1, 2}}));
  ExpectConsistent();

  // Fired and completed.
  h_->clock.Advance(11 * kMinute);
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  ASSERT_TRUE(h_->Complete({{{TenantId{1}, "c"}, h_->sink.fired[0].seq}}).ok());
  EXPECT_EQ(Tenants(), (std::map<uint32_t, uint64_t>{{1, 1}}));
  ExpectConsistent();

  // Expired at firing time.
  ReminderSpec e = R("e", kMinute, 3, Channel::kVoice);
  e.expiry_ms = e.due_ms + 1;
  ASSERT_TRUE(h_->ScheduleOne(e).ok());
  EXPECT_EQ(Tenants()[3], 1u);
  h_->clock.Advance(2 * kMinute);
  h_->PollNow();
  h_->queue.RunUntil([&] { return h_->engine().idle(); });
  EXPECT_EQ(Tenants().count(3), 0u);
  EXPECT_EQ(h_->engine().stats().live_by_channel[static_cast<int>(Channel::kVoice)], 0u);
  ExpectConsistent();
}

TEST_F(EngineStatsTest, CountersAreRebuiltByRecovery) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(h_->ScheduleOne(R("k" + std::to_string(i), (i + 1) * kMinute * 10, 1 + i % 3,
                                  static_cast<Channel>(1 + i % 4)))
                    .ok());
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(h_->Cancel({{TenantId{static_cast<uint32_t>(1 + i % 3)}, "k" + std::to_string(i)}})[0].ok());
  }
  EngineStats before = h_->engine().stats();
  auto tenants = Tenants();
  uint64_t hour = DueNextHour(), day = DueNextDay();
  Reopen();
  EngineStats after = h_->engine().stats();
  EXPECT_EQ(after.live, before.live);
  for (int c = 1; c <= kChannelCount; ++c) EXPECT_EQ(after.live_by_channel[c], before.live_by_channel[c]);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.log_bytes, before.log_bytes);
  EXPECT_EQ(Tenants(), tenants);
  EXPECT_EQ(DueNextHour(), hour);
  EXPECT_EQ(DueNextDay(), day);
  ExpectConsistent();
}

TEST_F(EngineStatsTest, CompactNowReclaimsAndReports) {
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(h_->ScheduleOne(R("k" + std::to_string(i), kHour + round, 1, Channel::kSms)).ok());
    }
  }
  EngineStats s = h_->engine().stats();
  ASSERT_EQ(s.live, 20u);
  ASSERT_EQ(s.log_records, 100u);
  auto r = CompactNow();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->log_records_before, 100u);
  EXPECT_EQ(r->log_bytes_before, s.log_bytes);
  EXPECT_EQ(r->log_records_after, 20u);
  EXPECT_EQ(r->log_bytes_after, s.live_bytes);
  EXPECT_EQ(r->live, 20u);
  EXPECT_EQ(r->relocated, 20u);
  EXPECT_EQ(h_->engine().stats().store.log_entries, 20u) << "the range is deleted from the store";
  ExpectConsistent();
  // The reminders are intact after the pass and after a reopen.
  Reopen();
  EXPECT_EQ(h_->engine().stats().log_records, 20u);
  auto st = h_->Inspect(1, "k7");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->spec.due_ms, h_->clock.now_ms() + kHour + 4);
  // An empty log: answered at once.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(h_->Cancel({{TenantId{1}, "k" + std::to_string(i)}})[0].ok());
  r = CompactNow();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->log_records_after, 0u);
  EXPECT_EQ(r->log_bytes_after, 0u);
  r = CompactNow();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->log_records_before, 0u);
}

TEST_F(EngineStatsTest, CompactNowWaitsForWritesInFlight) {
  ASSERT_TRUE(h_->ScheduleOne(R("a", kHour, 1, Channel::kSms)).ok());
  bool scheduled = false, compacted = false;
  h_->engine().Schedule({R("a", 2 * kHour, 1, Channel::kSms)}, [&](auto) { scheduled = true; });
  absl::StatusOr<CompactionResult> r;
  h_->engine().CompactNow([&](absl::StatusOr<CompactionResult> res) {
    EXPECT_TRUE(scheduled) << "answered before an earlier write landed";
    r = std::move(res);
    compacted = true;
  });
  ASSERT_TRUE(h_->queue.RunUntil([&] { return compacted; }));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->log_records_after, 1u);
  Reopen();
  EXPECT_EQ(h_->Inspect(1, "a")->spec.due_ms, h_->clock.now_ms() + 2 * kHour);
}

}  // namespace
}  // namespace rappel::server
