// The report of a load run, shared by rappel-load and the peer clients
// (bench/peers/) so that bench/peers/compare and bench/RESULTS.md read one
// shape: a "header" (what the figures depend on), one entry per phase, and
// the deliveries a run with workers expected and got. Field names and the
// human table are read by scripts; change them only together with
// bench/peers/compare and tests/tools/rappel_load_test.sh.
//
// JSON of one phase:
//   {"name", "ok", "failed", "seconds", "per_second", "latency_of",
//    "latency_us": {"count", "p50", "p99", "p999", "max"},
//    "corrected_latency_us" (under --rate: the same from the intended send
//    time, coordinated omission corrected),
//    "first_error" (if any), "client_cpu_s" and "client_wall_s" (if measured)}
//
// Human table (latencies in ms):
//   phase                  ok   failed   seconds   per second       p50 ms ...  latency of
//   ingest               3000        0      0.01       280147        8.599 ...  request (...)
//     corrected                                                     9.120 ...  the same from ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/context.h"
#include "bench/load/latency.h"
#include "nlohmann/json.hpp"

namespace rappel::bench {

// What a phase's latency samples measure.
constexpr const char* kRequestLatency = "request (batch sent -> durable answer)";
constexpr const char* kLagLatency = "due time -> delivered to the worker";

// What one phase measured.
struct Phase {
  Phase(std::string n, std::string of) : name(std::move(n)), latency_of(std::move(of)) {}
  std::string name;
  uint64_t ok = 0;      // items answered Ok (or acked, for deliveries)
  uint64_t failed = 0;  // items or requests that failed
  double seconds = 0;
  double cpu_seconds = -1;  // this process's CPU time over the phase (-1: not measured)
  double wall_seconds = 0;  // the wall time cpu_seconds was measured over
  LatencySamples latency;   // per request (schedule, cancel) or due -> delivered
  // Under --rate: each request's latency from its intended send time (the
  // schedule --rate sets), so a stall delays the measure of every request
  // held behind it (coordinated omission corrected, as wrk2 does). Empty
  // without --rate.
  LatencySamples corrected;
  // Per second since the phase began: requests answered and their latency.
  struct Second {
    uint64_t ok = 0;
    uint64_t failed = 0;
    LatencySamples latency;
  };
  std::vector<Second> series;
  std::string latency_of;
  std::string first_error;

  double rate() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// The "header" object: build type, commit and machine.
nlohmann::json ContextJson(const Context& ctx);

// One phase as above. Sorts the phase's latency samples.
nlohmann::json PhaseJson(Phase& p);

// Every phase, in order, as the report's "phases"; adds their failures to
// *failed.
nlohmann::json PhasesJson(std::vector<Phase>& phases, uint64_t* failed);

// The "deliveries" object of a run with workers.
nlohmann::json DeliveriesJson(uint64_t expected, uint64_t delivered, uint64_t acked,
                              uint64_t duplicates);

// The human table of `phases` (a "phases" array) on stdout, preceded by a
// blank line and the column titles.
void PrintPhases(const nlohmann::json& phases);

// The deliveries line on stdout if `report` has "deliveries".
void PrintDeliveries(const nlohmann::json& report);

}  // namespace rappel::bench
