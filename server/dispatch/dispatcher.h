// Dispatcher: hands due reminders to subscribed workers and takes their acks,
// at least once: a lease not acked by its deadline is handed out again. It is
// the engine's DueSink.
//
//   engine ──OnDue──▶ ready queue per (channel, tenant) ──Pump──▶ worker
//   worker ──Ack──▶ sent/delivered/opened: Engine::Complete
//                   failed-retryable: Engine::Reschedule(now + backoff),
//                                     dead letter after max_attempts
//                   failed-permanent: dead letter
//   lease deadline passed: back to the ready queue, counted as a failed
//                          attempt (dead letter after max_attempts)
//   worker gone: back to the ready queue
//
// It owns the workers, the leases and the two lanes a due message waits in,
// and ties its parts together on the ack path; each part has its own state
// and header:
//
//   lane of a channel with no limit   TenantFifo (tenant_fifo.h), ready_
//   lane of a rate-limited channel    RateLimitedLane (rate_limited_lane.h)
//   leases in flight                  LeaseTable (lease_table.h) + the pool
//   attempt counts, backoff           RetryRecords (retry_records.h)
//   dead letters                      DeadLetters (dead_letters.h)
//   what the book renders or holds    MessageFilter (message_filter.h)
//
// Memory. A due message waits as a reference (DueRef, ~72 bytes with its
// queue entry; waiting_message.h), not its content: Pump reads the key,
// recipient and payload from the log (Engine::ReadDue) as it leases, into
// a MessageContent taken from a small pool of spares whose strings keep
// their capacity. Once its Delivery is encoded, a lease keeps only its
// reference and key (~120 bytes with its LeaseTable entry): the content
// goes back to the pool, and is read from the log again if the lease
// expires and the message is leased anew, or dies (its dead letter holds
// the whole message). A message the filter prepared keeps its content (it
// is not prepared twice). So neither a burst of due messages nor a window
// of leases that are never acked costs their payloads.
//
// Tenants. A worker scoped to some tenants (WorkerOptions::tenants) is
// leased only their messages, in both lanes: it takes from those tenants'
// queues directly (TenantFifo::PopOf, FairQueue::PopOf), never scanning
// past another tenant's messages. A worker of every tenant takes the
// tenants with messages in turn, one message each per turn (so tenants
// are fair to each other with or without a rate limit). Messages of a
// tenant that no subscribed worker may take wait.
//
// Flow control: a worker never holds more than its max_in_flight leases
// (0: 256, at most 10 000), at most batch_size per delivery (0: 64, at
// most 1 000; above a cap AddWorker refuses). Its connection's unsent
// output counts too: while more than max_unsent_bytes wait to be written,
// or once a lease of it expired while its output was not all written (its
// unsent pushes keep its window shut, and the expired message is not
// handed to it again), it is leased nothing until its connection reports
// that it has written everything (Drained). So a worker that never reads
// costs at most max_unsent_bytes and one batch of output, once; a batch
// stops at max_batch_bytes of content (at least one message), so that is
// ~128 KiB a worker however large batch_size is.
//
// Fairness between workers of a channel: round robin. A channel with a rate
// limit is leased from its RateLimitedLane instead of its FIFO; when tokens,
// not workers, hold messages back, NextDeadlineMs includes the time of the
// next token, so the owner's timer (ExpireLeases) pumps again then.
//
// Thread: the owner (io) thread, like the engine. Its parts are not shared.
//
// Durability. What an ack decides rides in one engine commit with the
// records it changes in the store's `state` B-tree (Engine's StateWrites):
// attempt counts (RetryRecords, retry_records.h) and dead letters
// (DeadLetters, dead_letters.h), so the log and they never disagree after
// a crash:
//   - failed-retryable: the reminder's new due time (log) and rt/ (state),
//     one commit;
//   - dead letter: the completion tombstone (log), dl/ put and rt/ delete,
//     one commit; the reminder leaves the log and the wheel;
//   - success: the completion tombstone and the rt/ delete, one commit;
//   - replay: the reminder scheduled again (log) and the dl/ delete, one
//     commit; cancel: the tombstone and the rt/ delete;
//   - lease expired: its rt/ record (the attempt that expired counts as a
//     failure), one commit for a slice of the leases of an expiry pass; at
//     max_attempts a dead letter ("lease expired: attempt n of n not acked
//     within ... ms"), as for a failed-retryable ack. Settled only while
//     the expiry writes not yet durable stay under expiry_slice_messages
//     and _bytes, the rest waiting, so a pass's writes in flight are
//     bounded; dispatcher_expiry.cc.
// Memory follows a commit only once it is durable, and Recover() rebuilds it
// from the state database at start. The per-pending memory is unchanged:
// nothing is added to the engine's index entries; the dispatcher holds a
// small entry only per reminder that has failed at least once and per dead
// letter (capped by max_dead_letters).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/common/histogram.h"
#include "server/dispatch/dead_letters.h"
#include "server/dispatch/lease_table.h"
#include "server/dispatch/message_filter.h"
#include "server/dispatch/rate_gate.h"
#include "server/dispatch/rate_limit.h"
#include "server/dispatch/rate_limited_lane.h"
#include "server/dispatch/retry_records.h"
#include "server/dispatch/tenant_fifo.h"
#include "server/dispatch/waiting_message.h"
#include "server/engine/engine.h"

