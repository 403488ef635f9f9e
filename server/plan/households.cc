#include "server/plan/households.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/plan/render.h"
#include "server/plan/state_keys.h"

namespace rappel::server::plan {

std::vector<const BookEntry*> Households::Companions(const BookEntry& e, MessageKind kind,
                                                     uint32_t occurrence) const {
  std::vector<const BookEntry*> out;
  const Appointment& a = e.appt;
  const Tenant* t = registry_.FindTenant(a.tenant);
  // (Most deployments have no shared number at all: no lookup then.)
  if (!registry_.any_shared_mobile() || t == nullptr || !t->merge_household_sms ||
      !IsReminderKind(kind)) {
    return out;
  }
  const Patient* p = registry_.FindPatient(a.tenant, a.patient);
  if (p == nullptr || p->mobile.empty()) return out;
  const std::vector<std::string>& sharing = registry_.PatientsWithMobile(a.tenant, p->mobile);
  if (sharing.size() < 2) return out;  // the common case: a number of one's own
  int64_t day = LocalDayOf(*t, a.start_ms);
  for (const std::string& who : sharing) {
    for (BookEntry* other :
         log_.OfPatient(a.tenant, who, a.start_ms - 2 * kDayMs, a.start_ms + 2 * kDayMs)) {
      const Appointment& o = other->appt;
      // (The dry run asks about a copy of a held appointment: not its own
      // companion.)
      if (other == &e || o.id == a.id || o.calendar != a.calendar || IsCancelled(o.lifecycle) ||
          o.status != VisitStatus::kNone || LocalDayOf(*t, o.start_ms) != day) {
        continue;
      }
      bool pending = false;
      for (const PlanRef& r : other->plan) {
        pending |= r.kind == kind && r.channel == Channel::kSms && r.occurrence == occurrence;
      }
      if (pending) out.push_back(other);
    }
  }
  std::sort(out.begin(), out.end(), [](const BookEntry* x, const BookEntry* y) {
    return std::tie(x->appt.start_ms, x->appt.id) < std::tie(y->appt.start_ms, y->appt.id);
  });
  return out;
}

std::string Households::Note(const BookEntry& e,
                                 const std::vector<const BookEntry*>& others) const {
  if (others.empty()) return {};
  const Tenant& t = *registry_.FindTenant(e.appt.tenant);
  bool fr = MessageLocale(t, *registry_.FindPatient(e.appt.tenant, e.appt.patient)) == "fr";
  std::string note = fr ? "Également :" : "Also:";
  for (const BookEntry* o : others) {
    const Patient* op = registry_.FindPatient(o->appt.tenant, o->appt.patient);
    auto local = t.zone.ok() ? t.zone.ToLocal(o->appt.start_ms) : t.zone.status();
    std::string time = local.ok() ? absl::StrFormat("%02d:%02d", local->hour, local->minute) : "";
    absl::StrAppend(&note, " ", op->first_name, fr ? " à " : " at ", time,
                    o == others.back() ? "." : ";");
  }
  return note;
}

std::string Households::MergedKey(const BookEntry& e, MessageKind kind, uint32_t occurrence) {
  return ObjKey(e.appt.tenant, MessageKey(e.appt.id, kind, Channel::kSms, occurrence));
}

std::string Households::TakeLeader(const BookEntry& e, MessageKind kind, Channel channel,
                                   uint32_t occurrence) {
  if (channel != Channel::kSms || merged_.empty()) return {};
  auto it = merged_.find(MergedKey(e, kind, occurrence));
  if (it == merged_.end()) return {};
  std::string leader = std::move(it->second);
  merged_.erase(it);  // told once: its message is dropped now
  return leader;
}

void Households::Cover(const std::vector<const BookEntry*>& covered, MessageKind kind,
                       uint32_t occurrence, const std::string& leader) {
  for (const BookEntry* other : covered) merged_[MergedKey(*other, kind, occurrence)] = leader;
}

}  // namespace rappel::server::plan
