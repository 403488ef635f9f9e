// BookViews: what the book shows of itself, as JSON documents (the fields
// are in protocol/README.md): an appointment with its pending plan, audit
// trail and dry run (Show); what a hypothetical appointment would send
// (DryRun); a tenant's credits, what waits and the forecast (Credits).
// Reads only; nothing is written.
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/engine/engine.h"
#include "server/plan/appointment_log.h"
#include "server/plan/credit_account.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {

class BookViews {
 public:
  // Each must outlive the views.
  BookViews(Engine& engine, const ObjectRegistry& registry, const AppointmentLog& log,
            const CreditAccounts& credits)
      : engine_(engine), registry_(registry), log_(log), credits_(credits) {}

  // NotFound for an unknown appointment.
  absl::StatusOr<std::string> Show(uint32_t tenant, const std::string& id) const;
  // NotFound for an unknown tenant, calendar, type or patient;
  // InvalidArgument when it ends before it starts.
  absl::StatusOr<std::string> DryRun(const Appointment& hypothetical) const;
  // `waiting_for_credit`: the dispatcher's count of the tenant's held
  // messages. NotFound for an unknown tenant.
  absl::StatusOr<std::string> Credits(uint32_t tenant, uint64_t waiting_for_credit) const;

 private:
  // The pending plan, with why each message is not out yet.
  nlohmann::json PlanJson(const BookEntry& e) const;

  Engine& engine_;  // its clock and a store reader
  const ObjectRegistry& registry_;
  const AppointmentLog& log_;
  const CreditAccounts& credits_;
};

}  // namespace rappel::server::plan
