// RetryRecords: how many times each message that failed has failed, and
// the id it keeps across its retries, durable so that max_attempts holds
// across crashes; and the policy that decides what a failure leads to (the
// backoff before the next attempt, or a dead letter).
//
// Record, in the store's `state` B-tree (integers big-endian):
//
//   rt/<key hash 16> -> <format 1><failures 4><message id>
//
// Memory: one small entry per message that has failed at least once and
// is still pending (none for the others: nothing is added per pending
// message). Failures are rare next to schedules, so random B-tree writes
// are fine here (the hot, high-volume records stay in the log).
//
// Durability. A record rides in the commit that decides its message's fate
// (the caller builds it: the dispatcher's ack path), and memory follows
// only once that commit is durable:
//
//   the message's fate              the commit holds              then
//   failed-retryable                new due time (log), RecordIn  Remember
//   lease expired                   RecordIn (one commit a pass)  Remember at
//                                                                 once (*)
//   sent, dead letter, expired      completion (log), EndIn       Forget
//   cancelled                       tombstone (log), EndIn        Forget
//
// (*) The message is back in a ready queue at once: an ack or a cancel
// that ends its count must see the record, and their commits come after.
//
// Recover rebuilds memory at start and drops the records of messages no
// longer live (cancelled or expired while retrying). Log compaction never
// touches `state`.
//
// `failures` is the number of the attempt that failed last: an attempt
// whose lease expired counts as well (durably), and one whose worker went
// away raises the attempt number in memory.
//
// Example (max_attempts 3, backoff base 1 s): the first failure writes
// failures 1 and the message comes back after 1 s as attempt 2; the second
// writes failures 2, back after 2 s as attempt 3; the third reaches
// max_attempts: a dead letter, and the record's delete rides in its commit.
//
// Thread: the owner (io) thread, like the engine. The lookups are inline:
// the fire path asks them for every message, and they cost one branch while
// nothing has failed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "server/engine/engine.h"

namespace rappel::server {

// What a retryable failure leads to (the DispatchOptions of the same names).
struct RetryPolicy {
  uint32_t max_attempts = 5;
  int64_t backoff_base_ms = 1'000;  // attempt n waits base * 2^(n-1)
  int64_t backoff_max_ms = 3'600'000;
};

class RetryRecords {
 public:
  struct Attempts {
    uint32_t failures = 0;
    std::string message_id;  // the id of the first attempt, kept by every retry
  };

  explicit RetryRecords(RetryPolicy policy) : policy_(policy) {}

  // Loads the rt/ records in `reader` (once, at start). Appends to *stale
  // the deletes of records that are not well formed or whose reminder
  // `engine` no longer has live.
  absl::Status Recover(const Store::Reader& reader, const Engine& engine,
                       Engine::StateWrites* stale);

  // The policy. A message that failed `failures` times in all (this one
  // included) is a dead letter once Exhausted; else it waits BackoffMs.
  bool Exhausted(uint32_t failures) const { return failures >= policy_.max_attempts; }
  int64_t BackoffMs(uint32_t failures) const {
    int64_t backoff = policy_.backoff_base_ms << std::min<uint32_t>(failures - 1, 30);
    return std::min(backoff, policy_.backoff_max_ms);
  }

  // The attempt number of the message's next delivery (1 when it never
  // failed).
  uint32_t NextAttempt(const KeyHash& hash) const {
    if (attempts_.empty()) return 1;
    auto it = attempts_.find(hash);
    return it == attempts_.end() ? 1 : it->second.failures + 1;
  }
  // The id its first attempt had, or null when it never failed.
  const std::string* MessageIdOf(const KeyHash& hash) const {
    if (attempts_.empty()) return nullptr;
    auto it = attempts_.find(hash);
    return it == attempts_.end() ? nullptr : &it->second.message_id;
  }
  bool Has(const KeyHash& hash) const { return !attempts_.empty() && attempts_.contains(hash); }

  // Appends to *writes the record of a failure (`attempts`: the count with
  // it); Remember once the commit is durable.
  void RecordIn(const KeyHash& hash, const Attempts& attempts, Engine::StateWrites* writes) const;
  void Remember(const KeyHash& hash, Attempts attempts) { attempts_[hash] = std::move(attempts); }
  // When the message has a record: appends its delete to *writes and
  // returns true (Forget once the commit is durable).
  bool EndIn(const KeyHash& hash, Engine::StateWrites* writes) const {
    if (!Has(hash)) return false;
    writes->push_back(EndOf(hash));
    return true;
  }
  void Forget(const KeyHash& hash) { attempts_.erase(hash); }

  bool empty() const { return attempts_.empty(); }
  size_t size() const { return attempts_.size(); }

 private:
  struct HashOf {
    size_t operator()(const KeyHash& k) const { return k.lo; }
  };
  static Engine::StateWrites::value_type EndOf(const KeyHash& hash);

  RetryPolicy policy_;
  absl::flat_hash_map<KeyHash, Attempts, HashOf> attempts_;  // durable rt/ records
};

}  // namespace rappel::server
