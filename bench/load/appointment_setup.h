// What the two appointment scenarios (appointments, appointment-fire)
// share: the configuration objects set up before the timed phases, the
// load's view of every appointment it books, and the error count by status
// code (the report's "errors" and its human line).
//
// Setup, untimed, per tenant: the tenant (Europe/Paris, reminders 48h and
// 24h unless the scenario says otherwise), --calendars calendars, one
// on-site type "consult" and --patients patients (a mobile each, every
// other one an e-mail too).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "bench/load/driver.h"
#include "bench/load/report.h"
#include "nlohmann/json.hpp"
#include "rappel/async_client.h"

namespace rappel::bench {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

// One appointment as the load last sent it.
struct Appt {
  uint32_t tenant;
  uint32_t patient;
  uint32_t calendar;
  uint64_t version;
  int64_t start_ms;
  int64_t end_ms;
};

class AppointmentSetup {
 public:
  explicit AppointmentSetup(Driver& d) : d_(d) {}

  // Puts the tenants (with `tenant_extra` merged into each), then their
  // calendars, type and patients (with `patient_extra`), as one "setup"
  // phase. False when anything failed or the run timed out.
  bool SetupObjects(std::vector<Phase>* phases, const nlohmann::json& tenant_extra,
                    const nlohmann::json& patient_extra);

  // Appointment a is keyed like item a ("<prefix><a>").
  uint32_t Add(const Appt& a) {
    appts_.push_back(a);
    return static_cast<uint32_t>(appts_.size() - 1);
  }
  Appt& at(uint32_t a) { return appts_[a]; }
  size_t size() const { return appts_.size(); }
  // The request that books appointment a as it now stands.
  client::AppointmentInput InputOf(uint32_t a) const;

  void CountError(const absl::Status& st) {
    ++errors_[std::string(absl::StatusCodeToString(st.code()))];
  }
  // The report's "errors": failures by status code, every phase.
  nlohmann::json ErrorsJson() const;

 private:
  using Object = std::tuple<client::ObjectKind, uint32_t, std::string, std::string>;
  void PutObjects(Phase* phase, std::vector<Object> objects);

  Driver& d_;
  std::vector<Appt> appts_;
  std::map<std::string, uint64_t> errors_;
};

// The "errors:" line of the human report, if the report has "errors".
void PrintErrors(const nlohmann::json& report);

}  // namespace rappel::bench