namespace rappel::server {

struct DispatchOptions {
  int64_t lease_timeout_ms = 30'000;
  uint32_t max_attempts = 5;
  int64_t backoff_base_ms = 1'000;      // attempt n waits base * 2^(n-1)
  int64_t backoff_max_ms = 3'600'000;
  // The store keeps at most this many dead letters: beyond it the oldest is
  // deleted in the same commit as the new one (a bound on the disk a failing
  // provider can fill with payloads; the count of those dropped is in
  // stats). 0: no bound.
  size_t max_dead_letters = 100'000;
  // A worker whose connection holds more than this many bytes it has not
  // yet written to the socket gets no leases until it has written them all.
  size_t max_unsent_bytes = 64u << 10;
  // A delivery holds messages up to this many bytes of content (key,
  // recipient, payload, id), and at least one, whatever batch_size says.
  size_t max_batch_bytes = 64u << 10;
  // Expired leases are settled (re-queued with the attempt counted, or
  // dead-lettered) while the writes of those settled before and not yet
  // durable are under this many messages and this many bytes: the rest
  // wait, slim, and go as those writes become durable. So one pass over
  // many leases does not queue all their writes for the commit thread at
  // once. With nothing in flight, one goes whatever they say.
  size_t expiry_slice_messages = 1'000;
  size_t expiry_slice_bytes = 256u << 10;
  // Lateness reports of rate-limited messages (rate_gate.h).
  RateGateOptions rate;
  // Asked before each hand-out pass; false: nothing is handed out (a shard
  // leader whose etcd lease can no longer be proven). Empty: always.
  std::function<bool()> may_dispatch;
};

// What a worker takes (Subscribe's fields, and its connection's state).
struct WorkerOptions {
  // Caps: 0 means the default; above the cap is InvalidArgument.
  static constexpr uint32_t kDefaultMaxInFlight = 256;
  static constexpr uint32_t kMaxMaxInFlight = 10'000;
  static constexpr uint32_t kDefaultBatchSize = 64;
  static constexpr uint32_t kMaxBatchSize = 1'000;

