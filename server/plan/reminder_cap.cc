#include "server/plan/reminder_cap.h"

#include "absl/strings/str_cat.h"
#include "server/plan/state_keys.h"

namespace rappel::server::plan {

std::string ReminderCap::Over(const Tenant& t, const BookEntry& e, const ParsedMessageKey& key,
                              int64_t now) const {
  if (t.max_reminders_per_day == 0 || !IsReminderKind(key.kind)) return {};
  auto it = reminded_.find(ObjKey(e.appt.tenant, e.appt.patient));
  if (it == reminded_.end() || it->second.day != LocalDayOf(t, now)) return {};
  const auto& sent = it->second.sent;
  for (const auto& [appt, occ] : sent) {
    if (appt == e.appt.id && occ == key.occurrence) return {};  // the same reminder on another channel
  }
  if (sent.size() < t.max_reminders_per_day) return {};
  return absl::StrCat("cap: the patient already had ", sent.size(),
                      " reminder(s) today (at most ", t.max_reminders_per_day, " a day)");
}

void ReminderCap::Count(const Tenant& t, const BookEntry& e, const ParsedMessageKey& key,
                        int64_t now) {
  if (!IsReminderKind(key.kind)) return;
  Day& d = reminded_[ObjKey(e.appt.tenant, e.appt.patient)];
  int64_t day = LocalDayOf(t, now);
  if (d.day != day) {
    d.day = day;
    d.sent.clear();
  }
  for (const auto& [appt, occ] : d.sent) {
    if (appt == e.appt.id && occ == key.occurrence) return;
  }
  d.sent.emplace_back(e.appt.id, key.occurrence);
}

}  // namespace rappel::server::plan
