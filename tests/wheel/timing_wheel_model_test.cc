// Randomised model test: TimingWheel against a reference that is just a
// sorted set of (due, handle). 4 seeds x 1 000 000 operations mixing
// insert, cancel, reschedule, free, past and out-of-horizon due times, small,
// medium and huge advances, with and without a work budget. After every
// Advance the exact set of fired handles, their order and their due times
// are checked; after every operation the counts and NextExpirationMs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/wheel/timing_wheel.h"

namespace rappel::server {
namespace {

constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();
constexpr uint64_t Pow64(int k) { return uint64_t{1} << (6 * k); }

// A set of handles that can also hand out a random member in O(1).
class HandleSet {
 public:
  void Add(uint32_t h) {
    pos_[h] = items_.size();
    items_.push_back(h);
  }
  void Remove(uint32_t h) {
    auto it = pos_.find(h);
    const size_t i = it->second;
    items_[i] = items_.back();
    pos_[items_[i]] = i;
    items_.pop_back();
    pos_.erase(h);
  }
  bool Contains(uint32_t h) const { return pos_.contains(h); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  uint32_t Random(std::mt19937_64& rng) const { return items_[rng() % items_.size()]; }

 private:
  std::vector<uint32_t> items_;
  std::unordered_map<uint32_t, size_t> pos_;
};

struct ModelConfig {
  uint64_t seed;
  uint64_t start_ms;
  uint64_t horizon_ms;
  int ops;
};

void PrintTo(const ModelConfig& config, std::ostream* os) {
  *os << "{seed " << config.seed << ", start_ms " << config.start_ms << ", horizon_ms "
      << config.horizon_ms << ", ops " << config.ops << "}";
}

class ModelRun {
 public:
  explicit ModelRun(const ModelConfig& config)
      : config_(config), wheel_(config.start_ms, config.horizon_ms), rng_(config.seed) {}

  void Run() {
    for (int op = 0; op < config_.ops && !testing::Test::HasFailure(); ++op) {
      // Alternate phases: in dense ones time only creeps, so the wheel fills
      // up on every level; the next sparse phase's big jumps then cascade
      // and fire thousands at once.
      dense_ = (op / 25'000) % 2 == 1;
      const uint64_t r = rng_() % 100;
      // Keep the population in the thousands so that checks stay cheap.
      if (allocated_.size() > 10000 && r < 50) {
        FreeOne();
      } else if (r < 28) {
        const WheelHandle h = wheel_.Allocate();
        EXPECT_FALSE(allocated_.Contains(h.value)) << "handed out twice";
        allocated_.Add(h.value);
        Schedule(h.value, PickDue());
      } else if (r < 36) {
        if (!scheduled_.empty()) Schedule(scheduled_.Random(rng_), PickDue());
      } else if (r < 44) {
        if (!allocated_.empty()) Schedule(allocated_.Random(rng_), PickDue());
      } else if (r < 50) {
        if (!scheduled_.empty()) {
          const uint32_t h = scheduled_.Random(rng_);
          wheel_.Unschedule(WheelHandle{h});
          Forget(h);
        }
      } else if (r < 56) {
        FreeOne();
      } else if (r < 57) {
        if (rng_() % 8 == 0) Burst();
      } else if (r < 60) {
        if (!allocated_.empty()) {
          const uint32_t h = allocated_.Random(rng_);
          EXPECT_EQ(wheel_.IsScheduled(WheelHandle{h}), scheduled_.Contains(h));
          if (scheduled_.Contains(h)) {
            EXPECT_EQ(wheel_.DueMs(WheelHandle{h}), due_of_[h]);
          }
        }
      } else {
        Advance();
      }
      CheckCounts();
    }
    // Drain everything: nothing may be lost.
    while (!scheduled_.empty() && !testing::Test::HasFailure()) {
      AdvanceTo(wheel_.now_ms() + config_.horizon_ms, kNoLimit);
      CheckCounts();
    }
    EXPECT_GT(fired_, static_cast<size_t>(config_.ops) / 10);
    EXPECT_GT(budget_stops_, static_cast<size_t>(config_.ops) / 1000);
  }

 private:
  uint64_t now() const { return wheel_.now_ms(); }

  uint64_t PickDue() {
    const uint64_t r = rng_() % 100;
    const uint64_t horizon = config_.horizon_ms;
    if (r < 25) return now() + rng_() % 101;
    if (r < 45) return now() + rng_() % (Pow64(3) + 1);
    if (r < 57) return now() + rng_() % (Pow64(6) + 1);
    if (r < 65) return now() + rng_() % (horizon + 1);
    if (r < 72) return now() - rng_() % 10'000;
    if (r < 82) {
      // Around the next multiple of 64^k, where levels change.
      const int k = 1 + static_cast<int>(rng_() % 7);
      return (now() / Pow64(k) + 1) * Pow64(k) + rng_() % 3 - 1;
    }
    if (r < 92) return scheduled_.empty() ? now() + 1 : due_of_[scheduled_.Random(rng_)];
    if (r < 97) return now() + horizon + 1 + rng_() % 1000;  // refused
    return now() + horizon;
  }

  void Schedule(uint32_t h, uint64_t due_ms) {
    const bool in_range = !(due_ms > now() && due_ms - now() > config_.horizon_ms);
    const absl::Status status = wheel_.Schedule(WheelHandle{h}, due_ms);
    EXPECT_EQ(status.ok(), in_range) << status;
    if (!status.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(status)) << status;
      EXPECT_EQ(wheel_.IsScheduled(WheelHandle{h}), scheduled_.Contains(h));
      if (scheduled_.Contains(h)) {
        EXPECT_EQ(wheel_.DueMs(WheelHandle{h}), due_of_[h]);
      }
      return;
    }
    if (scheduled_.Contains(h)) {
      by_due_.erase({due_of_[h], h});
    } else {
      scheduled_.Add(h);
    }
    due_of_[h] = due_ms;
    effective_of_[h] = std::max(due_ms, now());
    by_due_.insert({due_ms, h});
  }

