// Dispatcher, lease expiry: the pass that takes leases past their deadline
// out of the lease table, and the slices that settle them.
//
// Why slices: leases handed out together expire together, and a pass over
// all of them at once (e.g. 100 000 leased to workers that never read, at
// their last attempt) would queue a dead letter of ~1 KiB each for the
// commit thread in one go. So expired leases wait, slim (reference and key,
// in their pool slot), in expired_, and are settled while the writes of
// those settled before and not yet durable stay under
// expiry_slice_messages and expiry_slice_bytes (the last one may pass the
// bytes): a slice goes, and the next as its writes become durable. What
// this bounds is the dispatcher's writes in flight, not how many leases can
// expire; a pass of fewer leases than the bound is settled at once.
//
// Exactly once: a lease leaves the lease table when its deadline passes, so
// an ack of it is NotFound from then on (as when it was settled at once),
// and it is settled by the one slice that pops it: re-queued once, or
// dead-lettered once (the completion tombstone and the dl/ put in one
// commit). After a crash, a message whose slice was not durable is still
// live in the log, with its last durable attempt count.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/dispatch/dispatcher.h"

namespace rappel::server {

void Dispatcher::ExpireLeases(int64_t now_ms) {
  std::optional<std::pair<uint64_t, int64_t>> oldest = leases_.Oldest();
  bool any = oldest && oldest->second <= now_ms;
  if (any) ExpireDue(now_ms);
  // Tokens due: cleared here, set again by Pump if tokens still hold
  // messages back (so a wake with no worker room does not spin).
  if (rate_lane_.ClearWakesDue(now_ms)) any = true;
  if (any) Pump();
}

void Dispatcher::ExpireDue(int64_t now_ms) {
  for (auto oldest = leases_.Oldest(); oldest && oldest->second <= now_ms;
       oldest = leases_.Oldest()) {
    uint32_t slot = leases_.Find(oldest->first);
    if (auto w = workers_.find(lease_pool_[slot].worker); w != workers_.end()) {
      Worker& worker = w->second;
      --worker.in_flight;
      // Its earlier frames are still unsent: it is not handed this message
      // (nor any other) again until it has written them; the unsent pushes
      // keep its window shut meanwhile.
      if (worker.unsent_bytes && worker.unsent_bytes() > 0) worker.held_back = true;
    }
    ++stats_.redelivered;
    leases_.Erase(oldest->first);
    lease_pool_[slot].worker = 0;  // no worker's any more
    expired_.push_back(slot);
  }
  SettleExpired();
}

void Dispatcher::SettleExpired() {
  if (settling_) return;  // a write that ended at once, inside the loop below
  settling_ = true;
  // Writes that end at once (stale messages) free their room at once, so
  // this goes on until expired_ is empty or the room is taken.
  while (!expired_.empty() && ExpiryRoom()) SubmitExpirySlice();
  settling_ = false;
}

bool Dispatcher::ExpiryRoom() const {
  // Nothing in flight: room for one, whatever the bounds say.
  return expiry_messages_in_flight_ == 0 ||
         (expiry_messages_in_flight_ < options_.expiry_slice_messages &&
          expiry_bytes_in_flight_ < options_.expiry_slice_bytes);
}

void Dispatcher::ExpiryWriteDone(size_t messages, size_t bytes) {
  expiry_messages_in_flight_ -= messages;
  expiry_bytes_in_flight_ -= bytes;
  if (settling_ || expired_.empty()) return;
  SettleExpired();
  Pump();  // the slice's re-queued messages
}

void Dispatcher::SubmitExpirySlice() {
  // The attempt counts of the slice's re-queued messages, in one commit.
  Engine::StateWrites records;
  size_t record_messages = 0;
  size_t record_bytes = 0;
  int64_t now_ms = clock_();
  while (!expired_.empty() && ExpiryRoom()) {
    uint32_t slot = expired_.front();
    expired_.pop_front();
    const Lease& lease = lease_pool_[slot];
    uint32_t failures = lease.attempt;  // the attempt that expired
    if (retries_.Exhausted(failures)) {
      Lease dead = std::move(lease_pool_[slot]);
      FreeLeaseSlot(slot);
      // Its bytes are known once it is read again; a write that ends at
      // once (stale, unreadable) has none.
      auto bytes = std::make_shared<size_t>(0);
      ++expiry_messages_in_flight_;
      *bytes = DeadLetterIt(std::move(dead),
                            absl::StrCat("lease expired: attempt ", failures, " of ",
                                         options_.max_attempts, " not acked within ",
                                         options_.lease_timeout_ms, " ms"),
                            [this, bytes](absl::Status) { ExpiryWriteDone(1, *bytes); });
      expiry_bytes_in_flight_ += *bytes;
      continue;
    }
    // Remembered at once, not when durable: an ack or cancel that ends the
    // count must see it, and its commit comes after this slice's. (A stale
    // one is dropped when next loaded: no count for it.)
    if (engine_->IsCurrent(lease.ref)) {
      RetryRecords::Attempts a{failures, MessageIdOf(lease)};
      size_t bytes = 64 + a.message_id.size();
      retries_.RecordIn(lease.ref.hash, a, &records);
      retries_.Remember(lease.ref.hash, std::move(a));
      ++record_messages;
      record_bytes += bytes;
      ++expiry_messages_in_flight_;
      expiry_bytes_in_flight_ += bytes;
    }
    WaitingMessage msg = Unload(slot);
    ++msg.attempt;
    Requeue(std::move(msg), now_ms, /*front=*/true);
  }
  if (!records.empty()) {
    engine_->WriteState(std::move(records), [this, record_messages, record_bytes](absl::Status) {
      ExpiryWriteDone(record_messages, record_bytes);
    });
  }
}

}  // namespace rappel::server
