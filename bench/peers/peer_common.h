// What the peer clients (rappel-peer-redis, rappel-peer-pg) share: the
// options and workloads of rappel-load (bench/load/, a file per scenario), the
// thread-per-connection drivers; the report is rappel-load's (bench/load/report.h).
//
// Workloads, as in rappel-load:
//   ingest  --count reminders, due over --spread-days (at least a minute
//           ahead), --batch per request, --pipeline requests in flight on
//           each of --connections connections; then the storage they take
//   cancel  ingest --count (setup, reported apart), then cancel them all by
//           key in a random order (same permutation as rappel-load)
//   fire    ingest --count all due at one instant (--lead-ms after the
//           start, default 2000 + count/150); the --workers start once the
//           ingest is done and claim, "process" and acknowledge; measured from
//           the first delivery to the last acknowledgement
//   mixed   schedule at --rate per second for --duration seconds, each due
//           --lead-ms (default 1000) after it is sent, --batch 100 per
//           request; workers deliver; lag = due time -> handed to the worker
//   ready   wait until the server serves (restart time is measured around it)
//
// A connection is a thread with its own blocking connection: the machine
// has two cores and the server takes most of one; the clients spend most of
// their time waiting on the socket.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/context.h"
#include "bench/load/clock.h"
#include "bench/load/report.h"
#include "nlohmann/json.hpp"

namespace rappel::bench::peers {

using namespace std::chrono_literals;

struct Config {
  std::string scenario;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int connections = 4;
  int workers = 2;
  uint32_t batch = 1000;
  uint32_t pipeline = 8;
  uint64_t count = 1'000'000;
  double rate = 0;
  double duration_s = 10;
  double max_seconds = 300;
  uint32_t payload_bytes = 200;
  uint32_t tenants = 16;
  double spread_days = 7;
  int64_t lead_ms = 0;
  uint32_t worker_batch = 256;  // rappel-load's --worker-batch
  double poll_ms = 1;           // a worker that found nothing due sleeps at most this long
  bool json = false;
  bool progress = true;
  std::string key_prefix;  // unique per run
};

// The items of a run, numbered 0..count-1, as rappel-load numbers them.
struct Items {
  const Config& c;
  std::string KeyOf(uint64_t i) const { return c.key_prefix + std::to_string(i); }
  uint32_t TenantOf(uint64_t i) const { return 1 + static_cast<uint32_t>(i % c.tenants); }
  // Due offset from the base for the ingest and cancel scenarios: spread
  // over the window, at least a minute ahead (rappel-load's `spread`).
  int64_t SpreadOffset(uint64_t i) const {
    const int64_t spread_ms = std::max<int64_t>(1, static_cast<int64_t>(c.spread_days * 86'400'000));
    return 60'000 + static_cast<int64_t>((i * 2654435761u) % static_cast<uint64_t>(spread_ms));
  }
  // The i-th key cancelled: i -> i * a mod count with a coprime multiplier.
  uint64_t CancelOrder(uint64_t i) const {
    uint64_t a = 0x9E3779B97F4A7C15ull % c.count;
    while (std::gcd(a, c.count) != 1) ++a;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(i) * a) % c.count);
  }
  // Item number from a key of this run; -1 if not ours.
  int64_t IndexOf(std::string_view key) const {
    if (key.size() <= c.key_prefix.size() || key.compare(0, c.key_prefix.size(), c.key_prefix) != 0) {
      return -1;
    }
    int64_t i = 0;
    for (char ch : key.substr(c.key_prefix.size())) {
      if (ch < '0' || ch > '9') return -1;
      i = i * 10 + (ch - '0');
    }
    return i;
  }
};

// One producer connection, pipelined: Send() queues a request for items
// [lo, hi) (and may write it), Receive() blocks for the oldest request's
// answer and says how many items succeeded.
class Pipe {
 public:
  virtual ~Pipe() = default;
  virtual bool Send(uint64_t lo, uint64_t hi, std::string* error) = 0;
  struct Answer {
    uint64_t ok = 0;
    uint64_t failed = 0;
    std::string error;
  };
  virtual Answer Receive() = 0;
};

