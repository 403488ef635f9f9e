// Whole-engine benchmarks on a real store (fsync on): durable schedule
// throughput by batch size, recovery of millions of pending reminders,
// memory per pending reminder, and the log size under steady churn.
//
// The store lives in $RAPPEL_BENCH_DIR (default /tmp); put it on the disk
// you want to measure, not on tmpfs.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "server/engine/engine.h"
#include "tests/testing/task_queue.h"

namespace rappel::server {
namespace {

using rappel::testing::TaskQueue;

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kWeekMs = 7ll * 24 * 3600 * 1000;

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("RAPPEL_BENCH_DIR");
  std::string dir = std::string(base != nullptr ? base : "/tmp") + "/rappel-bench-" + name;
  return dir;
}

class NullSink : public DueSink {
 public:
  void OnDue(std::vector<DueRef> batch) override { due.insert(due.end(), batch.begin(), batch.end()); }
  std::vector<DueRef> due;
};

// Reads a field such as "RssAnon:" from /proc/self/status, in bytes.
int64_t ProcStatusBytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + field.size()) * 1024;
  }
  return -1;
}

struct Fixture {
  explicit Fixture(const std::string& dir, int64_t now_ms = kStartMs) : now(now_ms) {
    EngineOptions options;
    options.store.path = dir;
    options.clock = [this] { return now; };
    auto e = Engine::Open(options, queue.Poster());
    if (!e.ok()) {
      std::fprintf(stderr, "open failed: %s\n", std::string(e.status().message()).c_str());
      std::abort();
    }
    engine = std::move(*e);
  }
  ~Fixture() {
    queue.RunUntil([&] { return engine->idle(); });
    engine.reset();
    queue.RunPending();
  }
  int64_t now;
  TaskQueue queue;
  NullSink sink;
  std::unique_ptr<Engine> engine;
};

ReminderSpec MakeReminder(uint64_t i, std::mt19937_64& rng, const std::string& payload) {
  ReminderSpec r;
  r.tenant = TenantId{static_cast<uint32_t>(i % 100)};
  r.key = "appt-" + std::to_string(i) + "/reminder-24h";
  r.channel = Channel::kSms;
  r.recipient = "+336" + std::to_string(10'000'000 + i % 90'000'000);
  r.due_ms = kStartMs + 60'000 + static_cast<int64_t>(rng() % kWeekMs);
  r.payload = payload;
  return r;
}

// Schedules `count` reminders in batches of `batch`, keeping up to
// `inflight` requests pipelined. Returns the number acknowledged.
uint64_t ScheduleMany(Fixture& f, uint64_t first, uint64_t count, size_t batch, size_t inflight) {
  std::mt19937_64 rng(first);
  std::string payload(200, 'p');
  uint64_t acked = 0;
  size_t outstanding = 0;
  uint64_t next = first;
  while (next < first + count || outstanding > 0) {
    while (next < first + count && outstanding < inflight) {
      std::vector<ReminderSpec> specs;
      specs.reserve(batch);
      for (size_t i = 0; i < batch && next < first + count; ++i) {
        specs.push_back(MakeReminder(next++, rng, payload));
      }
      ++outstanding;
      f.engine->Schedule(std::move(specs), [&](auto results) {
        --outstanding;
        for (auto& r : results) acked += r.ok() ? 1 : 0;
      });
    }
    if (next < first + count) {
      f.queue.RunUntil([&] { return outstanding < inflight; });
    } else {
      f.queue.RunUntil([&] { return outstanding == 0; });
    }
  }
  return acked;
}

// Durable schedule through the engine, fsync on. Args: reminders per
// request, requests in flight.
void BM_EngineDurableSchedule(benchmark::State& state) {
  size_t batch = static_cast<size_t>(state.range(0));
  size_t inflight = static_cast<size_t>(state.range(1));
  uint64_t per_iteration = batch == 1 && inflight == 1 ? 2'000 : 1'000'000;
  std::string dir = BenchDir("schedule");
  std::filesystem::remove_all(dir);
  Fixture f(dir);
  uint64_t total = 0;
  for (auto _ : state) {
    total += ScheduleMany(f, total, per_iteration, batch, inflight);
  }
  state.SetItemsProcessed(static_cast<int64_t>(total));
  StoreStats s = f.engine->stats().store;
  state.counters["commits"] = static_cast<double>(s.commits);
  state.counters["reminders_per_commit"] =
      s.commits == 0 ? 0 : static_cast<double>(s.records_appended) / static_cast<double>(s.commits);
}
BENCHMARK(BM_EngineDurableSchedule)
    ->Args({1, 1})
    ->Args({100, 64})
    ->Args({1000, 16})
    ->Args({1000, 64})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

// Builds a store with `count` pending reminders (once; reused if present).
void EnsurePopulated(const std::string& dir, uint64_t count) {
  std::string marker = dir + "/populated-" + std::to_string(count);
  if (std::filesystem::exists(marker)) return;
  std::filesystem::remove_all(dir);
  {
    Fixture f(dir);
    ScheduleMany(f, 0, count, 1000, 64);
  }
  std::ofstream(marker) << count;
}

