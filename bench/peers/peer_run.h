// The workloads of rappel-load run against a peer Backend (Redis,
// PostgreSQL): see peer_common.h for what each one does.
#pragma once

#include <cmath>

#include "bench/peers/peer_common.h"

namespace rappel::bench::peers {

// A worker connection. Round() claims up to `limit` messages due at
// `now_ms`, hands each to `deliver` and acknowledges what it claimed
// (possibly in its next round, pipelined with the next claim: `acked` is
// called as acknowledgements are answered). Returns the number claimed, or
// -1 on error. Sets *next_due_ms to the earliest due time still queued when
// it knows it (0 otherwise), so an idle worker can sleep until then.
class Worker {
 public:
  virtual ~Worker() = default;
  using Deliver = std::function<void(std::string_view key, double due_ms)>;
  using Acked = std::function<void(uint64_t ok, uint64_t failed)>;
  virtual int64_t Round(int64_t now_ms, uint32_t limit, const Deliver& deliver, const Acked& acked,
                        int64_t* next_due_ms, std::string* error) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json settings() const = 0;
  // An empty queue (drops what an earlier run left).
  virtual bool Reset(std::string* error) = 0;
  using DueOf = std::function<int64_t(uint64_t)>;  // absolute due time in ms of item i
  virtual std::unique_ptr<Pipe> IngestPipe(DueOf due_of, std::string* error) = 0;
  // Cancels the keys of items CancelOrder(lo..hi).
  virtual std::unique_ptr<Pipe> CancelPipe(std::string* error) = 0;
  virtual std::unique_ptr<Worker> MakeWorker(std::string* error) = 0;
  // Storage the queue takes, with "bytes" the figure compared per pending
  // reminder; called before (baseline) and after the ingest.
  virtual nlohmann::json Memory() = 0;
  // True once the server answers a queue query (not "loading").
  virtual bool Serving() = 0;
};

inline int RunScenario(Config& c, Backend& b, nlohmann::json* out) {
  Items items{c};
  auto deadline = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                      std::chrono::duration<double>(c.max_seconds));
  bool timed_out = false;
  std::string error;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "%s: %s: %s\n", b.name().c_str(), what.c_str(), error.c_str());
    return 1;
  };

  if (c.scenario == "ready") {
    auto start = Steady::now();
    while (!b.Serving()) {
      if (Steady::now() > deadline) {
        (*out)["timed_out"] = true;
        return 1;
      }
      std::this_thread::sleep_for(1ms);
    }
    (*out)["ready_ms"] = Seconds(Steady::now() - start) * 1000;
    (*out)["timed_out"] = false;
    (*out)["phases"] = nlohmann::json::array();
    return 0;
  }

  if (!b.Reset(&error)) return fail("reset");
  auto cancel_pipes = [&] {
    std::vector<std::unique_ptr<Pipe>> v;
    for (int i = 0; i < c.connections; ++i) {
      std::unique_ptr<Pipe> p = b.CancelPipe(&error);
      if (!p) return std::vector<std::unique_ptr<Pipe>>{};
      v.push_back(std::move(p));
    }
    return v;
  };
  auto ingest_pipes = [&](const Backend::DueOf& due_of) {
    std::vector<std::unique_ptr<Pipe>> v;
    for (int i = 0; i < c.connections; ++i) {
      std::unique_ptr<Pipe> p = b.IngestPipe(due_of, &error);
      if (!p) return std::vector<std::unique_ptr<Pipe>>{};
      v.push_back(std::move(p));
    }
    return v;
  };

  // Workers: claim until `expected()` are settled (acked or failed) or the
  // deadline; none claims before `start_ms`.
  std::atomic<bool> stop_workers{false};
  auto run_workers = [&](Deliveries* d, Phase* phase, int64_t start_ms,
                         std::function<uint64_t()> expected, std::vector<std::thread>* threads,
                         std::mutex* lag_mu) -> bool {
    std::vector<std::unique_ptr<Worker>> ws;
    for (int i = 0; i < c.workers; ++i) {
      auto w = b.MakeWorker(&error);
      if (!w) return false;
      ws.push_back(std::move(w));
    }
    for (auto& w : ws) {
      threads->emplace_back([&, d, phase, start_ms, expected, lag_mu, w = std::shared_ptr<Worker>(std::move(w))] {
        LatencySamples lag;
        std::string err;
        while (!stop_workers.load() && d->settled() < expected()) {
          if (Steady::now() > deadline) break;
          int64_t now = NowMs();
          if (now < start_ms) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(start_ms - now, 5)));
            continue;
          }
          int64_t next_due = 0;
          int64_t n = w->Round(
              now, c.worker_batch,
              [&](std::string_view key, double due_ms) { d->Delivered(key, due_ms, NowUs(), &lag); },
              [&](uint64_t ok, uint64_t failed) { d->Acked(ok, failed); }, &next_due, &err);
          if (n < 0) {
            std::fprintf(stderr, "%s: worker: %s\n", b.name().c_str(), err.c_str());
            std::this_thread::sleep_for(10ms);
            continue;
          }
          if (n < static_cast<int64_t>(c.worker_batch)) {
            double wait_ms = c.poll_ms;
            if (next_due > 0) {
              wait_ms = std::min(wait_ms, std::max(0.05, static_cast<double>(next_due - NowMs())));
            }
            if (n == 0 || next_due > 0) {
              std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(wait_ms));
            }
          }
        }
        std::lock_guard<std::mutex> lock(*lag_mu);
        phase->latency.Merge(lag);
      });
    }
    return true;
  };

  std::vector<Phase> phases;
  uint64_t expected_deliveries = 0;
  std::unique_ptr<Deliveries> deliveries;
  if (c.scenario == "ingest" || c.scenario == "cancel") {
    nlohmann::json before = c.scenario == "ingest" ? b.Memory() : nlohmann::json();
    Phase ingest{c.scenario == "ingest" ? "ingest" : "setup", kRequestLatency};
    int64_t base = NowMs();
    auto ps = ingest_pipes([&, base](uint64_t i) { return base + items.SpreadOffset(i); });
    if (ps.empty()) return fail("connect");
    Drive(c, &ingest, c.count, c.batch, 0, ps, deadline, &timed_out);
    ps.clear();
    phases.push_back(std::move(ingest));
    if (c.scenario == "ingest") {
      nlohmann::json after = b.Memory();
      nlohmann::json m = {{"before", before}, {"after", after}, {"pending", phases[0].ok}};
      if (phases[0].ok > 0 && after.contains("bytes") && before.contains("bytes")) {
        m["bytes_per_pending"] =
            (after["bytes"].get<double>() - before["bytes"].get<double>()) /
            static_cast<double>(phases[0].ok);
      }
      (*out)["memory"] = m;
    }
    if (c.scenario == "cancel" && !timed_out) {
      Phase cancel{"cancel", kRequestLatency};
      auto cs = cancel_pipes();
      if (cs.empty()) return fail("connect");
      Drive(c, &cancel, c.count, c.batch, 0, cs, deadline, &timed_out);
      phases.push_back(std::move(cancel));
    }
  } else if (c.scenario == "fire") {
    deliveries = std::make_unique<Deliveries>(c, c.count);
    int64_t lead = c.lead_ms > 0 ? c.lead_ms : 2'000 + static_cast<int64_t>(c.count / 150);
    int64_t fire_at = NowMs() + lead;
    Phase ingest{"ingest", kRequestLatency};
    auto ps = ingest_pipes([fire_at](uint64_t) { return fire_at; });
    if (ps.empty()) return fail("connect");
    Drive(c, &ingest, c.count, c.batch, 0, ps, deadline, &timed_out);
    ps.clear();
    if (NowMs() > fire_at) {
      std::fprintf(stderr, "%s: ingest ran past the fire time by %" PRId64
                           " ms; workers start now\n", b.name().c_str(), NowMs() - fire_at);
    }
    phases.push_back(std::move(ingest));
    expected_deliveries = phases[0].ok;
    // Workers connect after the ingest, so it does not share the machine with them.
    Phase fire{"fire", kLagLatency};
    std::vector<std::thread> threads;
    std::mutex lag_mu;
    double cpu0 = ProcessCpuSeconds();
    auto wall0 = Steady::now();
    bool fired = false;
    if (!run_workers(deliveries.get(), &fire, fire_at, [&] { return expected_deliveries; },
                     &threads, &lag_mu)) {
      return fail("connect");
    }
    auto start = Steady::now();
    while (deliveries->settled() < expected_deliveries && Steady::now() < deadline) {
      std::this_thread::sleep_for(1ms);
      if (!fired && NowMs() >= fire_at) {  // the client's CPU is counted from the fire time
        fired = true;
        cpu0 = ProcessCpuSeconds();
        wall0 = Steady::now();
      }
      if (c.progress) {
        std::fprintf(stderr, "\r%-10s %10" PRIu64 " / %-10" PRIu64 " %6.1f s   ", "fire",
                     deliveries->acked(), expected_deliveries, Seconds(Steady::now() - start));
      }
    }
    if (deliveries->settled() < expected_deliveries) timed_out = true;
    stop_workers = true;
    for (auto& t : threads) t.join();
    if (c.progress) std::fprintf(stderr, "\n");
    fire.ok = deliveries->acked();
    fire.failed = deliveries->ack_failed();
    fire.seconds = deliveries->seconds();
    fire.cpu_seconds = ProcessCpuSeconds() - cpu0;
    fire.wall_seconds = Seconds(Steady::now() - wall0);
    phases.push_back(std::move(fire));
  } else if (c.scenario == "mixed") {
    if (c.rate <= 0) c.rate = 20'000;
    uint64_t total = static_cast<uint64_t>(c.rate * c.duration_s);
    deliveries = std::make_unique<Deliveries>(c, total);
    int64_t lead = c.lead_ms > 0 ? c.lead_ms : 1'000;
    int64_t start_ms = NowMs();
    double per_item_ms = 1000.0 / c.rate;
    Phase delivered{"delivered", kLagLatency};
    std::vector<std::thread> threads;
    std::mutex lag_mu;
    std::atomic<uint64_t> expected{total};
    std::atomic<bool> expected_final{false};
    // Until the producers are done, workers wait for all `total`.
    if (!run_workers(deliveries.get(), &delivered, 0, [&] { return expected.load(); }, &threads,
                     &lag_mu)) {
      return fail("connect");
    }
    Phase ingest{"schedule", kRequestLatency};
    auto ps = ingest_pipes([start_ms, lead, per_item_ms](uint64_t i) {
      return start_ms + lead + static_cast<int64_t>(static_cast<double>(i) * per_item_ms);
    });
    if (ps.empty()) return fail("connect");
    Drive(c, &ingest, total, c.batch, c.rate, ps, deadline, &timed_out);
    ps.clear();
    expected = ingest.ok;
    expected_final = true;
    expected_deliveries = ingest.ok;
    phases.push_back(std::move(ingest));
    auto start = Steady::now();
    while (deliveries->settled() < expected_deliveries && Steady::now() < deadline) {
      std::this_thread::sleep_for(5ms);
      if (c.progress) {
        std::fprintf(stderr, "\r%-10s %10" PRIu64 " / %-10" PRIu64 " %6.1f s   ", "delivered",
                     deliveries->acked(), expected_deliveries, Seconds(Steady::now() - start));
      }
    }
    if (deliveries->settled() < expected_deliveries) timed_out = true;
    stop_workers = true;
    for (auto& t : threads) t.join();
    if (c.progress) std::fprintf(stderr, "\n");
    delivered.ok = deliveries->acked();
    delivered.failed = deliveries->ack_failed();
    delivered.seconds = deliveries->seconds();
    phases.push_back(std::move(delivered));
  }

  uint64_t failed = 0;
  (*out)["phases"] = PhasesJson(phases, &failed);
  if (deliveries) {
    (*out)["deliveries"] = DeliveriesJson(expected_deliveries, deliveries->delivered(),
                                          deliveries->acked(), deliveries->duplicates());
  }
  (*out)["timed_out"] = timed_out;
  bool missing = deliveries && deliveries->acked() < expected_deliveries;
  return timed_out || failed > 0 || missing ? 1 : 0;
}

// main() of a peer client: rappel-load's options plus the backend's own.
template <typename MakeBackend>
int PeerMain(int argc, char** argv, const char* title,
             const std::function<void(CLI::App&)>& add_own, MakeBackend make) {
  Config c;
  CLI::App app{title};
  bool quiet = false;
  AddOptions(app, c, &quiet);
  add_own(app);
  CLI11_PARSE(app, argc, argv);
  Finish(c, quiet);
  std::unique_ptr<Backend> backend = make(c);
  nlohmann::json report = Header(c, backend->name(), backend->settings());
  if (!report["header"]["optimized"].get<bool>()) {
    std::fprintf(stderr, "%s: WARNING: built without optimisation or with sanitizers\n",
                 backend->name().c_str());
  }
  int rc = RunScenario(c, *backend, &report);
  if (!report.contains("phases")) return rc;  // failed before running; said why
  if (c.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    PrintHuman(report);
  }
  return rc;
}

}  // namespace rappel::bench::peers
