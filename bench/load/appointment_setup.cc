#include "bench/load/appointment_setup.h"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace rappel::bench {

using client::AsyncClient;

client::AppointmentInput AppointmentSetup::InputOf(uint32_t a) const {
  const Appt& x = appts_[a];
  client::AppointmentInput in;
  in.tenant = x.tenant;
  in.id = d_.KeyOf(a);
  in.calendar = "cal-" + std::to_string(x.calendar);
  in.type = "consult";
  in.patient = "p" + std::to_string(x.patient);
  in.start_ms = x.start_ms;
  in.end_ms = x.end_ms;
  in.booked_at_ms = NowMs();
  in.channels =
      client::ChannelBit(client::Channel::kSms) | client::ChannelBit(client::Channel::kEmail);
  in.version = x.version;
  return in;
}

void AppointmentSetup::PutObjects(Phase* phase, std::vector<Object> objects) {
  // 64 objects per batch, 8 batches in flight per connection.
  d_.Drive(
      phase, objects.size(),
      [&](AsyncClient& c, uint64_t lo, uint64_t hi, Driver::Done done) {
        auto left = std::make_shared<uint64_t>(hi - lo);
        auto ok = std::make_shared<uint64_t>(0);
        auto first = std::make_shared<absl::Status>();
        for (uint64_t i = lo; i < hi; ++i) {
          const auto& [kind, tenant, id, json] = objects[i];
          c.PutObject(kind, tenant, id, json,
                      [this, left, ok, first, done](absl::StatusOr<std::string> r) {
                        if (r.ok()) {
                          ++*ok;
                        } else {
                          CountError(r.status());
                          if (first->ok()) *first = r.status();
                        }
                        if (--*left == 0) {
                          done(*ok, 0, *first);  // failures counted below
                        }
                      });
        }
      },
      nullptr, 64, 8);
  phase->failed = objects.size() - phase->ok;
}

bool AppointmentSetup::SetupObjects(std::vector<Phase>* phases, const nlohmann::json& tenant_extra,
                                    const nlohmann::json& patient_extra) {
  const Config& c = d_.config();
  // Tenants first (the rest needs them), then calendars, type, patients.
  std::vector<Object> tenants;
  std::vector<Object> objects;
  for (uint32_t t = 1; t <= c.tenants; ++t) {
    nlohmann::json tenant{{"name", "Cabinet " + std::to_string(t)},
                          {"time_zone", "Europe/Paris"},
                          {"reminder_offsets", {"48h", "24h"}}};
    // Every kind on every channel the switches allow, as before kinds had
    // channels of their own: the same messages per appointment as the
    // figures in bench/RESULTS.md.
    nlohmann::json every_channel = nlohmann::json::object();
    for (const char* kind : {"confirmation", "change", "cancellation", "patient_cancel_ack",
                             "confirm_ack", "reminder", "pre_visit", "post_visit", "recall",
                             "delay_alert"}) {
      every_channel[kind] = nlohmann::json::array({"sms", "email", "voice", "push"});
    }
    every_channel["second_reminder"] = nlohmann::json::array({"sms"});
    every_channel["practitioner"] = nlohmann::json::array({"email"});
    tenant["channels_by_kind"] = every_channel;
    tenant.update(tenant_extra);
    tenants.emplace_back(client::ObjectKind::kTenant, t, "", tenant.dump());
    for (uint32_t k = 0; k < c.calendars; ++k) {
      objects.emplace_back(client::ObjectKind::kCalendar, t, "cal-" + std::to_string(k),
                           nlohmann::json{{"name", "Dr " + std::to_string(k)},
                                          {"email", "dr" + std::to_string(k) + "@example.org"}}
                               .dump());
    }
    objects.emplace_back(client::ObjectKind::kAppointmentType, t, "consult",
                         R"({"name": "Consultation", "mode": "on_site"})");
    for (uint32_t p = 0; p < c.patients; ++p) {
      std::string n = std::to_string(p);
      // Every other patient gives only a mobile number: with a notice and
      // two reminders per channel, 3 to 6 messages per appointment, 4.5 on
      // average (the issue's "3-5 messages planned per appointment").
      nlohmann::json patient{
          {"first_name", "Prenom" + n},
          {"last_name", "Nom" + n},
          {"mobile", "+3361" + std::string(8 - std::min<size_t>(8, n.size()), '0') + n}};
      if (p % 2 == 0) patient["email"] = "p" + n + "@example.org";
      patient.update(patient_extra);
      objects.emplace_back(client::ObjectKind::kPatient, t, "p" + n, patient.dump());
    }
  }
  Phase setup{"setup", "64 object puts sent -> all durable"};
  auto setup_start = Steady::now();
  PutObjects(&setup, std::move(tenants));
  Phase rest{"setup", ""};
  if (setup.failed == 0 && !d_.timed_out()) {
    PutObjects(&rest, std::move(objects));
    setup.ok += rest.ok;
    setup.failed += rest.failed;
    setup.latency.Merge(rest.latency);
    if (setup.first_error.empty()) setup.first_error = rest.first_error;
  }
  setup.seconds = Seconds(Steady::now() - setup_start);
  phases->push_back(std::move(setup));
  return phases->back().failed == 0 && !d_.timed_out();
}

nlohmann::json AppointmentSetup::ErrorsJson() const {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, n] : errors_) errors[code] = n;
  return errors;
}

void PrintErrors(const nlohmann::json& report) {
  if (!report.contains("errors")) return;
  std::string line;
  for (const auto& [code, n] : report["errors"].items()) {
    line += (line.empty() ? "" : ", ") + code + " " + std::to_string(n.get<unsigned long long>());
  }
  std::printf("errors: %s\n", line.empty() ? "none" : line.c_str());
}

}  // namespace rappel::bench
