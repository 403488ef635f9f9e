// mixed: schedule at --rate per second (default 20000) for --duration
// seconds, each reminder due --lead-ms (default 1000) after it is sent;
// cancel --cancel-fraction of them before they are due; workers ack the
// rest. Measures the lag from due time to delivery under a steady due rate
// (`mixed --cancel-fraction 0` is the steady due-rate test).
#include <algorithm>

#include "bench/load/scenario.h"

namespace rappel::bench {

void RunMixed(Driver& d, Outcome* o, nlohmann::json*) {
  if (d.config().rate <= 0) d.set_rate(20'000);
  const Config& cfg = d.config();
  uint64_t total = static_cast<uint64_t>(cfg.rate * cfg.duration_s);
  // No items (--duration 0): nothing to deliver, no deliveries to report.
  o->tracks_deliveries = total > 0;
  d.TrackItems(total);
  Phase deliveries{"delivered", kLagLatency};
  d.Subscribe(&deliveries);
  int64_t lead = cfg.lead_ms > 0 ? cfg.lead_ms : 1'000;
  // Item i is sent at start + i / rate and due `lead` later: a steady due rate.
  int64_t start_ms = NowMs();
  double per_item_ms = 1000.0 / cfg.rate;
  uint64_t cancel_every =
      cfg.cancel_fraction > 0
          ? std::max<uint64_t>(1, static_cast<uint64_t>(1 / cfg.cancel_fraction))
          : 0;
  Phase cancels{"cancel", kRequestLatency};
  uint64_t cancel_answers = 0;
  uint64_t cancel_sent = 0;
  Phase ingest{"schedule", kRequestLatency};
  Driver::SendBatch send_schedule = d.Schedule(start_ms + lead, [per_item_ms](uint64_t i) {
    return static_cast<int64_t>(static_cast<double>(i) * per_item_ms);
  });
  auto cancel_start = Steady::now();
  // Each batch's cancels go once its schedule is answered, on its connection.
  d.Drive(
      &ingest, total,
      [&](client::AsyncClient& c, uint64_t lo, uint64_t hi, Driver::Done done) {
        send_schedule(
            c, lo, hi,
            [&, &c = c, lo, hi, done](uint64_t ok, uint64_t failed, const absl::Status& error) {
              done(ok, failed, error);
              if (cancel_every == 0) return;
              std::vector<client::Key> keys;
              for (uint64_t i = lo; i < hi; ++i) {
                if (i % cancel_every == 0) keys.push_back(client::Key{d.TenantOf(i), d.KeyOf(i)});
              }
              if (keys.empty()) return;
              cancel_sent += keys.size();
              auto sent = Steady::now();
              c.Cancel(
                  keys,
                  Driver::ItemStatuses([&, sent, n = keys.size()](uint64_t ok, uint64_t failed,
                                                                  const absl::Status& error) {
                    cancels.latency.Add(
                        std::chrono::duration<double, std::micro>(Steady::now() - sent).count());
                    cancels.ok += ok;
                    cancels.failed += failed;
                    if (!error.ok() && cancels.first_error.empty())
                      cancels.first_error = error.ToString();
                    cancel_answers += n;
                  }));
            });
      },
      [&] { return cancel_answers == cancel_sent; });
  cancels.seconds = Seconds(Steady::now() - cancel_start);
  o->expected_deliveries = ingest.ok - cancels.ok;
  o->phases.push_back(std::move(ingest));
  if (cancel_every != 0) o->phases.push_back(std::move(cancels));
  d.AwaitDeliveries(o->expected_deliveries, "delivered", &deliveries);
  o->phases.push_back(std::move(deliveries));
}

}  // namespace rappel::bench
