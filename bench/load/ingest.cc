// ingest: schedule --count reminders, due over --spread-days, --batch per
// request and --pipeline requests in flight on each of --connections: the
// rate of durable schedules and the latency of a request (sent -> fsynced
// answer).
#include <algorithm>

#include "bench/load/scenario.h"

namespace rappel::bench {

void IngestSpread(Driver& d, const char* name, std::vector<Phase>* phases) {
  const Config& c = d.config();
  // Spread due times over the window, at least a minute ahead.
  const int64_t spread_ms = std::max<int64_t>(1, static_cast<int64_t>(c.spread_days * 86'400'000));
  auto spread = [spread_ms](uint64_t i) {
    return 60'000 + static_cast<int64_t>((i * 2654435761u) % static_cast<uint64_t>(spread_ms));
  };
  Phase ingest{name, kRequestLatency};
  d.Drive(&ingest, c.count, d.Schedule(NowMs(), spread));
  phases->push_back(std::move(ingest));
}

void RunIngest(Driver& d, Outcome* o, nlohmann::json*) { IngestSpread(d, "ingest", &o->phases); }

}  // namespace rappel::bench
