#include "bench/load/options.h"

#include <unistd.h>

#include "CLI/CLI.hpp"
#include "client/cli_tls.h"
#include "server/common/program.h"

namespace rappel::bench {

bool IsAppointmentScenario(const std::string& scenario) {
  return scenario == "appointments" || scenario == "appointment-fire";
}

std::optional<int> ParseCommandLine(int argc, char** argv,
                                    const std::vector<std::string>& scenarios, Config* out) {
  Config& c = *out;
  std::string names;
  for (const std::string& s : scenarios) names += (names.empty() ? "" : " | ") + s;
  CLI::App app{"rappel-load: load generator for rappeld (throughput, latency percentiles)"};
  rappel::AddVersionFlag(app, "rappel-load");
  app.add_option("scenario", c.scenario, names)->required()->check(CLI::IsMember(scenarios));
  app.add_option("--host", c.host)->capture_default_str();
  app.add_option("--port", c.port)->capture_default_str();
  app.add_option("--token", c.token, "producer (or admin) token, if rappeld requires one");
  app.add_option("--worker-token", c.worker_token, "worker token (default: --token)");
  client::AddTlsFlags(app, c.tls);
  CLI::Option* connections = app.add_option("--connections", c.connections,
                                            "producer connections (appointments: default 1)")
                                 ->capture_default_str()
                                 ->check(CLI::Range(1, 1000));
  app.add_option("--workers", c.workers, "worker connections (fire, mixed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  CLI::Option* batch =
      app.add_option("--batch", c.batch,
                     "reminders or keys per request; appointments: events per batch (default 100)")
          ->capture_default_str()
          ->check(CLI::Range(1, 100000));
  CLI::Option* pipeline =
      app.add_option("--pipeline,--window", c.pipeline,
                     "requests in flight per producer connection; appointments: batches in flight "
                     "(default 32; a batch is one upsert request plus one command request when it "
                     "has cancels or statuses)")
          ->capture_default_str()
          ->check(CLI::Range(1, 10000));
  CLI::Option* count =
      app.add_option("--count", c.count,
                     "reminders (ingest, cancel, fire); appointments: timed events (default "
                     "200000); fairness: tenant 1's burst (default 20000)")
          ->capture_default_str()
          ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  app.add_option("--rate", c.rate,
                 "reminders per second to send (0: as fast as answered; "
                 "mixed: default 20000); latency is then also reported from each batch's "
                 "intended send time (\"corrected\": coordinated omission corrected)")
      ->capture_default_str();
  app.add_option("--duration", c.duration_s, "seconds of sending (mixed)")->capture_default_str();
  app.add_option("--max-seconds", c.max_seconds, "give up after this long (exit 1)")
      ->capture_default_str();
  app.add_option("--payload-bytes", c.payload_bytes)->capture_default_str();
  CLI::Option* tenants = app.add_option("--tenants", c.tenants, "(appointments: default 4)")
                             ->capture_default_str()
                             ->check(CLI::Range(1u, 1000000u));
  app.add_option("--patients", c.patients, "appointments: patients per tenant (setup)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000000u));
  app.add_option("--calendars", c.calendars, "appointments: calendars per tenant (setup)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--seed", c.seed,
                 "appointments: appointments created before the timed events (default count/4)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 32));
  app.add_option("--creates", c.creates_pct,
                 "appointments: percentage of creates among the timed events (the rest: moves, "
                 "cancels and statuses, 20:10:15); 0 changes a fixed set of appointments")
      ->capture_default_str()
      ->check(CLI::Range(0u, 99u));
  app.add_option("--spread-days", c.spread_days, "due times spread over this (ingest, cancel)")
      ->capture_default_str();
  app.add_option("--lead-ms", c.lead_ms,
                 "fire: all due this long after the start (default 2000 + count/150); "
                 "mixed: each due this long after it is sent (default 1000)");
  app.add_option("--cancel-fraction", c.cancel_fraction, "mixed: share cancelled before due")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--worker-in-flight", c.worker_in_flight, "leases a worker may hold")
      ->capture_default_str();
  app.add_option("--worker-batch", c.worker_batch, "messages per pushed batch")
      ->capture_default_str();
  app.add_flag("--gates", c.gates,
               "appointment-fire: every sending gate on (sending hours, credits, rate limits, "
               "consent, daily cap, household merging), none holding anything back");
  app.add_option("--sms-rate", c.sms_rate,
                 "fairness: the SMS limit set for the run, per second (burst: a tenth)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--b-count", c.b_count,
                 "fairness: tenant 2's reminders, due during tenant 1's burst")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}));
  app.add_flag("--json", c.json, "print the results as JSON on stdout");
  app.add_option("--histogram", c.histogram_path,
                 "write each phase's latency histogram to FILE (CSV of log-linear buckets: "
                 "phase,latency,lo_us,hi_us,count)");
  app.add_option("--series-csv", c.series_path,
                 "write the per-second series to FILE (CSV: phase,second,ok,failed,requests,"
                 "p50_us,p99_us,max_us)");
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress line");
  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;
  // Defaults that depend on the scenario, where the option was not given.
  if (IsAppointmentScenario(c.scenario)) {
    if (connections->count() == 0) c.connections = 1;
    if (batch->count() == 0) c.batch = 100;
    if (pipeline->count() == 0) c.pipeline = 32;
    if (count->count() == 0) c.count = 200'000;
    if (tenants->count() == 0) c.tenants = 4;
  }
  if (c.scenario == "fairness" && count->count() == 0) c.count = 20'000;
  c.progress = !quiet && isatty(STDERR_FILENO);
  return std::nullopt;
}

nlohmann::json ConfigJson(const Config& c) {
  return {{"host", c.host},
          {"port", c.port},
          {"tls", c.tls.enabled},
          {"connections", c.connections},
          {"workers", c.workers},
          {"batch", c.batch},
          {"pipeline", c.pipeline},
          {"count", c.count},
          {"rate", c.rate},
          {"duration_s", c.duration_s},
          {"payload_bytes", c.payload_bytes},
          {"tenants", c.tenants},
          {"lead_ms", c.lead_ms},
          {"cancel_fraction", c.cancel_fraction},
          {"worker_in_flight", c.worker_in_flight},
          {"worker_batch", c.worker_batch},
          {"patients", c.patients},
          {"calendars", c.calendars},
          {"seed", c.seed},
          {"sms_rate", c.sms_rate},
          {"b_count", c.b_count}};
}

}  // namespace rappel::bench
