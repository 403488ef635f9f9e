// ReminderCap: at most max_reminders_per_day reminders to a patient on one
// of the tenant's local days (the same reminder on two channels counts
// once). It counts what was handed out since the start: memory only, so a
// restart forgets the day's count (a patient may get up to twice the cap
// that day, never fewer than allowed).
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/plan/appointment_record.h"
#include "server/plan/model.h"

namespace rappel::server::plan {

class ReminderCap {
 public:
  // Why this reminder is over the tenant's cap for the patient today (""
  // if it is not).
  std::string Over(const Tenant& t, const BookEntry& e, const ParsedMessageKey& key,
                   int64_t now_ms) const;
  // It is handed out: counted for the patient's day.
  void Count(const Tenant& t, const BookEntry& e, const ParsedMessageKey& key, int64_t now_ms);

 private:
  // The reminders a patient got on their last local day with one.
  struct Day {
    int64_t day = 0;  // local days since 1970-01-01
    std::vector<std::pair<std::string, uint32_t>> sent;  // (appointment, occurrence)
  };
  absl::flat_hash_map<std::string, Day> reminded_;  // ObjKey(tenant, patient)
};

}  // namespace rappel::server::plan