  std::vector<Channel> channels;
  uint32_t max_in_flight = 0;  // leases held at once
  uint32_t batch_size = 0;     // messages per delivery
  // The tenants whose messages it may receive, sorted by value; nullopt:
  // every tenant.
  std::optional<std::vector<TenantId>> tenants;
  // The bytes its connection has not yet written to the socket (empty:
  // never backed up). Call Dispatcher::Drained when they reach 0.
  std::function<size_t()> unsent_bytes;
};

// A message as handed to a worker's DeliverFn. It points into the
// dispatcher's lease table: valid only during that call (encode it there),
// which spares a copy of every payload on the fire path.
struct LeasedMessage {
  std::string_view message_id;  // stable across retries and redeliveries
  uint64_t lease_id = 0;
  uint32_t attempt = 1;
  int64_t deadline_ms = 0;
  const ReminderSpec* reminder = nullptr;
  bool track_opens = false;  // its template asks the worker to track opens
};

struct DispatchStats {
  uint64_t ready = 0;   // due, waiting for a worker
  uint64_t leased = 0;
  uint64_t workers = 0;
  uint64_t delivered = 0;
  uint64_t acked = 0;
  uint64_t retried = 0;
  uint64_t redelivered = 0;  // lease expired or worker gone
  uint64_t expired_unsettled = 0;  // expired leases waiting for their slice
  uint64_t dead_letters = 0;
  uint64_t dead_letters_dropped = 0;  // deleted beyond max_dead_letters
  uint64_t retrying = 0;              // reminders with a durable failure count
  uint64_t ready_by_channel[kChannelCount + 1] = {};
  uint64_t stale_dropped = 0;     // replaced or cancelled after falling due: not handed out
  uint64_t filter_dropped = 0;    // dropped by the MessageFilter (e.g. a visit status set)
  uint64_t held = 0;              // held back by the MessageFilter (e.g. waiting for credit)
  // MessageContent the store could not give back when leased: the engine took
  // those back and hands them out again later.
  uint64_t read_retried = 0;
  // Rate limits: due, waiting for a token (not in `ready`); reported unable
  // to make their deadline; of those dropped, past their expiry.
  uint64_t rate_waiting = 0;
  uint64_t rate_waiting_by_channel[kChannelCount + 1] = {};
  uint64_t rate_late = 0;
  uint64_t rate_expired = 0;
  // Handed to a worker more than kLateMs after their due time (any lane).
  static constexpr int64_t kLateMs = 1'000;
  uint64_t late_by_channel[kChannelCount + 1] = {};
  // Seconds from due to handed to a worker (each lease, redeliveries too),
  // and from handed out to the worker's outcome (each ack taken).
  WaitHistogram handed_out_lag_seconds;
  WaitHistogram lease_ack_seconds;
};

class Dispatcher : public DueSink, public HeldMessages {
 public:
  using DeliverFn = std::function<void(const std::vector<LeasedMessage>&)>;

  // `engine` must outlive the dispatcher. `filter` (null: none) too; the
  // dispatcher gives it its HeldMessages handle. `wake` (may be empty) is
  // called when NextDeadlineMs now reports a time the owner may not have
  // armed its timer for: rate limits hold messages back until a token, or
  // a Pump outside a Poll or commit (a worker subscribing to a backlog)
  // leased when no lease was held, whose deadline nothing else would
  // notice. It is called from inside a Pump that may run within
  // Engine::Poll: the owner re-arms its timer (posted, not at once).
  Dispatcher(Engine* engine, MessageFilter* filter, DispatchOptions options,
             std::function<int64_t()> clock, std::function<void()> wake = {});
  ~Dispatcher() override;

  // Loads attempt counts, dead letters and rate limits from the store
  // (once, after the engine is open and before its first Poll). Drops
  // attempt records whose reminder is no longer live (cancelled or expired
  // while retrying).
  absl::Status Recover();

  // A worker for options.channels (and options.tenants), holding at most
  // max_in_flight leases, at most batch_size per delivery. Returns its id;
  // InvalidArgument (no worker) for no channels or a cap exceeded.
  absl::StatusOr<uint64_t> AddWorker(WorkerOptions options, DeliverFn deliver);
  // The worker's connection has written everything it held: a worker held
  // back by its unsent output is leased to again.
  void Drained(uint64_t worker_id);
  // Its leases become ready again, delivered to other workers first.
  void RemoveWorker(uint64_t worker_id);
  // `done` runs once what the ack decided is durable (the completion, the
  // retry's new due time), so an acked message never comes back after a
  // crash. NotFound for an unknown lease or one held by another worker
  // (e.g. it expired and went elsewhere): the ack is ignored. A lease is
  // expired from the ExpireLeases pass that finds its deadline passed,
  // even while it still waits for its slice to be settled.
  void Ack(uint64_t worker_id, uint64_t lease_id, AckOutcome outcome, std::string detail,
           std::function<void(absl::Status)> done);
  // The items of one Ack request, answered together with one status each.
  // The completions of every sent/delivered/opened item go to the engine as
  // one write: one commit and one completion for the whole request, not one
  // per message (the fire -> ack path's cost).
  struct AckRequest {
    uint64_t lease_id = 0;
    AckOutcome outcome = AckOutcome::kSent;
    std::string detail;
  };
  void AckBatch(uint64_t worker_id, std::vector<AckRequest> items,
                std::function<void(std::vector<absl::Status>)> done);

  void OnDue(std::vector<DueRef> batch) override;

  // Leases past their deadline go back to ready, and messages that waited
  // for a rate-limit token now due are pumped. Call when NextDeadlineMs
  // comes.
  void ExpireLeases(int64_t now_ms);
  std::optional<int64_t> NextDeadlineMs() const;

