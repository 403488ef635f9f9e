// Unit tests of TimingWheel: boundaries at every 64^k ± 1, past and
// out-of-horizon due times, cancel/reschedule/free, budgeted draining of
// huge slots, and Reset for recovery. The randomised model test lives in
// timing_wheel_model_test.cc.
#include "server/wheel/timing_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

namespace rappel::server {
namespace {

constexpr uint64_t kStart = 1'700'000'123'457;  // deliberately not aligned to any 64^k
constexpr uint64_t kDay = 24ull * 3600 * 1000;
constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

constexpr uint64_t Pow64(int k) { return uint64_t{1} << (6 * k); }

// Aligned to 64^6 (and so to every lower power), near today's unix ms.
constexpr uint64_t kAlignedStart = 25 * Pow64(6);

std::vector<WheelHandle> AdvanceAll(TimingWheel& wheel, uint64_t now_ms) {
  std::vector<WheelHandle> fired;
  EXPECT_TRUE(wheel.Advance(now_ms, kNoLimit, &fired));
  return fired;
}

WheelHandle ScheduleNew(TimingWheel& wheel, uint64_t due_ms) {
  const WheelHandle h = wheel.Allocate();
  EXPECT_TRUE(wheel.Schedule(h, due_ms).ok()) << due_ms;
  return h;
}

// Schedules one entry at due_ms on a wheel started at start_ms and checks
// that it fires at due_ms exactly, three ways: jumping straight to due - 1
// then due; stopping at every cascade point NextExpirationMs reports; and
// crawling to due - 1 with a budget of one unit per call.
void ExpectFiresExactlyAt(uint64_t start_ms, uint64_t due_ms,
                          uint64_t horizon_ms = TimingWheel::kDefaultHorizonMs) {
  SCOPED_TRACE(testing::Message() << "start " << start_ms << " due " << due_ms << " (+"
                                  << due_ms - start_ms << ")");
  {
    TimingWheel wheel(start_ms, horizon_ms);
    const WheelHandle h = ScheduleNew(wheel, due_ms);
    EXPECT_LE(wheel.NextExpirationMs().value(), due_ms);
    EXPECT_TRUE(AdvanceAll(wheel, due_ms - 1).empty());
    EXPECT_TRUE(wheel.IsScheduled(h));
    EXPECT_LE(wheel.NextExpirationMs().value(), due_ms);
    EXPECT_EQ(AdvanceAll(wheel, due_ms), std::vector<WheelHandle>{h});
    EXPECT_FALSE(wheel.IsScheduled(h));
    EXPECT_EQ(wheel.scheduled(), 0u);
    EXPECT_FALSE(wheel.NextExpirationMs().has_value());
  }
  {
    TimingWheel wheel(start_ms, horizon_ms);
    const WheelHandle h = ScheduleNew(wheel, due_ms);
    int stops = 0;
    for (;;) {
      const std::optional<uint64_t> next = wheel.NextExpirationMs();
      ASSERT_TRUE(next.has_value());
      ASSERT_LE(*next, due_ms);
      ASSERT_GE(*next, wheel.now_ms());
      if (*next == due_ms) break;
      ASSERT_TRUE(AdvanceAll(wheel, *next).empty());
      ASSERT_LE(++stops, TimingWheel::kLevels) << "more cascades than levels";
    }
    if (due_ms > wheel.now_ms()) {
      EXPECT_TRUE(AdvanceAll(wheel, due_ms - 1).empty());
    }
    EXPECT_EQ(AdvanceAll(wheel, due_ms), std::vector<WheelHandle>{h});
  }
  {
    TimingWheel wheel(start_ms, horizon_ms);
    const WheelHandle h = ScheduleNew(wheel, due_ms);
    std::vector<WheelHandle> fired;
    int calls = 0;
    while (!wheel.Advance(due_ms - 1, 1, &fired)) {
      ASSERT_LE(++calls, TimingWheel::kLevels);
    }
    EXPECT_TRUE(fired.empty());
    while (!wheel.Advance(due_ms, 1, &fired)) {
      ASSERT_LE(++calls, TimingWheel::kLevels);
    }
    EXPECT_EQ(fired, std::vector<WheelHandle>{h});
  }
}

TEST(TimingWheelTest, FiresExactlyAtPowerOf64OffsetsFromUnalignedStart) {
  for (int k = 1; k <= 6; ++k) {
    for (uint64_t offset : {Pow64(k) - 1, Pow64(k), Pow64(k) + 1}) {
      ExpectFiresExactlyAt(kStart, kStart + offset);
    }
  }
}

TEST(TimingWheelTest, FiresExactlyAtPowerOf64OffsetsFromAlignedStart) {
  for (int k = 1; k <= 6; ++k) {
    for (uint64_t offset : {Pow64(k) - 1, Pow64(k), Pow64(k) + 1}) {
      ExpectFiresExactlyAt(kAlignedStart, kAlignedStart + offset);
      ExpectFiresExactlyAt(kAlignedStart - 1, kAlignedStart - 1 + offset);
      ExpectFiresExactlyAt(kAlignedStart + 1, kAlignedStart + 1 + offset);
    }
  }
}

// Due times just around the next multiple of 64^k, where the level of the
// entry changes and where cascades land.
TEST(TimingWheelTest, FiresExactlyAroundAbsolutePowerOf64Boundaries) {
  for (int k = 1; k <= 6; ++k) {
    const uint64_t boundary = (kStart / Pow64(k) + 1) * Pow64(k);
    for (uint64_t due : {boundary - 1, boundary, boundary + 1}) {
      ExpectFiresExactlyAt(kStart, due);
    }
  }
}

TEST(TimingWheelTest, FiresExactlySmallOffsets) {
  for (uint64_t offset = 1; offset <= 130; ++offset) {
    ExpectFiresExactlyAt(kStart, kStart + offset);
  }
}

// The top level wraps: due times in the next turn of level 6 (across a 2^42
// boundary) are only reachable with a long horizon and a start near the end
// of a turn.
TEST(TimingWheelTest, FiresExactlyAcrossTopLevelTurn) {
  const uint64_t turn = uint64_t{1} << 42;
  for (uint64_t start : {3 * turn - 1, 3 * turn - Pow64(6) - 12345, 3 * turn - (turn / 4) - 7}) {
    for (uint64_t due : {3 * turn - 1, 3 * turn, 3 * turn + 1, 3 * turn + Pow64(6) + 1,
                         start + TimingWheel::kMaxHorizonMs}) {
      if (due <= start || due - start > TimingWheel::kMaxHorizonMs) continue;
      ExpectFiresExactlyAt(start, due, TimingWheel::kMaxHorizonMs);
    }
  }
}

TEST(TimingWheelTest, LongestHorizonFiresOnTime) {
  ExpectFiresExactlyAt(kStart, kStart + TimingWheel::kMaxHorizonMs, TimingWheel::kMaxHorizonMs);
  ExpectFiresExactlyAt(kAlignedStart, kAlignedStart + TimingWheel::kMaxHorizonMs,
                       TimingWheel::kMaxHorizonMs);
}

TEST(TimingWheelTest, PastDueFiresAtNextAdvanceInScheduleOrder) {
  TimingWheel wheel(kStart);
  const WheelHandle a = ScheduleNew(wheel, kStart - 5);
  const WheelHandle b = ScheduleNew(wheel, kStart - 10);
  const WheelHandle c = ScheduleNew(wheel, 0);
  const WheelHandle d = ScheduleNew(wheel, kStart);
  const WheelHandle later = ScheduleNew(wheel, kStart + 1);
  EXPECT_EQ(wheel.DueMs(b), kStart - 10);  // not clamped
  EXPECT_EQ(wheel.NextExpirationMs(), kStart);
  // An Advance "into the past" is an Advance to now.
  EXPECT_EQ(AdvanceAll(wheel, kStart - 100), (std::vector<WheelHandle>{a, b, c, d}));
  EXPECT_EQ(wheel.now_ms(), kStart);
  EXPECT_TRUE(wheel.IsScheduled(later));
  EXPECT_EQ(AdvanceAll(wheel, kStart + 1), std::vector<WheelHandle>{later});
}

TEST(TimingWheelTest, BeyondHorizonIsOutOfRangeAndLeavesEntryAlone) {
  TimingWheel wheel(kStart);
  const WheelHandle h = wheel.Allocate();
  const absl::Status status = wheel.Schedule(h, kStart + TimingWheel::kDefaultHorizonMs + 1);
  EXPECT_TRUE(absl::IsOutOfRange(status)) << status;
  EXPECT_NE(status.message().find("horizon"), std::string_view::npos) << status;
  EXPECT_FALSE(wheel.IsScheduled(h));
  EXPECT_EQ(wheel.scheduled(), 0u);

  // A scheduled entry keeps its old due time when a reschedule is refused.
  ASSERT_TRUE(wheel.Schedule(h, kStart + 1000).ok());
  EXPECT_TRUE(absl::IsOutOfRange(wheel.Schedule(h, ~uint64_t{0})));
  EXPECT_TRUE(wheel.IsScheduled(h));
  EXPECT_EQ(wheel.DueMs(h), kStart + 1000);
  EXPECT_EQ(wheel.scheduled(), 1u);
  EXPECT_EQ(AdvanceAll(wheel, kStart + 1000), std::vector<WheelHandle>{h});

  // Exactly the horizon is accepted.
  TimingWheel small(kStart, 1000);
  const WheelHandle g = small.Allocate();
  EXPECT_TRUE(absl::IsOutOfRange(small.Schedule(g, kStart + 1001)));
  EXPECT_TRUE(small.Schedule(g, kStart + 1000).ok());
}

TEST(TimingWheelTest, TwoYearsAcceptedByDefault) {
  const uint64_t two_years = 2 * 366 * kDay;
  ExpectFiresExactlyAt(kStart, kStart + two_years);
  ExpectFiresExactlyAt(kStart, kStart + 9 * 365 * kDay);
}

TEST(TimingWheelTest, UnscheduleStopsFiring) {
  TimingWheel wheel(kStart);
  const WheelHandle a = ScheduleNew(wheel, kStart + 100);
  const WheelHandle b = ScheduleNew(wheel, kStart + 100);
  const WheelHandle c = ScheduleNew(wheel, kStart + 5 * kDay);
  EXPECT_EQ(wheel.scheduled(), 3u);
  wheel.Unschedule(a);
  wheel.Unschedule(a);  // no-op
  wheel.Unschedule(c);
  EXPECT_FALSE(wheel.IsScheduled(a));
  EXPECT_EQ(wheel.scheduled(), 1u);
  EXPECT_EQ(wheel.allocated(), 3u);
  EXPECT_EQ(AdvanceAll(wheel, kStart + 10 * kDay), std::vector<WheelHandle>{b});
  EXPECT_FALSE(wheel.NextExpirationMs().has_value());
}

TEST(TimingWheelTest, RescheduleEarlierAndLater) {
  TimingWheel wheel(kStart);
  const WheelHandle early = ScheduleNew(wheel, kStart + 1'000'000);
  const WheelHandle late = ScheduleNew(wheel, kStart + 500);
  ASSERT_TRUE(wheel.Schedule(early, kStart + 300).ok());
  ASSERT_TRUE(wheel.Schedule(late, kStart + 3 * kDay).ok());
  EXPECT_EQ(wheel.DueMs(early), kStart + 300);
  EXPECT_EQ(wheel.DueMs(late), kStart + 3 * kDay);
  EXPECT_EQ(wheel.scheduled(), 2u);
  EXPECT_TRUE(AdvanceAll(wheel, kStart + 299).empty());
  EXPECT_EQ(AdvanceAll(wheel, kStart + 300), std::vector<WheelHandle>{early});
  EXPECT_TRUE(AdvanceAll(wheel, kStart + 3 * kDay - 1).empty());
  // Rescheduling after a cascade moved the entry down still works.
  ASSERT_TRUE(wheel.Schedule(late, kStart + 3 * kDay + 64).ok());
  EXPECT_TRUE(AdvanceAll(wheel, kStart + 3 * kDay + 63).empty());
  EXPECT_EQ(AdvanceAll(wheel, kStart + 3 * kDay + 64), std::vector<WheelHandle>{late});
  // A fired entry can be scheduled again.
  ASSERT_TRUE(wheel.Schedule(late, kStart + 4 * kDay).ok());
  EXPECT_EQ(AdvanceAll(wheel, kStart + 4 * kDay), std::vector<WheelHandle>{late});
}

TEST(TimingWheelTest, FreeUnschedulesAndHandlesAreReused) {
  TimingWheel wheel(kStart);
  const WheelHandle a = ScheduleNew(wheel, kStart + 10);
  const WheelHandle b = wheel.Allocate();
  EXPECT_NE(a, b);
  EXPECT_EQ(wheel.allocated(), 2u);
  wheel.Free(a);
  EXPECT_EQ(wheel.allocated(), 1u);
  EXPECT_EQ(wheel.scheduled(), 0u);
  const WheelHandle c = wheel.Allocate();
  EXPECT_EQ(c, a);  // reused
  EXPECT_FALSE(wheel.IsScheduled(c));
  EXPECT_TRUE(AdvanceAll(wheel, kStart + 100).empty());
  wheel.Free(b);
  wheel.Free(c);
  EXPECT_EQ(wheel.allocated(), 0u);
  const size_t bytes = wheel.MemoryBytes();
  std::vector<WheelHandle> many;
  for (int i = 0; i < 200'000; ++i) many.push_back(wheel.Allocate());
  for (WheelHandle h : many) wheel.Free(h);
  const size_t grown = wheel.MemoryBytes();
  EXPECT_GT(grown, bytes);
  for (int i = 0; i < 200'000; ++i) wheel.Allocate();
  EXPECT_EQ(wheel.MemoryBytes(), grown);                  // all reused, nothing new
  EXPECT_LE(grown, (200'000u + 2 * 65'536) * 16 + 4096);  // 16 bytes per entry, chunked
}

TEST(TimingWheelTest, NextExpirationNeverLaterThanEarliestDue) {
  TimingWheel wheel(kStart);
  EXPECT_FALSE(wheel.NextExpirationMs().has_value());
  std::mt19937_64 rng(7);
  std::multimap<uint64_t, WheelHandle> dues;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t due = kStart + rng() % (400 * kDay);
    dues.emplace(due, ScheduleNew(wheel, due));
  }
  uint64_t now = kStart;
  while (!dues.empty()) {
    const std::optional<uint64_t> next = wheel.NextExpirationMs();
    ASSERT_TRUE(next.has_value());
    ASSERT_LE(*next, dues.begin()->first);
    ASSERT_GE(*next, wheel.now_ms());
    now = std::max(now, *next) + rng() % 3;
    for (WheelHandle h : AdvanceAll(wheel, now)) {
      auto it = dues.find(wheel.DueMs(h));
      ASSERT_NE(it, dues.end());
      ASSERT_LE(it->first, now);
      dues.erase(it);
    }
    ASSERT_TRUE(dues.empty() || dues.begin()->first > now);
  }
  EXPECT_FALSE(wheel.NextExpirationMs().has_value());
}

// Tracks what a budgeted drain must produce: handle -> effective due time
// (the due time, or now if that was later when it was scheduled).
class Reference {
 public:
  explicit Reference(TimingWheel* wheel) : wheel_(wheel) {}

  WheelHandle Add(uint64_t due_ms) {
    const WheelHandle h = ScheduleNew(*wheel_, due_ms);
    effective_[h.value] = std::max(due_ms, wheel_->now_ms());
    return h;
  }
  void Cancel(WheelHandle h) {
    wheel_->Unschedule(h);
    effective_.erase(h.value);
  }
  bool Contains(WheelHandle h) const { return effective_.contains(h.value); }
  size_t size() const { return effective_.size(); }

  // One Advance call, checked: at most `budget` fired, none early, none
  // unknown, in non-decreasing effective due order across calls.
  bool Advance(uint64_t now_ms, size_t budget) {
    const uint64_t target = std::max(now_ms, wheel_->now_ms());
    std::vector<WheelHandle> fired;
    const bool done = wheel_->Advance(now_ms, budget, &fired);
    EXPECT_LE(fired.size(), budget);
    for (WheelHandle h : fired) {
      auto it = effective_.find(h.value);
      EXPECT_NE(it, effective_.end()) << "fired an entry that is not scheduled";
      if (it == effective_.end()) continue;
      EXPECT_LE(wheel_->DueMs(h), target) << "fired early";
      EXPECT_GE(it->second, last_effective_) << "out of order";
      last_effective_ = it->second;
      effective_.erase(it);
      ++fired_;
    }
    if (done) {
      for (const auto& [handle, effective] : effective_) {
        EXPECT_GT(wheel_->DueMs(WheelHandle{handle}), target) << "due but not fired";
      }
    }
    EXPECT_EQ(wheel_->scheduled(), effective_.size());
    return done;
  }

  size_t fired() const { return fired_; }
  std::vector<WheelHandle> Handles() const {
    std::vector<WheelHandle> out;
    for (const auto& [handle, effective] : effective_) out.push_back(WheelHandle{handle});
    return out;
  }

 private:
  TimingWheel* wheel_;
  std::map<uint32_t, uint64_t> effective_;
  uint64_t last_effective_ = 0;
  size_t fired_ = 0;
};

TEST(TimingWheelTest, HugeSlotSameMillisecondDrainsWithinBudget) {
  constexpr int kEntries = 200'000;
  constexpr size_t kBudget = 1000;
  TimingWheel wheel(kStart);
  Reference ref(&wheel);
  const uint64_t due = kStart + 10'000;
  std::vector<WheelHandle> handles;
  for (int i = 0; i < kEntries; ++i) handles.push_back(ref.Add(due));
  // Getting there cascades all of them twice (level 2, then 1), in steps.
  while (!ref.Advance(due - 1, kBudget)) {
    EXPECT_LE(wheel.NextExpirationMs().value(), due);
  }
  EXPECT_EQ(ref.fired(), 0u);

  std::mt19937_64 rng(1);
  std::vector<WheelHandle> later;
  int calls = 0;
  while (!ref.Advance(due, kBudget)) {
    ++calls;
    EXPECT_EQ(wheel.NextExpirationMs(), wheel.now_ms());
    // Work done between budgeted calls must be honoured: cancels never
    // fire, past-due inserts fire in this drain, later ones do not.
    for (int j = 0; j < 20; ++j) {
      const WheelHandle victim = handles[rng() % handles.size()];
      if (ref.Contains(victim)) ref.Cancel(victim);
    }
    ref.Add(kStart + rng() % 10'000);
    ref.Add(due);
    later.push_back(ref.Add(due + 1 + rng() % 100));
  }
  EXPECT_GE(calls, kEntries / static_cast<int>(kBudget) - 10);
  EXPECT_EQ(ref.size(), later.size());
  for (WheelHandle h : later) EXPECT_TRUE(wheel.IsScheduled(h));
  while (!ref.Advance(due + 200, kBudget)) {
  }
  EXPECT_EQ(ref.size(), 0u);
}

TEST(TimingWheelTest, HugeLevel3SlotCascadesWithinBudget) {
  constexpr int kEntries = 200'000;
  constexpr size_t kBudget = 1000;
  constexpr uint64_t kWidth = Pow64(3);
  TimingWheel wheel(kStart);
  Reference ref(&wheel);
  // The level-3 slot after now's own one; same level-4 slot, so level 3.
  const uint64_t slot_start = (kStart / kWidth + 1) * kWidth;
  ASSERT_EQ(slot_start / Pow64(4), kStart / Pow64(4));
  std::mt19937_64 rng(2);
  std::vector<WheelHandle> handles;
  for (int i = 0; i < kEntries; ++i) handles.push_back(ref.Add(slot_start + rng() % kWidth));
  EXPECT_EQ(wheel.NextExpirationMs(), slot_start);

  // Stop in the middle of the slot, then go to its end, touching the wheel
  // between calls: inserts anywhere in the slot (some before entries not yet
  // cascaded), cancels of entries wherever they are.
  int calls = 0;
  for (uint64_t target : {slot_start, slot_start + kWidth / 3, slot_start + kWidth + 5}) {
    while (!ref.Advance(target, kBudget)) {
      ++calls;
      for (int j = 0; j < 10; ++j) {
        const WheelHandle victim = handles[rng() % handles.size()];
        if (ref.Contains(victim)) ref.Cancel(victim);
      }
      const uint64_t now = wheel.now_ms();
      for (int j = 0; j < 5 && now < slot_start + kWidth; ++j) {
        handles.push_back(ref.Add(now + rng() % (slot_start + kWidth - now)));
      }
      handles.push_back(ref.Add(now - rng() % 1000));
      handles.push_back(ref.Add(now + rng() % 64));
    }
  }
  EXPECT_GE(calls, kEntries / static_cast<int>(kBudget));
  EXPECT_EQ(ref.size(), 0u);
  EXPECT_EQ(wheel.scheduled(), 0u);
}

TEST(TimingWheelTest, ZeroBudgetDoesNoWork) {
  TimingWheel wheel(kStart);
  const WheelHandle h = ScheduleNew(wheel, kStart + 100'000);
  std::vector<WheelHandle> fired;
  EXPECT_TRUE(wheel.Advance(kStart + 10, 0, &fired));  // nothing to do: caught up
  EXPECT_EQ(wheel.now_ms(), kStart + 10);
  EXPECT_FALSE(wheel.Advance(kStart + 100'000, 0, &fired));
  EXPECT_TRUE(fired.empty());
  EXPECT_TRUE(wheel.Advance(kStart + 100'000, kNoLimit, &fired));
  EXPECT_EQ(fired, std::vector<WheelHandle>{h});
}

TEST(TimingWheelTest, ResetThenPastDueFireOldestFirst) {
  // Recovery: entries come back from storage in arbitrary order, some past
  // due. Setting now to the earliest due first makes them fire in due order.
  const uint64_t real_now = kStart + 50 * kDay;
  TimingWheel wheel(kStart);
  EXPECT_TRUE(AdvanceAll(wheel, real_now).empty());
  const std::vector<uint64_t> dues = {real_now - 300,      real_now - 40 * kDay, real_now + 50,
                                      real_now - 5,        real_now - 3 * kDay,  real_now,
                                      real_now - 40 * kDay};
  const uint64_t earliest = *std::min_element(dues.begin(), dues.end());
  wheel.Reset(earliest);
  EXPECT_EQ(wheel.now_ms(), earliest);
  std::vector<WheelHandle> handles;
  for (uint64_t due : dues) handles.push_back(ScheduleNew(wheel, due));
  const std::vector<WheelHandle> fired = AdvanceAll(wheel, real_now);
  ASSERT_EQ(fired.size(), dues.size() - 1);
  for (size_t i = 1; i < fired.size(); ++i) {
    EXPECT_LE(wheel.DueMs(fired[i - 1]), wheel.DueMs(fired[i]));
  }
  EXPECT_TRUE(wheel.IsScheduled(handles[2]));
  EXPECT_EQ(AdvanceAll(wheel, real_now + 50), std::vector<WheelHandle>{handles[2]});
  wheel.Reset(kStart);  // back in time is fine when empty
  EXPECT_EQ(wheel.now_ms(), kStart);
}

TEST(TimingWheelDeathTest, BrokenInvariantsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH({ TimingWheel too_far(kStart, TimingWheel::kMaxHorizonMs + 1); }, "horizon_ms");
  TimingWheel wheel(kStart);
  const WheelHandle h = ScheduleNew(wheel, kStart + 5);
  EXPECT_DEATH(wheel.Reset(kStart), "scheduled_ == 0");
  EXPECT_DEATH(wheel.Schedule(WheelHandle{3}, kStart).IgnoreError(), "check failed");
  EXPECT_DEATH(wheel.IsScheduled(WheelHandle{h.value + 1}), "check failed");
  wheel.Free(h);
  EXPECT_DEATH(wheel.Free(h), "kFree");
  EXPECT_DEATH(wheel.Unschedule(h), "kFree");
}

}  // namespace
}  // namespace rappel::server
