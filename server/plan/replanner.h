// Replanner: turns an appointment event into its new plan (planner.h) and
// adds the difference to the request's Change: messages newly planned are
// scheduled (a metered tenant's SMS and voice reserve their credits, or go
// by e-mail when the tenant says so), messages of the old plan the new one
// does not keep are dropped (their credits released), notices not yet sent
// outlive a later event unless a newer one replaces them, and everything is
// told in an audit record. A message already pending as planned (same
// time) is left as it is, with its reservation.
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/plan/appointment_log.h"
#include "server/plan/change.h"
#include "server/plan/credit_account.h"
#include "server/plan/households.h"
#include "server/plan/message_renderer.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {

// What the notices of an event tell beyond the event itself.
struct ReplanTold {
  bool absence = false;           // a cancellation caused by the practitioner's absence
  int64_t previous_start_ms = 0;  // the time before a move (0: the time did not move)
  int64_t previous_end_ms = 0;
};

class Replanner {
 public:
  // Each must outlive us. Due times further than `horizon_ms` from now are
  // left out of a plan (the engine's horizon).
  Replanner(const ObjectRegistry& registry, AppointmentLog& log, CreditAccounts& credits,
            const Households& households, MessageRenderer& renderer, int64_t horizon_ms)
      : registry_(registry),
        log_(log),
        credits_(credits),
        households_(households),
        renderer_(renderer),
        horizon_ms_(horizon_ms) {}

  using Told = ReplanTold;
  // Plans `entry` after `event` and adds its re-plan to `change` (`why`:
  // the audit's reason for what is dropped). The notices planned carry
  // the event's Cause and `told` (MessageRef), for their text.
  // FailedPrecondition when an object the appointment refers to is gone.
  absl::Status Replan(BookEntry& entry, Event event, std::string_view why, Change& change,
                      const Told& told = {});
  // The Cause a notice of `event` tells.
  static Cause CauseOf(Event event, const Appointment& a, bool absence);

  // Sends `kind` now for `entry` as it is (PlanSendNow, planner.h) and adds
  // it to `change`: scheduled on each channel allowed (credits reserved as
  // Replan does), the channels left out in the audit. It stays pending
  // through later re-plans while it still fits the appointment. Returns how
  // many messages; FailedPrecondition, naming why, when none can go;
  // ResourceExhausted past 20 sends on request of the appointment in the
  // tenant's local day (then nothing is added).
  absl::StatusOr<uint32_t> SendNow(BookEntry& entry, MessageKind kind, Change& change);

 private:
  // The planner's input for `a` after `event` at `now_ms` (its objects
  // looked up, STOP replies applied). FailedPrecondition when an object it
  // refers to is gone. Its references live as long as the registry's
  // objects and `a`.
  absl::StatusOr<PlanInput> InputFor(const Appointment& a, Event event, int64_t now_ms) const;

  const ObjectRegistry& registry_;
  AppointmentLog& log_;
  CreditAccounts& credits_;
  const Households& households_;
  MessageRenderer& renderer_;
  int64_t horizon_ms_;
};

}  // namespace rappel::server::plan
