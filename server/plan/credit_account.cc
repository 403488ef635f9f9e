#include "server/plan/credit_account.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/plan/objects_json.h"
#include "server/plan/registry.h"
#include "server/plan/state_keys.h"

namespace rappel::server::plan {

absl::Status CreditAccounts::Load(Store::Reader& reader) {
  return ScanByTenant(reader, "pk/", [&](uint32_t tenant, std::string_view, std::string_view v) {
    auto l = DecodeLedger(v);
    if (!l) return absl::DataLossError("corrupt credit ledger record");
    accounts_[tenant].durable = *l;
    return absl::OkStatus();
  });
}

void CreditAccounts::Reload(const std::vector<uint32_t>& tenants) {
  if (tenants.empty()) return;
  auto reader = engine_->store().NewReader();
  if (!reader.ok()) return;
  for (uint32_t tenant : tenants) {
    auto bytes = reader->GetState(LedgerKey(tenant));
    if (!bytes.ok()) continue;
    std::optional<Ledger> l = bytes->has_value() ? DecodeLedger(**bytes) : Ledger{};
    if (l) accounts_[tenant].durable = *l;
  }
}

CreditAccounts::Account CreditAccounts::Find(uint32_t tenant) const {
  auto it = accounts_.find(tenant);
  return it == accounts_.end() ? Account{} : it->second;
}

bool CreditAccounts::Reserve(uint32_t tenant, PlanRef& ref, uint32_t cost) {
  Account& a = Of(tenant);
  if (a.available() < cost) return false;
  ref.credits = cost;
  ref.flags |= PlanRef::kReserved;
  a.durable.reserved += cost;
  return true;
}

bool CreditAccounts::Lease(uint32_t tenant, PlanRef& ref, uint32_t cost) {
  Account& a = Of(tenant);
  uint32_t held = ref.held();
  int64_t before = ref.lease_cost > 0 ? static_cast<int64_t>(ref.lease_cost) - held : 0;
  int64_t extra = static_cast<int64_t>(cost) - held;
  // (A redelivered lease replaces its own earlier extra.)
  if (extra > before && a.available() + before < extra) return false;
  a.lease_extra += extra - before;
  ref.lease_cost = cost;
  return true;
}

void CreditAccounts::EndLease(uint32_t tenant, PlanRef& ref) {
  if (ref.lease_cost == 0) return;
  Of(tenant).lease_extra -= static_cast<int64_t>(ref.lease_cost) - ref.held();
  ref.lease_cost = 0;
}

bool CreditAccounts::Release(uint32_t tenant, PlanRef& ref) {
  if (!ref.reserved() && ref.lease_cost == 0) return false;
  EndLease(tenant, ref);
  uint32_t held = ref.held();
  Of(tenant).durable.reserved -= held;
  ref.flags &= static_cast<uint8_t>(~PlanRef::kReserved);
  return held > 0;
}

void CreditAccounts::Spend(uint32_t tenant, uint32_t cost) {
  Account& a = Of(tenant);
  a.durable.balance -= cost;
  a.durable.spent += cost;
}

void CreditAccounts::Add(uint32_t tenant, int64_t amount) {
  Account& a = Of(tenant);
  a.durable.balance += amount;
  a.durable.added += amount;
  a.waiting_alerted = false;
}

ReminderSpec CreditAccounts::Alert(const Tenant& t, std::string_view what, std::string text) {
  int64_t now = engine_->NowMs();
  nlohmann::json doc = {{"kind", "admin_alert"}, {"alert", std::string(what)}, {"tenant", t.id},
                        {"channel", "email"}, {"to", t.admin_email}, {"rendered_at_ms", now},
                        {"subject", absl::StrCat(t.name.empty() ? "rappel" : t.name, ": ", text)},
                        {"text", text}};
  // Not an appointment's message ("@a/"): handed to an e-mail worker as it is.
  return ReminderSpec{TenantId{t.id}, absl::StrCat("@t/", std::string(what), "/", now, "/", alerts_++),
                      Channel::kEmail, t.admin_email, now, 0, DumpJson(doc, "credit alert")};
}

void CreditAccounts::Write(const Tenant& t, Engine::StateWrites* writes,
                           std::vector<ReminderSpec>* schedule) {
  Account& a = Of(t.id);
  writes->push_back(StatePut(LedgerKey(t.id), EncodeLedger(a.durable)));
  if (!t.metered || t.credit_alert_below <= 0) return;
  if (a.available() >= t.credit_alert_below) {
    a.low_alerted = false;
    return;
  }
  if (a.low_alerted) return;
  a.low_alerted = true;
  if (t.admin_email.empty()) return;
  ReminderSpec alert = Alert(t, "credit-low",
                             absl::StrCat("available credit is ", a.available(),
                                          ", below the alert threshold of ", t.credit_alert_below));
  if (schedule != nullptr) {
    schedule->push_back(std::move(alert));
  } else {
    engine_->Mutate({std::move(alert)}, {}, {}, [](absl::Status) {});
  }
}

void CreditAccounts::NoteWaiting(const Tenant& t) {
  Account& a = Of(t.id);
  if (a.waiting_alerted) return;
  a.waiting_alerted = true;
  if (t.admin_email.empty()) return;
  engine_->Mutate({Alert(t, "credit-waiting",
                         absl::StrCat("messages are waiting for credit (available: ",
                                      a.available(), ")"))},
                  {}, {}, [](absl::Status) {});
}

}  // namespace rappel::server::plan
