// DeadLetters: the messages that failed for good (a permanent failure, or
// max_attempts retryable ones), kept durably so that an operator can list
// and replay them, and the small in-memory index that orders and counts
// them.
//
// Record, in the store's `state` B-tree (integers big-endian, so that a
// tenant's dead letters sort oldest first):
//
//   dl/<tenant 4><dead_at_ms 8><key hash 16>
//       -> <format 1><attempts 4><detail size 4><last detail>
//          <the reminder: log record encoding, checksummed>
//
// Index (memory, about 100 bytes a dead letter, the payload staying on
// disk): each key hash's tenant and time of death, the global order
// (dead_at_ms, hash) that the list of every tenant follows, the count per
// tenant, and the keys whose replay commit is in flight. One dead letter
// per key: a key that dies again replaces its older record.
//
// The bound. With max_dead_letters > 0 the store holds at most that many:
// the commit that adds one beyond it deletes the oldest (a bound on the
// disk a failing provider can fill with payloads; dropped() counts them).
//
// Durability. The index follows the store, never leads it: it changes only
// once the commit that wrote the records is durable, and Recover rebuilds
// it at start. Adding a dead letter is two steps around a commit the caller
// builds (the dispatcher's: the completion tombstone, this record and the
// end of its attempt count, in one commit):
//
//   DeadLetters::Added added = dead_letters.Add(hash, letter, &writes);
//   engine->Complete({...}, [&](absl::Status st) {
//     if (st.ok()) dead_letters.Committed(added);
//   }, std::move(writes));
//
// Replay is one commit of its own: the reminder scheduled again (log) and
// its dl/ record deleted (state). Log compaction never touches `state`.
//
// Thread: the owner (io) thread, like the engine, which must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/engine/engine.h"

namespace rappel::server {

struct DeadLetter {
  ReminderSpec reminder;
  uint32_t attempts = 0;
  std::string last_detail;
  int64_t dead_at_ms = 0;
};

class DeadLetters {
 public:
  // `max_dead_letters`: the bound (0: none).
  DeadLetters(Engine* engine, size_t max_dead_letters);

  // Loads the index from the dl/ records in `reader` (once, at start).
  // Appends to *stale the deletes of records to drop: the older of two
  // dead letters of one key (two commits raced). Records whose key has not
  // the dl/ key's size are not ours and are left alone.
  absl::Status Recover(const Store::Reader& reader, Engine::StateWrites* stale);

  // What adding a dead letter changes, decided before its commit.
  struct Added {
    KeyHash hash;
    TenantId tenant;
    int64_t dead_at_ms = 0;
    std::optional<int64_t> replaced_at_ms;  // an older dead letter of the key
    std::optional<KeyHash> dropped;         // the oldest, beyond the bound
  };
  // Appends to *writes the new record, the delete of the key's older one
  // and, beyond the bound, the delete of the oldest. The index is
  // unchanged until Committed.
  Added Add(const KeyHash& hash, const DeadLetter& letter, Engine::StateWrites* writes) const;
  // The commit that carried Add's writes is durable: the index follows.
  void Committed(const Added& added);

  // Oldest first (by the time they died), of one tenant or of all, at most
  // `limit`. Read from the store; DataLoss for a corrupt record.
  absl::StatusOr<std::vector<DeadLetter>> List(std::optional<TenantId> tenant, size_t limit) const;
  // Schedules the dead letter of `key` again, due at now_ms with no
  // expiry, and deletes its record, in one commit; `done` once durable.
  // NotFound if there is none, or a replay of it is already in flight.
  void Replay(const ReminderKey& key, int64_t now_ms, std::function<void(absl::Status)> done);

  size_t size() const { return dead_.size(); }
  // Dead letters of `tenant`.
  uint64_t of(TenantId tenant) const;
  // Deleted beyond max_dead_letters since start.
  uint64_t dropped() const { return dropped_; }

 private:
  struct Ref {
    TenantId tenant;
    int64_t dead_at_ms = 0;
  };
  struct HashOf {
    size_t operator()(const KeyHash& k) const { return k.lo; }
  };
  // (dead_at_ms, hash.lo, hash.hi): the global order of dead letters.
  using Order = std::tuple<int64_t, uint64_t, uint64_t>;

  void Insert(const KeyHash& hash, const Ref& ref);
  void Erase(const KeyHash& hash);

  Engine* engine_;
  size_t max_dead_letters_;
  absl::flat_hash_map<KeyHash, Ref, HashOf> dead_;  // durable dl/ records
  std::set<Order> order_;
  absl::flat_hash_map<uint32_t, uint64_t> by_tenant_;
  absl::flat_hash_set<KeyHash, HashOf> replaying_;  // replay commit in flight
  uint64_t dropped_ = 0;
};

}  // namespace rappel::server