  // Oldest first (by the time they died), of one tenant or of all.
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(std::optional<TenantId> tenant,
                                                          size_t limit);
  // Schedules the dead letter again, due now, and deletes it, in one commit;
  // `done` once durable. NotFound if there is none (or a replay of it is
  // already in flight).
  void ReplayDeadLetter(const ReminderKey& key, std::function<void(absl::Status)> done);
  // Cancels through the engine and forgets the attempt counts of the keys
  // in the same commit.
  void Cancel(std::vector<ReminderKey> keys, Engine::StatusesDone done);

  // HeldMessages: the messages of `tenant` the filter held back go back to
  // the ready queues (and are prepared again), e.g. once credit was added.
  void Release(TenantId tenant) override;
  uint64_t held_of(TenantId tenant) const override;
  // Sets or removes (count 0) rate limits, all in one commit; they apply
  // once durable. InvalidArgument (nothing written) if any is invalid.
  void SetRateLimits(std::vector<RateLimit> limits, std::function<void(absl::Status)> done);
  std::vector<RateLimit> RateLimits() const { return rate_lane_.Limits(); }
  // Per channel and per (tenant, channel): limit, tokens, waiting, late.
  std::vector<RateRow> RateRows();

  DispatchStats stats() const;
  // Dead letters per tenant (durable ones).
  uint64_t dead_letters_of(TenantId tenant) const;

 private:
  struct Worker {
    std::vector<Channel> channels;
    std::optional<std::vector<TenantId>> tenants;
    uint32_t max_in_flight;
    uint32_t batch_size;
    uint32_t in_flight = 0;
    DeliverFn deliver;
    std::function<size_t()> unsent_bytes;
    // Its output was backed up, or a lease of it expired while it had
    // output unsent: nothing is leased to it until Drained.
    bool held_back = false;
    uint32_t turn = 0;  // where the round robin over its tenants starts
  };
  // A slot of the lease pool. `content` is set from Load until its
  // Delivery is encoded (Slim), and kept after if the filter prepared it;
  // once slim, `key` holds what the completion names.
  struct Lease {  // its deadline is in leases_
    DueRef ref;
    uint32_t attempt = 1;
    bool prepared = false;
    uint64_t worker = 0;
    int64_t leased_at_ms = 0;
    std::unique_ptr<MessageContent> content;
    std::string key;  // when content is null
  };
  void Pump();
  // Removes and returns the lease, or NotFound when this worker does not hold it.
  absl::StatusOr<Lease> TakeLease(uint64_t worker_id, uint64_t lease_id);
  // The same, leaving the lease in its slot: the caller reads it there and
  // puts the slot back on free_lease_slots_ when done.
  absl::StatusOr<uint32_t> TakeLeaseSlot(uint64_t worker_id, uint64_t lease_id);
  // Removes a lease (which must be there), frees its slot and returns its
  // message.
  WaitingMessage ReleaseLease(uint64_t lease_id);
  // Returns the bytes of the message it submitted (0: none, e.g. stale).
  size_t DeadLetterIt(Lease lease, std::string detail, std::function<void(absl::Status)> done);

  // A free slot of lease_pool_ (not yet in leases_).
  uint32_t NewLeaseSlot();
  // Puts `slot` back on the free list, its content (if any) in the pool.
  void FreeLeaseSlot(uint32_t slot);
  // A MessageContent from the pool of spares (strings with their capacity),
  // or a new one; and one given back to it (kept if the pool has room and
  // its strings are not large).
  std::unique_ptr<MessageContent> SpareContent();
  void Recycle(std::unique_ptr<MessageContent> content);
  // Its Delivery is encoded: an unprepared lease gives its content back,
  // keeping its key.
  void Slim(uint64_t lease_id);
  // What a lease's completion, key and message id are, with or without its
  // content (the id as ReadContent made it: an unprepared message is not
  // the filter's).
  static const std::string& KeyOf(const Lease& lease) {
    return lease.content ? lease.content->due.reminder.key : lease.key;
  }
  static CompletionRef CompletionOf(const Lease& lease);
  std::string MessageIdOf(const Lease& lease) const;
  // The whole message of a slim lease, read from the log again into
  // lease->content. NotFound: replaced or cancelled since; else unreadable.
  absl::Status Refill(Lease* lease);
  // Moves `msg` into a new lease slot with its content (read from the log
  // unless it has it), in *slot. False, nothing held: stale, or the store
  // could not give it back (the engine took it back). `reader` is kept
  // open across calls; reset it before anything else reaches the engine.
  bool Load(WaitingMessage&& msg, std::optional<Store::Reader>* reader, uint32_t* slot);
  // The content of `ref` from the log, and its message id, into *out.
  // False: stale, or unreadable (the engine took it back); counted.
  bool ReadContent(const DueRef& ref, std::optional<Store::Reader>* reader, MessageContent* out);
  // The loaded slot back to a waiting message (with its content).
  WaitingMessage Unload(uint32_t slot);
  // False: the message in `slot` is no longer to be handed out (dropped by
  // the filter, whose completion this submits, or held); the slot is freed.
  bool PrepareForLease(uint32_t slot);
  // The filter hears the outcome of a lease it prepared, if still current.
  bool FilterHears(const Lease& lease) const;
  // The filter's Seal and Settled (MessageFilter) around a commit that may
  // carry its writes.
  uint64_t SealFilter() { return filter_ != nullptr ? filter_->Seal() : 0; }
  void SettleFilter(uint64_t seal, const absl::Status& st) {
    if (filter_ != nullptr) filter_->Settled(seal, st);
  }
  // Leases the loaded `slot` to the worker; appends it to `out`.
  void AddLease(uint32_t slot, uint64_t worker, int64_t deadline, std::vector<LeasedMessage>* out);

