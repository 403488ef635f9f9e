// rappel-load's command line: every knob of a run with its default, the
// defaults that differ by scenario, and the "config" object of the report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "rappel/types.h"

namespace rappel::bench {

struct Config {
  std::string scenario;
  std::string host = "127.0.0.1";
  uint16_t port = 7411;
  std::string token;
  std::string worker_token;
  client::TlsOptions tls;  // every connection, producers and workers
  int connections = 4;
  int workers = 2;
  uint32_t batch = 1000;
  uint32_t pipeline = 8;
  uint64_t count = 1'000'000;
  double rate = 0;  // reminders per second; 0: as fast as the server answers
  double duration_s = 10;
  double max_seconds = 300;
  uint32_t payload_bytes = 200;
  uint32_t tenants = 16;
  double spread_days = 7;
  int64_t lead_ms = 0;  // 0: chosen by the scenario
  double cancel_fraction = 0.2;
  uint32_t worker_in_flight = 4096;
  uint32_t worker_batch = 256;
  // appointments
  uint32_t patients = 5'000;  // per tenant
  uint32_t calendars = 4;     // per tenant
  int64_t seed = -1;          // -1: count / 4
  uint32_t creates_pct = 55;  // appointments: share of creates among the timed events
  bool gates = false;         // appointment-fire: every sending gate on
  // fairness
  uint32_t sms_rate = 2000;  // messages per second, all tenants
  uint64_t b_count = 300;
  bool json = false;
  std::string histogram_path;  // --histogram: log-linear latency buckets (histogram.h)
  std::string series_path;     // --series-csv: per-second series
  bool progress = true;
};

// The appointment scenarios count events, not reminders, and have their
// own defaults (one connection, batches of 100, 32 in flight, 4 tenants).
bool IsAppointmentScenario(const std::string& scenario);

// Parses the command line into *c; `scenarios` are the names accepted, in
// the order --help lists them. Returns the exit code when the run should
// stop here (--help, or a usage error CLI11 has already printed).
std::optional<int> ParseCommandLine(int argc, char** argv,
                                    const std::vector<std::string>& scenarios, Config* c);

// The report's "config" object.
nlohmann::json ConfigJson(const Config& c);

}  // namespace rappel::bench
