// Households: one SMS for a household's same-day appointments (tenant
// setting merge_household_sms). Patients who share a mobile number and
// have reminders due on the same local day with the same calendar get one
// SMS: the first to fall due names the others ("Également : Paul à
// 10:30."), and theirs are dropped when they fall due.
//
// Memory only: after a restart a covered reminder is sent on its own
// (twice told, never untold).
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/plan/appointment_log.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {

class Households {
 public:
  // Both must outlive us.
  Households(const ObjectRegistry& registry, const AppointmentLog& log)
      : registry_(registry), log_(log) {}

  // Other appointments of the same local day and calendar whose patient
  // has the same mobile and that have this SMS reminder pending: one SMS
  // covers them. In start order; empty when the tenant does not merge.
  std::vector<const BookEntry*> Companions(const BookEntry& e, MessageKind kind,
                                           uint32_t occurrence) const;
  // "Également : Paul à 10:30." naming `others`, in the patient's language
  // (empty: none).
  std::string Note(const BookEntry& e, const std::vector<const BookEntry*>& others) const;
  // `leader`'s SMS went and covers these: their own are dropped when due.
  void Cover(const std::vector<const BookEntry*>& covered, MessageKind kind, uint32_t occurrence,
             const std::string& leader);
  // The appointment whose SMS already covered this one ("" if none); told
  // once.
  std::string TakeLeader(const BookEntry& e, MessageKind kind, Channel channel,
                         uint32_t occurrence);

 private:
  static std::string MergedKey(const BookEntry& e, MessageKind kind, uint32_t occurrence);

  const ObjectRegistry& registry_;
  const AppointmentLog& log_;
  // ObjKey(tenant, message key) of an SMS reminder covered by another
  // appointment's SMS -> that appointment's id.
  absl::flat_hash_map<std::string, std::string> merged_;
};

}  // namespace rappel::server::plan
