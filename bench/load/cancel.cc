// cancel: schedule --count reminders (the "setup" phase, as ingest does),
// then cancel them all by key in a random order: the rate of durable
// cancels, and what a cancel costs once the keys are spread over the store.
#include <numeric>

#include "bench/load/scenario.h"

namespace rappel::bench {

void RunCancel(Driver& d, Outcome* o, nlohmann::json*) {
  IngestSpread(d, "setup", &o->phases);
  if (d.timed_out()) return;
  const uint64_t count = d.config().count;
  Phase cancel{"cancel", kRequestLatency};
  // A random order: i -> i * a mod count with a coprime multiplier.
  uint64_t a = 0x9E3779B97F4A7C15ull % count;
  while (std::gcd(a, count) != 1) ++a;
  d.Drive(&cancel, count,
          [&d, a, count](client::AsyncClient& c, uint64_t lo, uint64_t hi, Driver::Done done) {
            std::vector<client::Key> keys;
            keys.reserve(hi - lo);
            for (uint64_t i = lo; i < hi; ++i) {
              uint64_t k = static_cast<uint64_t>((static_cast<unsigned __int128>(i) * a) % count);
              keys.push_back(client::Key{d.TenantOf(k), d.KeyOf(k)});
            }
            c.Cancel(keys, Driver::ItemStatuses(done));
          });
  o->phases.push_back(std::move(cancel));
}

}  // namespace rappel::bench