  void Forget(uint32_t h) {
    by_due_.erase({due_of_[h], h});
    scheduled_.Remove(h);
    due_of_.erase(h);
    effective_of_.erase(h);
  }

  // Many entries on one due time: a crowded slot, drained across several
  // budgeted calls.
  void Burst() {
    const uint64_t due = PickDue();
    const int n = 50 + static_cast<int>(rng_() % 400);
    for (int i = 0; i < n; ++i) {
      const WheelHandle h = wheel_.Allocate();
      allocated_.Add(h.value);
      Schedule(h.value, due);
    }
  }

  void FreeOne() {
    if (allocated_.empty()) return;
    const uint32_t h = allocated_.Random(rng_);
    wheel_.Free(WheelHandle{h});
    if (scheduled_.Contains(h)) Forget(h);
    allocated_.Remove(h);
  }

  void Advance() {
    const uint64_t r = rng_() % 100;
    uint64_t target;
    if (r < 50) {
      target = now() + rng_() % 101;
    } else if (r < 75) {
      target = now() + rng_() % (Pow64(3) + 1);
    } else if (r < 85) {
      const std::optional<uint64_t> next = wheel_.NextExpirationMs();
      target = next.has_value() ? *next + rng_() % 3 - 1 : now();
    } else if (r < 91) {
      target = now() + rng_() % (Pow64(6) + 1);
    } else if (r < 93) {
      target = now() + rng_() % (config_.horizon_ms + 1);
    } else if (r < 97) {
      target = now() - rng_() % 100;  // the past: means now
    } else {
      const int k = 1 + static_cast<int>(rng_() % 6);
      target = now() + Pow64(k) + rng_() % 3 - 1;
    }
    if (dense_ && target > now() + Pow64(3)) target = now() + rng_() % Pow64(3);
    const uint64_t b = rng_() % 10;
    const size_t budget = b < 7 ? kNoLimit : b < 9 ? 1 + rng_() % 64 : 1 + rng_() % 4;
    AdvanceTo(target, budget);
  }

  void AdvanceTo(uint64_t target_ms, size_t budget) {
    const uint64_t target = std::max(target_ms, now());
    std::vector<WheelHandle> fired;
    const bool done = wheel_.Advance(target_ms, budget, &fired);
    if (!done) ++budget_stops_;
    EXPECT_LE(fired.size(), budget);
    EXPECT_LE(now(), target);
    for (WheelHandle h : fired) {
      ASSERT_TRUE(scheduled_.Contains(h.value)) << "fired an entry that is not scheduled";
      EXPECT_FALSE(wheel_.IsScheduled(h));
      EXPECT_LE(due_of_[h.value], target) << "fired early";
      // Effective due times (past ones clamped to the now of their Schedule)
      // never go down, across calls too.
      EXPECT_GE(effective_of_[h.value], last_effective_) << "out of order";
      last_effective_ = effective_of_[h.value];
      Forget(h.value);
      ++fired_;
    }
    if (done) {
      EXPECT_EQ(now(), target);
      if (!by_due_.empty()) {
        EXPECT_GT(by_due_.begin()->first, target) << "due but not fired";
      }
    }
  }

  void CheckCounts() {
    ASSERT_EQ(wheel_.scheduled(), scheduled_.size());
    ASSERT_EQ(wheel_.allocated(), allocated_.size());
    const std::optional<uint64_t> next = wheel_.NextExpirationMs();
    ASSERT_EQ(next.has_value(), !by_due_.empty());
    if (next.has_value()) {
      // An entry already past due counts as due now.
      ASSERT_LE(*next, std::max(by_due_.begin()->first, now()));
      ASSERT_GE(*next, now());
    }
  }

  const ModelConfig config_;
  TimingWheel wheel_;
  std::mt19937_64 rng_;
  HandleSet allocated_;
  HandleSet scheduled_;
  std::unordered_map<uint32_t, uint64_t> due_of_;
  std::unordered_map<uint32_t, uint64_t> effective_of_;
  std::set<std::pair<uint64_t, uint32_t>> by_due_;
  uint64_t last_effective_ = 0;
  size_t fired_ = 0;
  bool dense_ = false;
  size_t budget_stops_ = 0;  // Advance calls that ran out of budget
};

class TimingWheelModelTest : public testing::TestWithParam<ModelConfig> {};

TEST_P(TimingWheelModelTest, MatchesReference) { ModelRun(GetParam()).Run(); }

constexpr uint64_t kTurn = uint64_t{1} << 42;  // one turn of the top level

INSTANTIATE_TEST_SUITE_P(
    Seeds, TimingWheelModelTest,
    testing::Values(
        // Unaligned start, default horizon.
        ModelConfig{1, 1'700'000'123'457, TimingWheel::kDefaultHorizonMs, 1'000'000},
        // Start aligned to 64^6.
        ModelConfig{2, 25 * Pow64(6), TimingWheel::kDefaultHorizonMs, 1'000'000},
        // Longest horizon: due times up to 2^41 ahead.
        ModelConfig{3, 1'700'000'123'457, TimingWheel::kMaxHorizonMs, 1'000'000},
        // Close to the end of a top-level turn: exercises the wrap.
        ModelConfig{4, 3 * kTurn - kTurn / 8 - 777, TimingWheel::kMaxHorizonMs, 1'000'000}),
    [](const testing::TestParamInfo<ModelConfig>& info) {
      return "Seed" + std::to_string(info.param.seed);
    });

}  // namespace
}  // namespace rappel::server