// Sends items [0, count) in batches of `batch` over the pipes, at most
// `pipeline` requests in flight on each, paced at `rate` per second if set.
inline void Drive(const Config& c, Phase* phase, uint64_t count, uint32_t batch, double rate,
                  std::vector<std::unique_ptr<Pipe>>& pipes, Steady::time_point deadline,
                  bool* timed_out) {
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> answered{0};
  std::mutex mu;
  auto start = Steady::now();
  std::atomic<bool> stop{false};
  double cpu0 = ProcessCpuSeconds();
  auto run = [&](Pipe* pipe) {
    std::deque<std::pair<Steady::time_point, uint64_t>> in_flight;
    LatencySamples latency;
    uint64_t ok = 0, failed = 0;
    std::string first_error;
    bool exhausted = false;
    while (!stop.load(std::memory_order_relaxed)) {
      while (!exhausted && in_flight.size() < c.pipeline) {
        uint64_t lo = next.fetch_add(batch);
        if (lo >= count) {
          exhausted = true;
          break;
        }
        uint64_t hi = std::min<uint64_t>(count, lo + batch);
        if (rate > 0) {
          // Item lo may go at start + lo / rate; answers first if any are due.
          auto at = start + std::chrono::duration_cast<Steady::duration>(
                                std::chrono::duration<double>(static_cast<double>(lo) / rate));
          while (!in_flight.empty() && Steady::now() < at) {
            Pipe::Answer a = pipe->Receive();
            latency.Add(std::chrono::duration<double, std::micro>(Steady::now() - in_flight.front().first).count());
            ok += a.ok;
            failed += a.failed;
            if (!a.error.empty() && first_error.empty()) first_error = a.error;
            answered += in_flight.front().second;
            in_flight.pop_front();
          }
          std::this_thread::sleep_until(at);
        }
        std::string error;
        if (!pipe->Send(lo, hi, &error)) {
          failed += hi - lo;
          answered += hi - lo;
          if (first_error.empty()) first_error = error;
          continue;
        }
        in_flight.emplace_back(Steady::now(), hi - lo);
      }
      if (in_flight.empty()) break;
      Pipe::Answer a = pipe->Receive();
      latency.Add(std::chrono::duration<double, std::micro>(Steady::now() - in_flight.front().first).count());
      ok += a.ok;
      failed += a.failed;
      if (!a.error.empty() && first_error.empty()) first_error = a.error;
      answered += in_flight.front().second;
      in_flight.pop_front();
    }
    std::lock_guard<std::mutex> lock(mu);
    phase->latency.Merge(latency);
    phase->ok += ok;
    phase->failed += failed;
    if (!first_error.empty() && phase->first_error.empty()) phase->first_error = first_error;
  };
  std::vector<std::thread> threads;
  for (auto& p : pipes) threads.emplace_back(run, p.get());
  while (answered.load() < count) {
    if (Steady::now() > deadline) {
      *timed_out = true;
      stop = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
    if (c.progress) {
      double s = Seconds(Steady::now() - start);
      std::fprintf(stderr, "\r%-10s %10" PRIu64 " / %-10" PRIu64 " %9.0f/s  %6.1f s   ",
                   phase->name.c_str(), answered.load(), count,
                   s > 0 ? static_cast<double>(answered.load()) / s : 0.0, s);
    }
  }
  for (auto& t : threads) t.join();
  phase->seconds = Seconds(Steady::now() - start);
  phase->cpu_seconds = ProcessCpuSeconds() - cpu0;
  phase->wall_seconds = phase->seconds;
  if (c.progress) std::fprintf(stderr, "\n");
}

// What the workers share: per item times delivered, counters, lag samples.
class Deliveries {
 public:
  Deliveries(const Config& c, uint64_t items) : items_{c}, delivered_(items) {
    for (auto& d : delivered_) d.store(0, std::memory_order_relaxed);
  }
  // One claimed message; lag in microseconds from due to now.
  void Delivered(std::string_view key, double due_ms, double now_us, LatencySamples* lag) {
    int64_t i = items_.IndexOf(key);
    if (i < 0) return;  // a leftover of another run
    Steady::time_point now = Steady::now();
    if (delivered_total_.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      first_ = now;
    }
    lag->Add(now_us - due_ms * 1000.0);
    if (static_cast<uint64_t>(i) < delivered_.size() && delivered_[i].fetch_add(1) > 0) ++duplicates_;
  }
  void Acked(uint64_t ok, uint64_t failed) {
    acked_ += ok;
    ack_failed_ += failed;
    std::lock_guard<std::mutex> lock(mu_);
    last_ = Steady::now();
  }
  uint64_t settled() const { return acked_.load() + ack_failed_.load(); }
  uint64_t acked() const { return acked_.load(); }
  uint64_t ack_failed() const { return ack_failed_.load(); }
  uint64_t delivered() const { return delivered_total_.load(); }
  uint64_t duplicates() const { return duplicates_.load(); }
  double seconds() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_total_.load() > 0 ? Seconds(last_ - first_) : 0;
  }

 private:
  Items items_;
  std::vector<std::atomic<uint8_t>> delivered_;
  std::atomic<uint64_t> delivered_total_{0};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> ack_failed_{0};
  std::atomic<uint64_t> duplicates_{0};
  mutable std::mutex mu_;
  Steady::time_point first_{};
  Steady::time_point last_{};
};

