// What a rappel-load scenario is: a function that runs on a connected
// Driver, and the lines it adds to the human report. One file per scenario
// (ingest.cc, cancel.cc, fire.cc, mixed.cc, appointments.cc,
// appointment_fire.cc, fairness.cc) says what it measures; rappel_load.cc
// lists them.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/load/driver.h"
#include "bench/load/report.h"
#include "nlohmann/json.hpp"

namespace rappel::bench {

// What a scenario hands back for the report and the exit code.
struct Outcome {
  std::vector<Phase> phases;
  // With workers: the report then has "deliveries", and the run fails
  // unless `expected_deliveries` were acked.
  bool tracks_deliveries = false;
  uint64_t expected_deliveries = 0;
};

struct Scenario {
  const char* name;
  bool needs_workers;
  // Runs the scenario; may add its own object (named after it) to *report.
  void (*run)(Driver& d, Outcome* outcome, nlohmann::json* report);
  // Its own lines of the human report, after the deliveries; may be null.
  void (*print)(const nlohmann::json& report);
};

void RunIngest(Driver& d, Outcome* o, nlohmann::json* report);
void RunCancel(Driver& d, Outcome* o, nlohmann::json* report);
void RunFire(Driver& d, Outcome* o, nlohmann::json* report);
void RunMixed(Driver& d, Outcome* o, nlohmann::json* report);
void RunAppointments(Driver& d, Outcome* o, nlohmann::json* report);
void PrintAppointments(const nlohmann::json& report);
void RunAppointmentFire(Driver& d, Outcome* o, nlohmann::json* report);
void PrintAppointmentFire(const nlohmann::json& report);
void RunFairness(Driver& d, Outcome* o, nlohmann::json* report);
void PrintFairness(const nlohmann::json& report);

// Schedules --count reminders due over --spread-days (at least a minute
// ahead) as the phase `name`: ingest's measure and cancel's setup.
void IngestSpread(Driver& d, const char* name, std::vector<Phase>* phases);

}  // namespace rappel::bench
