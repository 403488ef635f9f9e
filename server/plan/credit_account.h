// CreditAccounts: every tenant's credit ledger (credits.h: balance,
// reserved, added, spent) and the reservations the pending plans hold in
// it, with the administrators' credit alerts.
//
//   plan time   Reserve(ref, cost)      reserved += cost (when affordable)
//   lease       Lease(ref, cost)        the rendered cost beyond the
//                                       reservation, in memory only
//   ack: sent   Release(ref), Spend     balance -= cost, spent += cost
//   ack: retry  EndLease(ref)           only its reservation stays
//   drop/fail   Release(ref)            reserved -= its reservation
//
// Each change to a ledger is written by the caller (Write) in the commit
// that makes it, as pk/<tenant 4>, so `reserved` always equals the sum of
// the reservations the stored plans hold. After a failed commit, Reload
// takes the stored ledger back.
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "server/engine/engine.h"
#include "server/plan/appointment_record.h"
#include "server/plan/credits.h"
#include "server/plan/model.h"

namespace rappel::server::plan {

class CreditAccounts {
 public:
  // The engine schedules the alerts and tells the time; it must outlive us.
  explicit CreditAccounts(Engine* engine) : engine_(engine) {}

  // A tenant's ledger, and what is only in memory.
  struct Account {
    Ledger durable;
    int64_t lease_extra = 0;   // leased messages' rendered cost beyond their reservation
    bool low_alerted = false;  // an alert went out since the balance fell below the threshold
    bool waiting_alerted = false;
    int64_t available() const { return durable.available() - lease_extra; }
  };

  // Loads every ledger (pk/) from the store.
  absl::Status Load(Store::Reader& reader);
  // Takes these tenants' stored ledgers back (their commit failed).
  void Reload(const std::vector<uint32_t>& tenants);

  // The tenant's account (an empty one if it has none yet).
  Account& Of(uint32_t tenant) { return accounts_[tenant]; }
  Account Find(uint32_t tenant) const;
  int64_t available(uint32_t tenant) { return Of(tenant).available(); }

  // Reserves `cost` for `ref` when the tenant can afford it.
  bool Reserve(uint32_t tenant, PlanRef& ref, uint32_t cost);
  // At lease: the rendered cost against what `ref` reserved; false (nothing
  // changed) when the tenant cannot pay the difference.
  bool Lease(uint32_t tenant, PlanRef& ref, uint32_t cost);
  // Takes the lease's extra cost (over its reservation) off the ledger.
  void EndLease(uint32_t tenant, PlanRef& ref);
  // Releases what `ref` holds (its reservation, its lease's extra cost);
  // true when the durable ledger changed.
  bool Release(uint32_t tenant, PlanRef& ref);
  // A message was sent: `cost` leaves the balance.
  void Spend(uint32_t tenant, uint32_t cost);
  // Credit bought: added to the balance (the caller checks the amount).
  void Add(uint32_t tenant, int64_t amount);

  // The ledger record into `writes`, and an alert when the balance has just
  // fallen below the tenant's threshold: into `schedule`, or scheduled on
  // its own when `schedule` is null.
  void Write(const Tenant& t, Engine::StateWrites* writes, std::vector<ReminderSpec>* schedule);
  // A message waits for credit: the first one since the balance last grew
  // sends the administrators an alert.
  void NoteWaiting(const Tenant& t);

 private:
  // An alert e-mail to the tenant's administrators, due now.
  ReminderSpec Alert(const Tenant& t, std::string_view what, std::string text);

  Engine* engine_;
  absl::flat_hash_map<uint32_t, Account> accounts_;
  uint64_t alerts_ = 0;  // alert messages scheduled (their keys' suffix)
};

}  // namespace rappel::server::plan