// Registers rappel-load's options (same names and defaults) on `app`.
inline void AddOptions(CLI::App& app, Config& c, bool* quiet) {
  // An option given twice takes the last: compare appends --redis-args / --pg-args.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("scenario", c.scenario, "ingest | cancel | fire | mixed | ready")
      ->required()
      ->check(CLI::IsMember({"ingest", "cancel", "fire", "mixed", "ready"}));
  app.add_option("--host", c.host)->capture_default_str();
  app.add_option("--port", c.port)->required();
  app.add_option("--connections", c.connections, "producer connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--workers", c.workers, "worker connections (fire, mixed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--batch", c.batch, "reminders or keys per request")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--pipeline", c.pipeline, "requests in flight per producer connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--count", c.count, "reminders (ingest, cancel, fire)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  app.add_option("--rate", c.rate, "reminders per second to send (mixed: default 20000)")
      ->capture_default_str();
  app.add_option("--duration", c.duration_s, "seconds of sending (mixed)")->capture_default_str();
  app.add_option("--max-seconds", c.max_seconds, "give up after this long (exit 1)")
      ->capture_default_str();
  app.add_option("--payload-bytes", c.payload_bytes)->capture_default_str();
  app.add_option("--tenants", c.tenants)->capture_default_str()->check(CLI::Range(1u, 1000000u));
  app.add_option("--spread-days", c.spread_days, "due times spread over this (ingest, cancel)")
      ->capture_default_str();
  app.add_option("--lead-ms", c.lead_ms,
                 "fire: all due this long after the start (default 2000 + count/150); "
                 "mixed: each due this long after it is sent (default 1000)");
  app.add_option("--worker-batch", c.worker_batch, "messages claimed per worker request")
      ->capture_default_str();
  app.add_option("--poll-ms", c.poll_ms,
                 "a worker that found nothing due waits at most this long before asking again")
      ->capture_default_str();
  app.add_flag("--json", c.json, "print the results as JSON on stdout");
  app.add_flag("--quiet", *quiet, "no progress line");
}

inline void Finish(Config& c, bool quiet) {
  c.progress = !quiet && isatty(STDERR_FILENO);
  c.key_prefix = "load-" + std::to_string(getpid()) + "-" + std::to_string(NowMs() % 1'000'000'000) + "-";
}

inline nlohmann::json Header(const Config& c, const std::string& system,
                             const nlohmann::json& settings) {
  Context ctx = ReadContext();
  return {{"scenario", c.scenario},
          {"system", system},
          {"settings", settings},
          {"header", ContextJson(ctx)},
          {"config",
           {{"host", c.host}, {"port", c.port}, {"connections", c.connections},
            {"workers", c.workers}, {"batch", c.batch}, {"pipeline", c.pipeline},
            {"count", c.count}, {"rate", c.rate}, {"duration_s", c.duration_s},
            {"payload_bytes", c.payload_bytes}, {"tenants", c.tenants},
            {"lead_ms", c.lead_ms}, {"worker_batch", c.worker_batch}, {"poll_ms", c.poll_ms}}}};
}

inline void PrintHuman(const nlohmann::json& r) {
  std::printf("%s %s (%s): %s\n", r["system"].get<std::string>().c_str(),
              r["scenario"].get<std::string>().c_str(), r["settings"].dump().c_str(),
              r["header"]["commit"].get<std::string>().c_str());
  if (!r["phases"].empty()) PrintPhases(r["phases"]);
  PrintDeliveries(r);
  if (r.contains("memory")) std::printf("memory: %s\n", r["memory"].dump().c_str());
  if (r.contains("ready_ms")) std::printf("serving after %.1f ms\n", r["ready_ms"].get<double>());
  if (r["timed_out"].get<bool>()) std::printf("TIMED OUT\n");
}

}  // namespace rappel::bench::peers
