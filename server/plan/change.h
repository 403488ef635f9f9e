// Change: what one request of the appointment book changes, built up as
// its items are applied and handed to Engine::Mutate in one commit: the
// messages to schedule and to drop, the state writes (appointment and audit
// records, ledgers, patients), and what memory must take back if the commit
// fails (the entries touched, the ledgers changed).
//
// Thread: the owner (io) thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "server/engine/engine.h"
#include "server/plan/state_keys.h"

namespace rappel::server::plan {

// The change one request makes, handed to Engine::Mutate at Submit. Items
// of one request may touch the same appointment: the last word on each
// message key wins (scheduled, or dropped).
struct Change {
  std::vector<ReminderSpec> schedule;
  std::vector<ReminderKey> drop;
  Engine::StateWrites writes;
  std::vector<std::string> touched;  // ObjKey of each entry changed
  std::vector<uint32_t> ledgers;     // tenants whose ledger changed
  int64_t now = 0;
  // Appointment records this change writes (ObjKey, number): durable once
  // it commits. Every number it gives out is at least first_record.
  std::vector<std::pair<std::string, uint64_t>> records;
  uint64_t first_record = 0;  // 0: none given out yet

  void LedgerChanged(uint32_t tenant) {
    if (std::find(ledgers.begin(), ledgers.end(), tenant) == ledgers.end()) ledgers.push_back(tenant);
  }

  // One request may touch an appointment twice (two versions in a batch, a
  // confirm then a cancel): then the latest word on each message key and
  // state key wins. Until that happens nothing can repeat, and the indexes
  // below stay off (no hashing of every key on the common path).
  absl::flat_hash_set<std::string> touched_set;
  bool dedupe = false;
  // ObjKey(tenant, key) -> index in schedule: one request may touch several
  // tenants, whose appointments may share an id (and so message keys).
  absl::flat_hash_map<std::string, size_t> scheduled_at;
  absl::flat_hash_map<std::string, size_t> written_at;  // state key -> index in writes

  // Before an entry's re-plan is added.
  void Touch(std::string obj) {
    if (!touched_set.insert(obj).second && !dedupe) {
      dedupe = true;
      for (size_t i = 0; i < schedule.size(); ++i) {
        scheduled_at[ObjKey(schedule[i].tenant.value, schedule[i].key)] = i;
      }
      for (size_t i = 0; i < writes.size(); ++i) written_at[writes[i].key] = i;
    }
    touched.push_back(std::move(obj));
  }
  // `may_repeat`: a key other entries' changes may write too (a patient's).
  void Write(StateOp op, bool may_repeat = false) {
    if (!dedupe && !may_repeat) {
      writes.push_back(std::move(op));
      return;
    }
    auto [it, inserted] = written_at.try_emplace(op.key, writes.size());
    if (inserted) {
      writes.push_back(std::move(op));
    } else {
      writes[it->second] = std::move(op);  // the latest wins within one commit
    }
  }
  void Schedule(ReminderSpec r) {
    if (!dedupe) {
      schedule.push_back(std::move(r));
      return;
    }
    auto [it, inserted] = scheduled_at.try_emplace(ObjKey(r.tenant.value, r.key), schedule.size());
    if (inserted) {
      schedule.push_back(std::move(r));
    } else {
      schedule[it->second] = std::move(r);
    }
  }
  // The latest wins here too: a key scheduled by an earlier event of this
  // change (e.g. a confirm) and dropped by a later one (a cancel) is not
  // scheduled (Engine::Mutate would schedule a key both dropped and
  // scheduled). A drop after a schedule in the same change wins.
  void Drop(ReminderKey k) {
    if (!dedupe) {
      drop.push_back(std::move(k));
      return;
    }
    if (auto it = scheduled_at.find(ObjKey(k.tenant.value, k.key)); it != scheduled_at.end()) {
      size_t i = it->second;
      scheduled_at.erase(it);
      if (i + 1 != schedule.size()) {
        schedule[i] = std::move(schedule.back());
        scheduled_at[ObjKey(schedule[i].tenant.value, schedule[i].key)] = i;
      }
      schedule.pop_back();
    }
    drop.push_back(std::move(k));
  }
};

}  // namespace rappel::server::plan