  // The message's key, for a log line: read from the log unless it has its
  // content.
  std::string KeyOf(const WaitingMessage& msg);
  // Leases up to `room` messages of ungated channel `c` from its FIFO, of
  // the worker's tenants only.
  void LeaseFifo(Channel c, uint32_t room, uint64_t id, Worker& w, int64_t deadline,
                 std::vector<LeasedMessage>* out);
  // Leases up to `room` messages of gated channel `c` that have a token, of
  // the worker's tenants only.
  void LeaseRateLimited(Channel c, uint32_t room, uint64_t id, Worker& w, int64_t deadline,
                        std::vector<LeasedMessage>* out);
  // Leases past their deadline leave the lease table (an ack of one is
  // NotFound from then on) and join expired_, to be settled in slices.
  void ExpireDue(int64_t now_ms);
  // Settles expired leases while the writes in flight leave room: back to
  // ready with their attempt counted (one commit a slice), or dead letters
  // at max_attempts (dispatcher_expiry.cc).
  void SettleExpired();
  void SubmitExpirySlice();
  // Writes of `messages` expired leases (`bytes`) are durable, or failed.
  void ExpiryWriteDone(size_t messages, size_t bytes);
  // Another expired lease may be settled now.
  bool ExpiryRoom() const;
  // Its expiry passed while it waited for a token: completed, not sent.
  void DropExpired(WaitingMessage msg);
  // Where a waiting message goes: its channel's fair queue when gated (with
  // its content), else the back (or the front) of its FIFO.
  void Requeue(WaitingMessage msg, int64_t now_ms, bool front);

  Engine* engine_;
  MessageFilter* filter_ = nullptr;
  std::function<void()> wake_hook_;
  DispatchOptions options_;
  std::function<int64_t()> clock_;
  TenantFifo<WaitingMessage> ready_[kChannelCount + 1];
  std::map<uint64_t, Worker> workers_;
  uint64_t next_worker_ = 1;
  size_t round_robin_ = 0;
  // Leases live in a pool of reused slots (a deque: a slot never moves, so
  // the pointers handed to DeliverFn stay valid while more are added);
  // leases_ maps a lease id to its slot and holds the deadlines.
  std::deque<Lease> lease_pool_;
  std::vector<uint32_t> free_lease_slots_;
  std::vector<std::unique_ptr<MessageContent>> spare_contents_;
  size_t batch_bytes_ = 0;  // content in the delivery being built
  LeaseTable leases_;
  // Slots of leases that expired and are not settled yet, oldest first;
  // the settled ones whose writes are not durable yet.
  std::deque<uint32_t> expired_;
  size_t expiry_messages_in_flight_ = 0;
  size_t expiry_bytes_in_flight_ = 0;
  bool settling_ = false;
  RetryRecords retries_;
  DeadLetters dead_letters_;
  absl::flat_hash_map<uint32_t, std::vector<WaitingMessage>> held_;  // by tenant (Prepared::hold)
  uint64_t held_count_ = 0;
  RateLimitedLane rate_lane_;
  DispatchStats stats_;
};

}  // namespace rappel::server
