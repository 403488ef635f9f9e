// The objects a planner test plans from (Plan's whole input): an on-site
// appointment in three days, booked yesterday, for a patient with a mobile
// and an e-mail, on a calendar whose practitioner has an e-mail. Each test
// adjusts it before planning.
#pragma once

#include "server/plan/planner.h"

namespace rappel::server::plan {

struct PlanWorld {
  // Plain unix ms; time zones are tested with rendering.
  static constexpr int64_t kNow = 1'800'000'000'000;

  Tenant tenant;
  Calendar calendar;
  AppointmentType type;
  Patient patient;
  Appointment appointment;
  int64_t now = kNow;

  PlanWorld() {
    tenant.id = 1;
    calendar.id = "cal";
    calendar.email = "dr@example.org";
    type.id = "consult";
    type.mode = Mode::kOnSite;
    patient.id = "pat";
    patient.mobile = "+33600000001";
    patient.email = "pat@example.org";
    appointment.id = "apt";
    appointment.start_ms = kNow + 3 * kDayMs;
    appointment.end_ms = appointment.start_ms + 30 * kMinuteMs;
    appointment.booked_at_ms = kNow - kDayMs;
  }

  PlanResult Run(Event event, ChannelMask stopped = 0) const {
    PlanInput in{tenant, calendar, type, patient, appointment, event, now};
    in.stopped_channels = stopped;
    return Plan(in);
  }
};

}  // namespace rappel::server::plan
