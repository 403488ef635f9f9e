// fairness: two tenants under one SMS rate limit (--sms-rate per second,
// burst a tenth of it, set over the protocol: needs an admin token, and
// cleared at the end). Tenant 1 schedules --count reminders all due at one
// instant; a quarter of the way through their drain, tenant 2 schedules
// --b-count due at once. Tenant 2's due -> delivered lag should be near its
// fair share (2 x b-count / rate), not what is left of tenant 1's burst.
#include <algorithm>
#include <cstdio>

#include "bench/load/scenario.h"

namespace rappel::bench {

void RunFairness(Driver& d, Outcome* o, nlohmann::json* out) {
  const Config& cfg = d.config();
  const uint64_t a_count = cfg.count;
  const uint64_t total = a_count + cfg.b_count;
  o->tracks_deliveries = true;
  d.TrackItems(total);
  client::RateLimit limit{client::Channel::kSms, true, 0,
                          cfg.sms_rate,          1000, std::max<uint32_t>(1, cfg.sms_rate / 10)};
  auto set_limit = [&](const client::RateLimit& l) {
    absl::Status result = absl::UnknownError("no answer");
    bool answered = false;
    d.producer().SetRateLimits({l}, [&](absl::Status st) {
      result = st;
      answered = true;
    });
    d.RunIo([&] { return answered; }, nullptr);
    return result;
  };
  Phase setup{"rate-limit", kRequestLatency};
  if (absl::Status st = set_limit(limit); !st.ok()) {
    setup.failed = 1;
    setup.first_error = "setting the SMS rate limit (admin token needed): " + st.ToString();
    o->phases.push_back(std::move(setup));
    return;
  }
  Phase deliveries{"delivered", kLagLatency};
  // Each tenant's due -> delivered lag, beside the whole run's.
  Phase lag_a{"tenant-1", kLagLatency};
  Phase lag_b{"tenant-2", kLagLatency};
  // Items [0, a_count) are tenant 1's, [a_count, total) tenant 2's.
  d.Subscribe(&deliveries, {client::Channel::kSms}, client::AckOutcome::kDelivered,
              [&d, a_count, &lag_a, &lag_b](const client::Message& m) {
                int64_t item = d.ItemOf(m);
                if (item < 0) return item;
                Phase& lag = static_cast<uint64_t>(item) < a_count ? lag_a : lag_b;
                lag.latency.Add(NowUs() - static_cast<double>(m.reminder.due_ms) * 1000.0);
                ++lag.ok;
                return item;
              });
  auto send = [&d, a_count](int64_t due_ms) -> Driver::SendBatch {
    return [&d, a_count, due_ms](client::AsyncClient& c, uint64_t lo, uint64_t hi,
                                 Driver::Done done) {
      std::vector<client::Reminder> batch;
      batch.reserve(hi - lo);
      for (uint64_t i = lo; i < hi; ++i) {
        uint64_t item = due_ms == 0 ? a_count + i : i;
        batch.push_back(client::Reminder{item < a_count ? 1u : 2u, d.KeyOf(item),
                                         client::Channel::kSms,
                                         "+3360000" + std::to_string(item % 10000),
                                         due_ms == 0 ? NowMs() : due_ms, 0, d.payload()});
      }
      c.Schedule(batch, [done](absl::StatusOr<client::AsyncClient::ScheduleResults> r) {
        if (!r.ok()) return done(0, 1, r.status());
        uint64_t ok = 0;
        for (const auto& item : *r) ok += item.ok() ? 1 : 0;
        done(ok, r->size() - ok, ok == r->size() ? absl::OkStatus() : absl::InternalError("item"));
      });
    };
  };
  int64_t lead = cfg.lead_ms > 0 ? cfg.lead_ms : 1'000 + static_cast<int64_t>(a_count / 100);
  int64_t fire_at = NowMs() + lead;
  Phase ingest_a{"ingest-1", kRequestLatency};
  d.Drive(&ingest_a, a_count, send(fire_at));
  // A quarter of the way through tenant 1's drain at the limit.
  double drain_s = static_cast<double>(a_count) / cfg.sms_rate;
  auto b_at = Steady::now() + std::chrono::milliseconds(std::max<int64_t>(0, fire_at - NowMs())) +
              std::chrono::milliseconds(static_cast<int64_t>(drain_s * 250));
  d.RunIo([&] { return Steady::now() >= b_at; }, nullptr);
  uint64_t a_left = a_count - std::min<uint64_t>(a_count, lag_a.ok);
  Phase ingest_b{"ingest-2", kRequestLatency};
  d.Drive(&ingest_b, cfg.b_count, send(0));
  o->expected_deliveries = ingest_a.ok + ingest_b.ok;
  d.AwaitDeliveries(o->expected_deliveries, "delivered", &deliveries);
  if (absl::Status st = set_limit({client::Channel::kSms, true, 0, 0, 1000, 0}); !st.ok()) {
    deliveries.failed += 1;
    deliveries.first_error = "clearing the rate limit: " + st.ToString();
  }
  o->phases.push_back(std::move(ingest_a));
  o->phases.push_back(std::move(ingest_b));
  o->phases.push_back(std::move(deliveries));
  o->phases.push_back(std::move(lag_a));
  o->phases.push_back(std::move(lag_b));
  (*out)["fairness"] = {
      {"sms_rate", cfg.sms_rate},
      {"burst", limit.burst},
      {"tenant_1_count", a_count},
      {"tenant_2_count", cfg.b_count},
      {"tenant_1_left_when_2_scheduled", a_left},
      // Round robin gives tenant 2 half the rate while both wait.
      {"tenant_2_fair_share_ms", 2000.0 * static_cast<double>(cfg.b_count) / cfg.sms_rate},
      // What a FIFO would have made tenant 2 wait: tenant 1's backlog first.
      {"tenant_2_fifo_ms", 1000.0 * static_cast<double>(a_left + cfg.b_count) / cfg.sms_rate}};
}

void PrintFairness(const nlohmann::json& r) {
  if (!r.contains("fairness")) return;
  const auto& f = r["fairness"];
  std::printf(
      "\nfairness: sms %u/s burst %u; tenant 2's %llu scheduled with %llu of tenant 1's "
      "waiting: fair share %.0f ms, FIFO would be %.0f ms (see the tenant-2 row)\n",
      f["sms_rate"].get<unsigned>(), f["burst"].get<unsigned>(),
      f["tenant_2_count"].get<unsigned long long>(),
      f["tenant_1_left_when_2_scheduled"].get<unsigned long long>(),
      f["tenant_2_fair_share_ms"].get<double>(), f["tenant_2_fifo_ms"].get<double>());
}

}  // namespace rappel::bench
