// TimingWheel micro-benchmarks with 10 million resident entries, due times
// spread at random over 7 days (the shape of a busy server's reminders).
//
//   BM_WheelInsert    Allocate + Schedule
//   BM_WheelCancel    Unschedule + Free
//   BM_WheelFire      Advance through time; fired entries per second, the
//                     cascades they need included
//   BM_WheelSlotStep  2 M entries in one slot, drained with a budget of
//                     65 536 units per Advance; max_step_ms is the longest call
//   BM_WheelMemory    MemoryBytes() per entry
//
// Work that keeps the population at 10 M (re-inserting what was cancelled or
// fired) runs with the timer paused, in batches of 4096 so that pausing costs
// nothing measurable.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <vector>

#include "server/wheel/timing_wheel.h"

namespace rappel::server {
namespace {

constexpr uint64_t kStart = 1'700'000'000'000;
constexpr uint64_t kSpanMs = 7ull * 24 * 3600 * 1000;
constexpr size_t kResident = 10'000'000;
constexpr size_t kBatch = 4096;
constexpr size_t kStepBudget = 65'536;

void CheckOk(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "wheel_bench: %s\n", status.ToString().c_str());
    std::abort();
  }
}

// A wheel holding kResident scheduled entries, and those handles in random
// order, so that walking `handles` touches memory at random as the server
// would.
struct Resident {
  Resident() : wheel(kStart) {
    handles.reserve(kResident);
    for (size_t i = 0; i < kResident; ++i) {
      const WheelHandle h = wheel.Allocate();
      CheckOk(wheel.Schedule(h, RandomDue()));
      handles.push_back(h);
    }
    std::shuffle(handles.begin(), handles.end(), rng);
  }

  uint64_t RandomDue() { return wheel.now_ms() + 1 + rng() % kSpanMs; }

  TimingWheel wheel;
  std::mt19937_64 rng{42};
  std::vector<WheelHandle> handles;
  size_t cursor = 0;  // next position of `handles` to cancel
};

// Shared by insert, cancel and memory: each leaves it at 10 M entries.
Resident& SharedResident() {
  static Resident* resident = new Resident();
  return *resident;
}

void BM_WheelInsert(benchmark::State& state) {
  Resident& r = SharedResident();
  std::vector<uint64_t> dues(kBatch);
  std::vector<WheelHandle> inserted(kBatch);
  for (uint64_t& due : dues) due = r.RandomDue();
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      const WheelHandle h = r.wheel.Allocate();
      CheckOk(r.wheel.Schedule(h, dues[i]));
      inserted[i] = h;
    }
    state.PauseTiming();
    // Back to 10 M: cancel as many random residents, which also leaves cold
    // entries on the free list for the next batch to reuse.
    for (size_t i = 0; i < kBatch; ++i) {
      WheelHandle& slot = r.handles[r.cursor];
      r.wheel.Free(slot);
      slot = inserted[i];
      r.cursor = (r.cursor + 1) % r.handles.size();
    }
    for (uint64_t& due : dues) due = r.RandomDue();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["resident"] = static_cast<double>(r.wheel.scheduled());
}

