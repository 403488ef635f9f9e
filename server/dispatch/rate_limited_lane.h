// RateLimitedLane: the due messages of the channels that have a rate limit
// (per channel, and per tenant on a channel), waiting for a token, and the limits themselves.
//
// A channel with no limit is not the lane's: the dispatcher keeps its plain
// FIFO, untouched, and asks Gated(c) (an array read) only. Once a channel
// has a limit (overall, or for some tenant), its due messages wait here in
// a FairQueue (fair_queue.h: round robin across tenants, earliest deadline
// first within one: the expiry if set, else the due time) and go only with
// a token from the RateGate (rate_gate.h: the buckets, lateness reports).
//
//   dispatcher ──Push──▶ fair queue of c ──Pop (a token taken)──▶ dispatcher
//                          │                  └▶ expired: token given back,
//                          │                     the dispatcher drops it
//                          └ reported late when it joins, if the estimate
//                            at the current rate misses its deadline
//
// Wakes. When tokens, not workers, hold a channel's messages back after a
// pass (HoldBack), the lane remembers when the first of its tenants may
// send; NextWakeMs is the earliest of those, which the owner's timer adds
// to its deadlines (Dispatcher::NextDeadlineMs), and ClearWakesDue says
// when to pump again. A wake with no worker room is not set again, so the
// timer does not spin.
//
// Limits are records in `state` (rate_limit.h: rl/...): RecordsOf builds
// their writes, SetLimit applies one once they are durable, Recover loads
// them at start. Setting or removing a channel's last limit moves its
// waiting messages between the dispatcher's FIFO and the fair queue.
//
// Thread: the owner (io) thread, like the dispatcher. Time is given by the
// caller (unix ms). `key_of` arguments give a message's key for a log line
// (a waiting message may hold no content: its key is in the log), called
// only when a line is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "server/dispatch/fair_queue.h"
#include "server/dispatch/rate_gate.h"
#include "server/dispatch/rate_limit.h"
#include "server/dispatch/tenant_fifo.h"
#include "server/dispatch/waiting_message.h"
#include "server/engine/engine.h"

namespace rappel::server {

class RateLimitedLane {
 public:
  using KeyOf = absl::FunctionRef<std::string(const WaitingMessage&)>;

  explicit RateLimitedLane(RateGateOptions options) : gate_(std::move(options)) {}

  // Loads the limits from the rl/ records in `reader` (once, at start, when
  // nothing waits). Appends to *stale the deletes of records that are not
  // a limit's.
  absl::Status Recover(const Store::Reader& reader, int64_t now_ms, Engine::StateWrites* stale);

  // Validates and normalises `limits` (burst 0 becomes the count) and
  // appends their records (a delete for count 0) to *writes. On
  // InvalidArgument nothing is appended.
  static absl::Status RecordsOf(std::vector<RateLimit>* limits, Engine::StateWrites* writes);
  // Applies one limit whose record is durable. When its channel becomes
  // gated the messages of `fifo` (the channel's) join the fair queue; when
  // it is gated no more, the fair queue's go to the back of `fifo`, tenant
  // by tenant, each earliest deadline first.
  void SetLimit(const RateLimit& limit, int64_t now_ms, TenantFifo<WaitingMessage>* fifo,
                KeyOf key_of);
  // Every limit set, channels overall first, then by tenant.
  std::vector<RateLimit> Limits() const { return gate_.Limits(); }

  bool Gated(Channel c) const { return gate_.Gated(c); }

  // A due or returned message of a gated channel joins its fair queue,
  // reported late at once if it cannot make its deadline at the current
  // rate.
  void Push(WaitingMessage msg, int64_t now_ms, KeyOf key_of);

  struct Popped {
    WaitingMessage msg;
    TenantId tenant;
    // Its expiry passed while it waited: its token was given back; the
    // caller drops it (ReportLate first unless reported_late, then
    // CountExpired), or forgets it if it is no longer current.
    bool expired = false;
    bool reported_late = false;
  };
  // The next message of gated channel c that may go now (round robin across
  // tenants, earliest deadline first within one), its tokens taken (give
  // them back with Refund if it does not go after all), reported late if it
  // is past its deadline and was not when it joined; or an expired one (see
  // Popped). nullopt when nothing waits or no tenant has a token.
  std::optional<Popped> Pop(Channel c, int64_t now_ms, KeyOf key_of);
  // The same, from `tenant`'s messages only (for a worker scoped to some
  // tenants): nullopt when it has none waiting or no token.
  std::optional<Popped> PopOf(Channel c, TenantId tenant, int64_t now_ms, KeyOf key_of);
  // The tenants of `allowed` (sorted by value) with messages of c waiting,
  // into *out.
  void TenantsAmong(Channel c, const std::vector<TenantId>& allowed,
                    std::vector<TenantId>* out) const {
    queues_[static_cast<int>(c)].TenantsAmong(allowed, out);
  }
  void Refund(Channel c, TenantId tenant) { gate_.Refund(c, tenant); }
  void ReportLate(const WaitingMessage& msg, int64_t now_ms, KeyOf key_of);
  void CountExpired(const DueRef& ref) { gate_.CountExpired(ref); }

  // After a pass over channel c that leased what it could: when messages
  // still wait and `room_left` (the worker could have taken more), tokens
  // held them back: remembers when the first tenant may send (of `only`,
  // the worker's tenants with messages waiting, when it is scoped; the
  // earliest wake of the pass stays) and returns true (the owner must
  // re-arm its timer). When nothing waits, forgets c's wake.
  bool HoldBack(Channel c, int64_t now_ms, bool room_left,
                const std::vector<TenantId>* only = nullptr);
  // Forgets the wakes due by now_ms; true if there were any (pump then).
  bool ClearWakesDue(int64_t now_ms);
  std::optional<int64_t> NextWakeMs() const;

  // Per channel and per (tenant, channel): limit, tokens, waiting, late,
  // expired; a channel's row counts the late and expired of its tenants.
  std::vector<RateRow> Rows(int64_t now_ms);
  size_t waiting(Channel c) const { return queues_[static_cast<int>(c)].size(); }
  size_t waiting(Channel c, TenantId tenant) const {
    return queues_[static_cast<int>(c)].size(tenant);
  }
  uint64_t late_total() const { return gate_.late_total(); }
  uint64_t expired_total() const { return gate_.expired_total(); }

 private:
  // A popped message whose tokens are taken: expired, or reported late if
  // it now is.
  Popped Taken(Channel c, FairQueue<WaitingMessage>::Popped popped, int64_t now_ms, KeyOf key_of);

  RateGate gate_;
  FairQueue<WaitingMessage> queues_[kChannelCount + 1];
  // Set when tokens (not workers) held messages of the channel back: when
  // the next one is due.
  std::optional<int64_t> wake_ms_[kChannelCount + 1];
};

}  // namespace rappel::server