void DropFromPageCache(const std::string& file) {
  int fd = open(file.c_str(), O_RDONLY);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

// Recovery: open a store with N pending reminders and rebuild the wheel and
// index. Args: N (millions), cold (1: data file dropped from the page cache
// before each open).
void BM_EngineRecovery(benchmark::State& state) {
  uint64_t count = static_cast<uint64_t>(state.range(0)) * 1'000'000;
  bool cold = state.range(1) != 0;
  std::string dir = BenchDir("recovery-" + std::to_string(state.range(0)) + "m");
  EnsurePopulated(dir, count);
  if (!cold) {  // warm the page cache by reading the file, not by opening it
    std::ifstream in(dir + "/data.mdb", std::ios::binary);
    std::vector<char> buf(1 << 20);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size()))) {
    }
  }
  int64_t anon_growth = 0;
  EngineStats stats;
  for (auto _ : state) {
    state.PauseTiming();
    if (cold) DropFromPageCache(dir + "/data.mdb");
    int64_t anon_before = ProcStatusBytes("RssAnon:");
    state.ResumeTiming();
    Fixture f(dir, kStartMs);
    state.PauseTiming();
    stats = f.engine->stats();
    anon_growth = ProcStatusBytes("RssAnon:") - anon_before;
    state.ResumeTiming();
  }
  state.counters["pending"] = static_cast<double>(stats.live);
  state.counters["recovery_ms"] = static_cast<double>(stats.recovery_ms);
  state.counters["scan_ms"] = static_cast<double>(stats.recovery_scan_ms);
  state.counters["rss_anon_bytes_per_pending"] =
      static_cast<double>(anon_growth) / static_cast<double>(stats.live);
  state.counters["engine_bytes_per_pending"] =
      static_cast<double>(stats.memory_bytes) / static_cast<double>(stats.live);
}
BENCHMARK(BM_EngineRecovery)
    ->Args({1, 0})
    ->Args({10, 0})
    ->Args({10, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

// Steady insert-and-fire: a constant pending population; every simulated
// second some reminders fall due, are fired and completed, and as many new
// ones are scheduled. Reports the largest log / live ratio seen once the
// log has turned over several times.
void BM_EngineSteadyChurnLogSize(benchmark::State& state) {
  const uint64_t kLive = static_cast<uint64_t>(state.range(0));
  const uint64_t kRounds = 200;
  std::string dir = BenchDir("churn");
  std::filesystem::remove_all(dir);
  double max_ratio = 0;
  double max_bytes_ratio = 0;
  uint64_t fired = 0;
  for (auto _ : state) {
    Fixture f(dir);
    ScheduleMany(f, 0, kLive, 1000, 16);  // due over the next week
    std::mt19937_64 rng(1);
    std::string payload(200, 'p');
    uint64_t next = kLive;
    const int64_t step_ms = kWeekMs / 50;  // 2% of the population falls due each round
    for (uint64_t round = 0; round < kRounds; ++round) {
      f.now += step_ms;
      while (!f.engine->Poll(f.now, f.sink, 1 << 16)) {
      }
      std::vector<CompletionRef> done;
      {
        std::optional<Store::Reader> reader;
        DueReminder d;
        for (const DueRef& ref : f.sink.due) {
          if (f.engine->ReadDue(ref, &reader, &d).ok()) done.push_back(CompletionRef::Of(d));
        }
      }
      fired += done.size();
      uint64_t replace = done.size();
      f.sink.due.clear();
      bool completed = false;
      f.engine->Complete(std::move(done), [&](absl::Status) { completed = true; });
      f.queue.RunUntil([&] { return completed; });
      std::vector<ReminderSpec> specs;
      for (uint64_t i = 0; i < replace; ++i) {
        ReminderSpec r = MakeReminder(next++, rng, payload);
        r.due_ms = f.now + 60'000 + static_cast<int64_t>(rng() % kWeekMs);
        specs.push_back(std::move(r));
      }
      bool scheduled = false;
      f.engine->Schedule(std::move(specs), [&](auto) { scheduled = true; });
      f.queue.RunUntil([&] { return scheduled; });
      f.queue.RunUntil([&] { return f.engine->idle(); });
      EngineStats s = f.engine->stats();
      if (round > kRounds / 4) {
        max_ratio = std::max(max_ratio, static_cast<double>(s.log_records) / static_cast<double>(s.live));
        // Bytes: pages in use against live reminders at their encoded size.
        double live_bytes = static_cast<double>(s.live) * (kRecordOverheadBytes + 30 + 12 + 200);
        max_bytes_ratio = std::max(max_bytes_ratio, static_cast<double>(s.store.used_bytes) / live_bytes);
      }
    }
  }
  state.counters["fired"] = static_cast<double>(fired);
  state.counters["max_log_to_live_records"] = max_ratio;
  state.counters["max_file_pages_to_live_bytes"] = max_bytes_ratio;
}
BENCHMARK(BM_EngineSteadyChurnLogSize)->Arg(200'000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace rappel::server
