// rappel-load: drives a running rappeld through the client library
// (AsyncClient, pipelined) and reports throughput and latency percentiles.
// One file per scenario says what it measures (scenario.h lists them);
// driver.h holds the connections and loops they share, report.h the report
// (shared with the peer clients in bench/peers/), options.h the command line.
//
// Every loop is bounded by --count and --max-seconds. Exit codes: 0 done,
// 1 something failed or went missing, 2 usage, 3 rappeld unreachable.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bench/context.h"
#include "bench/load/driver.h"
#include "bench/load/histogram.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "bench/load/scenario.h"
#include "nlohmann/json.hpp"

namespace rappel::bench {
namespace {

// In the order --help lists them.
constexpr Scenario kScenarios[] = {
    {"ingest", false, RunIngest, nullptr},
    {"cancel", false, RunCancel, nullptr},
    {"fire", true, RunFire, nullptr},
    {"mixed", true, RunMixed, nullptr},
    {"appointments", false, RunAppointments, PrintAppointments},
    {"appointment-fire", true, RunAppointmentFire, PrintAppointmentFire},
    {"fairness", true, RunFairness, PrintFairness},
};

const Scenario& Find(const std::string& name) {
  for (const Scenario& s : kScenarios) {
    if (name == s.name) return s;
  }
  std::abort();  // the command line accepts only the names above
}

// Runs the scenario and completes *report; returns the exit code.
int Run(const Config& c, const Scenario& scenario, nlohmann::json* report) {
  Driver d(c);
  if (absl::Status st = d.Connect(scenario.needs_workers); !st.ok()) {
    std::fprintf(stderr, "rappel-load: %s\n", st.ToString().c_str());
    return absl::IsUnavailable(st) ? 3 : 1;
  }
  Outcome o;
  scenario.run(d, &o, report);
  d.Close();

  // Before PhasesJson, which sorts the samples (the files do not care).
  for (const auto& [path, write] :
       {std::pair{c.histogram_path, &WriteHistograms}, std::pair{c.series_path, &WriteSeries}}) {
    if (path.empty()) continue;
    if (absl::Status st = write(path, o.phases); !st.ok()) {
      std::fprintf(stderr, "rappel-load: %s\n", std::string(st.message()).c_str());
      return 1;
    }
  }
  uint64_t failed = 0;
  (*report)["phases"] = PhasesJson(o.phases, &failed);
  if (o.tracks_deliveries) (*report)["deliveries"] = d.DeliveriesJson(o.expected_deliveries);
  (*report)["timed_out"] = d.timed_out();
  bool missing = o.tracks_deliveries && d.acked() < o.expected_deliveries;
  return d.timed_out() || failed > 0 || missing ? 1 : 0;
}

void PrintHuman(const Config& c, const Scenario& scenario, const Context& ctx,
                const nlohmann::json& r) {
  std::printf("rappel-load %s: build %s, commit %s\n", c.scenario.c_str(), ctx.build_type.c_str(),
              ctx.commit.c_str());
  std::printf("machine: %s, %u hardware threads, kernel %s\n", ctx.cpu.c_str(),
              ctx.hardware_threads, ctx.kernel.c_str());
  if (IsAppointmentScenario(c.scenario)) {
    std::printf(
        "target %s:%u, %d connections x %u batches in flight, batch %u events; "
        "%u tenants x %u calendars, %u patients\n",
        c.host.c_str(), c.port, c.connections, c.pipeline, c.batch, c.tenants, c.calendars,
        c.patients);
  } else {
    std::printf("target %s:%u, %d connections x %u in flight, batch %u, %u-byte payloads\n",
                c.host.c_str(), c.port, c.connections, c.pipeline, c.batch, c.payload_bytes);
  }
  PrintPhases(r["phases"]);
  PrintDeliveries(r);
  if (scenario.print) scenario.print(r);
  if (r["timed_out"].get<bool>())
    std::printf("TIMED OUT after --max-seconds %.0f\n", c.max_seconds);
}

}  // namespace
}  // namespace rappel::bench

int main(int argc, char** argv) {
  using namespace rappel::bench;
  std::vector<std::string> names;
  for (const Scenario& s : kScenarios) names.emplace_back(s.name);
  Config c;
  if (std::optional<int> rc = ParseCommandLine(argc, argv, names, &c)) return *rc;
  const Scenario& scenario = Find(c.scenario);

  Context ctx = ReadContext();
  nlohmann::json report = {
      {"scenario", c.scenario}, {"header", ContextJson(ctx)}, {"config", ConfigJson(c)}};
  if (!ctx.optimized) {
    std::fprintf(stderr, "rappel-load: WARNING: built without optimisation or with sanitizers\n");
  }
  int rc = Run(c, scenario, &report);
  if (rc == 2 || rc == 3) return rc;
  if (c.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    PrintHuman(c, scenario, ctx, report);
  }
  return rc;
}