void BM_WheelCancel(benchmark::State& state) {
  Resident& r = SharedResident();
  for (auto _ : state) {
    const size_t begin = r.cursor;
    for (size_t i = 0; i < kBatch; ++i) {
      const WheelHandle h = r.handles[(begin + i) % r.handles.size()];
      r.wheel.Unschedule(h);
      r.wheel.Free(h);
    }
    state.PauseTiming();
    for (size_t i = 0; i < kBatch; ++i) {
      const WheelHandle h = r.wheel.Allocate();
      CheckOk(r.wheel.Schedule(h, r.RandomDue()));
      r.handles[(begin + i) % r.handles.size()] = h;
    }
    r.cursor = (begin + kBatch) % r.handles.size();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["resident"] = static_cast<double>(r.wheel.scheduled());
}

void BM_WheelFire(benchmark::State& state) {
  // Its own wheel: time moves forward here. Fired entries are rescheduled up
  // to 7 days ahead (timer paused), as recurring reminders would be, so the
  // population stays at 10 M.
  static Resident* r = new Resident();
  const uint64_t step_ms = static_cast<uint64_t>(state.range(0));
  std::vector<WheelHandle> fired;
  fired.reserve(kStepBudget);
  size_t total = 0;
  for (auto _ : state) {
    const uint64_t target = r->wheel.now_ms() + step_ms;
    fired.clear();
    while (!r->wheel.Advance(target, kStepBudget, &fired)) {
    }
    total += fired.size();
    state.PauseTiming();
    for (WheelHandle h : fired) CheckOk(r->wheel.Schedule(h, r->RandomDue()));
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(total));
  state.counters["fired_per_step"] =
      static_cast<double>(total) / static_cast<double>(state.iterations());
  state.counters["resident"] = static_cast<double>(r->wheel.scheduled());
}

// Drains 2 M entries from one slot with Advance(budget = 65 536) and records
// the longest single call. range(0) == 0: all due the same millisecond (a
// level-2 slot cascaded twice, then one level-0 slot fired); 1: due times
// spread over one level-3 slot (cascaded through levels 2 and 1).
void BM_WheelSlotStep(benchmark::State& state) {
  constexpr size_t kEntries = 2'000'000;
  constexpr uint64_t kLevel3Width = uint64_t{1} << 18;
  const bool spread = state.range(0) == 1;
  // Wall time is what the caller waits; CPU time leaves out preemption by
  // other processes, which on a shared machine can dominate the maximum.
  double max_step_ms = 0;
  double max_step_cpu_ms = 0;
  size_t fired_total = 0;
  std::mt19937_64 rng(7);
  std::vector<WheelHandle> fired;
  fired.reserve(kStepBudget);
  for (auto _ : state) {
    state.PauseTiming();
    auto wheel = std::make_unique<TimingWheel>(kStart);
    // The level-3 slot after now's (kStart is well inside a level-4 slot).
    const uint64_t slot_start = (kStart / kLevel3Width + 1) * kLevel3Width;
    for (size_t i = 0; i < kEntries; ++i) {
      const WheelHandle h = wheel->Allocate();
      CheckOk(wheel->Schedule(h, spread ? slot_start + rng() % kLevel3Width : kStart + 10'000));
    }
    const uint64_t target = spread ? slot_start + kLevel3Width : kStart + 10'000;
    state.ResumeTiming();
    bool done = false;
    while (!done) {
      fired.clear();
      const auto begin = std::chrono::steady_clock::now();
      const std::clock_t cpu_begin = std::clock();
      done = wheel->Advance(target, kStepBudget, &fired);
      const std::clock_t cpu_end = std::clock();
      const std::chrono::duration<double, std::milli> took =
          std::chrono::steady_clock::now() - begin;
      max_step_ms = std::max(max_step_ms, took.count());
      max_step_cpu_ms =
          std::max(max_step_cpu_ms, 1000.0 * static_cast<double>(cpu_end - cpu_begin) /
                                        static_cast<double>(CLOCKS_PER_SEC));
      fired_total += fired.size();
    }
    state.PauseTiming();
    wheel.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(fired_total));
  state.counters["max_step_ms"] = max_step_ms;
  state.counters["max_step_cpu_ms"] = max_step_cpu_ms;
}

void BM_WheelMemory(benchmark::State& state) {
  Resident& r = SharedResident();
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = r.wheel.MemoryBytes();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["bytes_per_entry"] =
      static_cast<double>(bytes) / static_cast<double>(r.wheel.scheduled());
  state.counters["total_MB"] = static_cast<double>(bytes) / (1 << 20);
}

BENCHMARK(BM_WheelInsert);
BENCHMARK(BM_WheelCancel);
BENCHMARK(BM_WheelFire)->Arg(60'000)->Arg(3'600'000);
BENCHMARK(BM_WheelSlotStep)->Arg(0)->Arg(1)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WheelMemory);

}  // namespace
}  // namespace rappel::server
