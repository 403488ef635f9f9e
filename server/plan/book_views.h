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
#include "server/plan/households.h"
#include "server/plan/message_renderer.h"
#include "server/plan/planner.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {

class BookViews {
 public:
  // Each must outlive the views.
  BookViews(Engine& engine, const ObjectRegistry& registry, const AppointmentLog& log,
            const CreditAccounts& credits, const Households& households,
            MessageRenderer& renderer)
      : engine_(engine),
        registry_(registry),
        log_(log),
        credits_(credits),
        households_(households),
        renderer_(renderer) {}

  // NotFound for an unknown appointment.
  absl::StatusOr<std::string> Show(uint32_t tenant, const std::string& id) const;
  // Each planned message carries its credits (plan_cost.h: as booking
  // would reserve them) and the dry run their total. NotFound for an
  // unknown tenant, calendar, type or patient; InvalidArgument when it ends
  // before it starts; FailedPrecondition (InactiveType) for a new
  // appointment of an inactive type, as booking refuses it.
  absl::StatusOr<std::string> DryRun(const Appointment& hypothetical) const;
  // `waiting_for_credit`: the dispatcher's count of the tenant's held
  // messages. NotFound for an unknown tenant.
  absl::StatusOr<std::string> Credits(uint32_t tenant, uint64_t waiting_for_credit) const;

 private:
  // The pending plan, with why each message is not out yet.
  nlohmann::json PlanJson(const BookEntry& e) const;
  // `plan` of `e` as the dry run shows it, each message with its credits.
  nlohmann::json DryRunJson(const BookEntry& e, const PlanResult& plan, const MessageRef& ref,
                            int64_t now) const;

  Engine& engine_;  // its clock and a store reader
  const ObjectRegistry& registry_;
  const AppointmentLog& log_;
  const CreditAccounts& credits_;
  const Households& households_;
  MessageRenderer& renderer_;  // (its links cache is all a dry run changes)
};

// Why an appointment of an inactive type cannot be booked (nor dry-run).
absl::Status InactiveType(std::string_view type_id);

}  // namespace rappel::server::plan
