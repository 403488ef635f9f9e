// appointment-fire: appointment messages all due at once, rendered and
// gated at lease, through to acked delivery. --count appointments are
// booked now, starting --lead-ms + 1 h from now with a reminder 1 h
// before: each one's confirmation and reminder are due within seconds.
// Workers subscribe once everything is due; measured from the first
// delivery to the last ack. With --gates every sending gate is on, none
// holding anything back: the cost of the gates themselves.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "bench/load/appointment_setup.h"
#include "bench/load/scenario.h"

namespace rappel::bench {
namespace {

using client::AsyncClient;

// Ample credit and rate limits that never bind, for --gates.
void OpenGates(Driver& d) {
  const Config& cfg = d.config();
  int answered = 0;
  for (uint32_t t = 1; t <= cfg.tenants; ++t) {
    d.producer().Credits(t, int64_t{1'000'000'000}, [&answered](absl::StatusOr<std::string> r) {
      ++answered;
      if (!r.ok())
        std::fprintf(stderr, "rappel-load: credits: %s\n", r.status().ToString().c_str());
    });
  }
  d.RunIo([&] { return answered == static_cast<int>(cfg.tenants); }, nullptr);
  // Rate limits that never bind (1 000 000/s with as much burst) on both
  // channels, overall and per tenant: the gate and the fair queues work,
  // nothing waits for a token.
  std::vector<client::RateLimit> limits;
  for (client::Channel ch : {client::Channel::kSms, client::Channel::kEmail}) {
    limits.push_back(client::RateLimit{ch, true, 0, 1'000'000, 1000, 1'000'000});
    for (uint32_t t = 1; t <= cfg.tenants; ++t) {
      limits.push_back(client::RateLimit{ch, false, t, 1'000'000, 1000, 1'000'000});
    }
  }
  bool set = false;
  d.producer().SetRateLimits(limits, [&set](absl::Status st) {
    set = true;
    if (!st.ok()) std::fprintf(stderr, "rappel-load: rate limits: %s\n", st.ToString().c_str());
  });
  d.RunIo([&] { return set; }, nullptr);
}

// Adds the messages planned for the appointments booked to *planned.
void Run(Driver& d, AppointmentSetup& setup, std::vector<Phase>* phases, nlohmann::json* out,
         uint64_t* planned) {
  const Config& cfg = d.config();
  // A reminder 1 h before and no minimum lead time, so that appointments
  // booked now starting in 1 h have their confirmation and their reminder
  // due within seconds.
  nlohmann::json tenant{{"reminder_offsets", {"1h"}}, {"min_lead", "0s"}};
  nlohmann::json patient = nlohmann::json::object();
  if (cfg.gates) {
    // Every gate on, none holding anything back: sending hours all day,
    // metered with ample credit, rate limits (below), opt-in with consent
    // given, a daily cap above what anyone gets, household SMS merging.
    nlohmann::json hours = nlohmann::json::object();
    for (const char* day : {"sun", "mon", "tue", "wed", "thu", "fri", "sat"})
      hours[day] = {"00:00-24:00"};
    tenant.update({{"sending_hours", hours},
                   {"metered", true},
                   {"require_consent", true},
                   {"max_reminders_per_day", 1000},
                   {"merge_household_sms", true}});
    patient["consent"] = true;
  }
  if (!setup.SetupObjects(phases, tenant, patient)) return;
  if (cfg.gates) OpenGates(d);
  // Booked now, starting `lead` + 1 h from now: the confirmations are due at
  // once, the reminders at fire_at; workers subscribe after fire_at, so
  // that everything is due when delivery starts.
  int64_t lead = cfg.lead_ms > 0 ? cfg.lead_ms : 2'000 + static_cast<int64_t>(cfg.count / 20);
  int64_t fire_at = NowMs() + lead;
  Phase create{"book", kRequestLatency};
  d.Drive(&create, cfg.count, [&](AsyncClient& c, uint64_t lo, uint64_t hi, Driver::Done done) {
    std::vector<client::AppointmentInput> batch;
    batch.reserve(hi - lo);
    for (uint64_t i = lo; i < hi; ++i) {
      uint32_t tenant_id = 1 + static_cast<uint32_t>(i % cfg.tenants);
      uint32_t patient_id = static_cast<uint32_t>((i / cfg.tenants) % cfg.patients);
      uint32_t calendar = static_cast<uint32_t>((i / cfg.tenants) % cfg.calendars);
      int64_t start = fire_at + kHourMs;
      uint32_t a =
          setup.Add(Appt{tenant_id, patient_id, calendar, 1, start, start + 30 * kMinuteMs});
      batch.push_back(setup.InputOf(a));
      batch.back().id = d.KeyOf(i);
    }
    c.UpsertAppointments(
        batch, Driver::PerItem<AsyncClient::AppointmentResults>(
                   std::move(done), [planned](const auto& item) { *planned += item->planned; }));
  });
  phases->push_back(std::move(create));
  if (phases->back().failed > 0 || d.timed_out()) return;
  if (NowMs() > fire_at) {
    std::fprintf(stderr,
                 "rappel-load: booking ran past the fire time by %" PRId64 " ms: raise --lead-ms\n",
                 NowMs() - fire_at);
  }
  asio::steady_timer wait(d.io(),
                          std::chrono::milliseconds(std::max<int64_t>(0, fire_at - NowMs() + 200)));
  bool waited = false;
  wait.async_wait([&](const asio::error_code&) { waited = true; });
  d.RunIo([&] { return waited; }, nullptr);

  Phase deliveries{"fire", kLagLatency};
  // This run's appointment messages: "<tenant>:@a/<prefix>...".
  std::string mine = "@a/" + d.prefix();
  d.Subscribe(&deliveries, {client::Channel::kSms, client::Channel::kEmail},
              client::AckOutcome::kSent, [mine](const client::Message& m) {
                return m.message_id.find(mine) != std::string::npos ? Driver::kMineUncounted
                                                                    : Driver::kNotMine;
              });
  d.AwaitDeliveries(*planned, "fire", &deliveries);
  phases->push_back(std::move(deliveries));
  (*out)["appointment_fire"] = {{"gates", cfg.gates},
                                {"appointments", cfg.count},
                                {"messages_planned", *planned},
                                {"messages_per_appointment",
                                 cfg.count > 0 ? static_cast<double>(*planned) / cfg.count : 0.0}};
}

}  // namespace

void RunAppointmentFire(Driver& d, Outcome* o, nlohmann::json* report) {
  AppointmentSetup setup(d);
  o->tracks_deliveries = true;
  Run(d, setup, &o->phases, report, &o->expected_deliveries);
  // Answers that come after --max-seconds call into `setup`: close while it
  // lives.
  d.Close();
  (*report)["errors"] = setup.ErrorsJson();
}

void PrintAppointmentFire(const nlohmann::json& r) {
  if (r.contains("appointment_fire")) {
    const auto& a = r["appointment_fire"];
    std::printf("\ngates %s; %llu appointments, %llu messages (%.2f each)\n",
                a["gates"].get<bool>() ? "on" : "off", a["appointments"].get<unsigned long long>(),
                a["messages_planned"].get<unsigned long long>(),
                a["messages_per_appointment"].get<double>());
  }
  PrintErrors(r);
}

}  // namespace rappel::bench
