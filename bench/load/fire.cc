// fire: workers subscribe, then --count reminders are scheduled all due at
// one instant (--lead-ms after the start, by default far enough ahead for
// the ingest to finish first); measured from the first delivery to the
// last ack (fire -> deliver -> ack), with each message's due -> delivered
// lag.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "bench/load/scenario.h"

namespace rappel::bench {

void RunFire(Driver& d, Outcome* o, nlohmann::json*) {
  const Config& c = d.config();
  o->tracks_deliveries = true;
  d.TrackItems(c.count);
  Phase deliveries{"fire", kLagLatency};
  d.Subscribe(&deliveries);
  // Everything due at one instant, after the ingest should be done.
  int64_t lead =
      c.lead_ms > 0 ? c.lead_ms : 2'000 + static_cast<int64_t>(c.count / 150);  // >= 150k/s
  int64_t fire_at = NowMs() + lead;
  Phase ingest{"ingest", kRequestLatency};
  d.Drive(&ingest, c.count, d.Schedule(fire_at, [](uint64_t) { return 0; }));
  if (NowMs() > fire_at) {
    std::fprintf(stderr,
                 "rappel-load: ingest ran past the fire time by %" PRId64 " ms: raise --lead-ms\n",
                 NowMs() - fire_at);
  }
  const uint64_t scheduled = ingest.ok;
  o->phases.push_back(std::move(ingest));
  auto start = Steady::now();
  const double cpu0 = ProcessCpuSeconds();
  const int64_t wait_ms = std::max<int64_t>(0, fire_at - NowMs());  // idle until the fire time
  d.RunIo([&] { return d.acked() + d.ack_failed() >= scheduled; },
          [&] { d.Progress("fire", d.acked(), scheduled, start); });
  // The client's CPU over the delivery itself, not the wait for the fire time.
  deliveries.cpu_seconds = ProcessCpuSeconds() - cpu0;
  deliveries.wall_seconds =
      std::max(0.0, Seconds(Steady::now() - start) - static_cast<double>(wait_ms) / 1000);
  d.EndProgress();
  o->expected_deliveries = scheduled;
  d.RecordDeliveries(&deliveries);
  o->phases.push_back(std::move(deliveries));
}

}  // namespace rappel::bench
