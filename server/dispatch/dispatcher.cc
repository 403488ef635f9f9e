#include "server/dispatch/dispatcher.h"

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "server/common/check.h"

namespace rappel::server {
namespace {

// What a message adds to a Delivery, about (WorkerRequests' own estimate).
size_t ContentBytes(const MessageContent& c) {
  const ReminderSpec& r = c.due.reminder;
  return 96 + c.message_id.size() + r.key.size() + r.recipient.size() + r.payload.size();
}

}  // namespace

Dispatcher::Dispatcher(Engine* engine, MessageFilter* filter, DispatchOptions options,
                       std::function<int64_t()> clock, std::function<void()> wake)
    : engine_(engine),
      filter_(filter),
      wake_hook_(std::move(wake)),
      options_(options),
      clock_(std::move(clock)),
      retries_(
          RetryPolicy{options_.max_attempts, options_.backoff_base_ms, options_.backoff_max_ms}),
      dead_letters_(engine, options_.max_dead_letters),
      rate_lane_(options_.rate) {
  if (filter_ != nullptr) filter_->held_ = this;
}

Dispatcher::~Dispatcher() {
  if (filter_ != nullptr) filter_->held_ = nullptr;
}

absl::Status Dispatcher::Recover() {
  Engine::StateWrites stale;
  {
    auto reader = engine_->store().NewReader();
    if (!reader.ok()) return reader.status();
    absl::Status st = retries_.Recover(*reader, *engine_, &stale);
    if (!st.ok()) return st;
    st = dead_letters_.Recover(*reader, &stale);
    if (!st.ok()) return st;
    st = rate_lane_.Recover(*reader, clock_(), &stale);
    if (!st.ok()) return st;
  }
  if (!stale.empty()) engine_->WriteState(std::move(stale), [](absl::Status) {});
  return absl::OkStatus();
}

uint64_t Dispatcher::dead_letters_of(TenantId tenant) const { return dead_letters_.of(tenant); }

absl::StatusOr<uint64_t> Dispatcher::AddWorker(WorkerOptions options, DeliverFn deliver) {
  using O = WorkerOptions;
  if (options.channels.empty()) return absl::InvalidArgumentError("no channels to serve");
  if (options.max_in_flight > O::kMaxMaxInFlight) {
    return absl::InvalidArgumentError(absl::StrCat("max_in_flight ", options.max_in_flight,
                                                   " is over the cap of ", O::kMaxMaxInFlight));
  }
  if (options.batch_size > O::kMaxBatchSize) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size ", options.batch_size,
                                                   " is over the cap of ", O::kMaxBatchSize));
  }
  uint64_t id = next_worker_++;
  Worker& w = workers_[id];
  w.channels = std::move(options.channels);
  w.tenants = std::move(options.tenants);
  w.max_in_flight = options.max_in_flight == 0 ? O::kDefaultMaxInFlight : options.max_in_flight;
  w.batch_size = options.batch_size == 0 ? O::kDefaultBatchSize : options.batch_size;
  w.deliver = std::move(deliver);
  w.unsent_bytes = std::move(options.unsent_bytes);
  Pump();
  return id;
}

void Dispatcher::Drained(uint64_t worker_id) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || !it->second.held_back) return;
  it->second.held_back = false;
  Pump();
}

void Dispatcher::RemoveWorker(uint64_t worker_id) {
  if (workers_.erase(worker_id) == 0) return;
  std::vector<uint64_t> orphaned;
  leases_.ForEach([&](uint64_t id, uint32_t slot) {
    if (lease_pool_[slot].worker == worker_id) orphaned.push_back(id);
  });
  // Newest first to the front: the oldest ends up first in the queue.
  for (auto it = orphaned.rbegin(); it != orphaned.rend(); ++it) {
    WaitingMessage msg = ReleaseLease(*it);
    ++msg.attempt;
    ++stats_.redelivered;
    Requeue(std::move(msg), clock_(), /*front=*/true);
  }
  Pump();
}

void Dispatcher::OnDue(std::vector<DueRef> batch) {
  int64_t now = clock_();
  for (const DueRef& d : batch) {
    Requeue(WaitingMessage{d, retries_.NextAttempt(d.hash), false, nullptr}, now, /*front=*/false);
  }
  Pump();
}

void Dispatcher::Requeue(WaitingMessage msg, int64_t now_ms, bool front) {
  if (rate_lane_.Gated(msg.ref.channel)) {
    rate_lane_.Push(std::move(msg), now_ms, [this](const WaitingMessage& m) { return KeyOf(m); });
    return;
  }
  TenantId tenant = msg.ref.tenant;
  ready_[static_cast<int>(msg.ref.channel)].Push(tenant, std::move(msg), front);
}

void Dispatcher::Pump() {
  if (workers_.empty()) return;
  if (options_.may_dispatch && !options_.may_dispatch()) return;
  // The first leases since none were held: their deadline is the earliest
  // one, which the owner's timer may not be set for.
  absl::Cleanup wake_for_deadline = [this, had_leases = leases_.size() > 0] {
    if (!had_leases && leases_.size() > 0 && wake_hook_) wake_hook_();
  };
  std::vector<LeasedMessage> out;
  bool progress = true;
  while (progress) {
    progress = false;
    // Round robin over workers so that workers of one channel share the load.
    std::vector<uint64_t> order;
    order.reserve(workers_.size());
    for (const auto& [id, w] : workers_) order.push_back(id);
    std::rotate(order.begin(), order.begin() + (round_robin_ % order.size()), order.end());
    ++round_robin_;
    for (uint64_t id : order) {
      auto wit = workers_.find(id);
      if (wit == workers_.end()) continue;
      Worker& w = wit->second;
      uint32_t room = std::min(w.max_in_flight - w.in_flight, w.batch_size);
      if (room == 0 || w.held_back) continue;
      // Its connection writes more slowly than it is given: no more until
      // it has written what it holds (its Drained), so a worker that does
      // not read cannot make rappeld buffer without bound.
      if (w.unsent_bytes && w.unsent_bytes() > options_.max_unsent_bytes) {
        w.held_back = true;
        continue;
      }
      out.clear();
      batch_bytes_ = 0;
      int64_t deadline = clock_() + options_.lease_timeout_ms;
      for (Channel c : w.channels) {
        if (rate_lane_.Gated(c)) {
          LeaseRateLimited(c, room, id, w, deadline, &out);
          continue;
        }
        LeaseFifo(c, room, id, w, deadline, &out);
      }
      if (out.empty()) continue;
      w.in_flight += static_cast<uint32_t>(out.size());
      stats_.delivered += out.size();
      progress = true;
      w.deliver(out);  // may not call back into the dispatcher
      for (const LeasedMessage& m : out) Slim(m.lease_id);
    }
  }
}

void Dispatcher::LeaseFifo(Channel c, uint32_t room, uint64_t id, Worker& w, int64_t deadline,
                           std::vector<LeasedMessage>* out) {
  TenantFifo<WaitingMessage>& q = ready_[static_cast<int>(c)];
  if (q.empty()) return;
  // A scoped worker takes from its own tenants' queues only, round robin
  // among those with messages (never looking at the others' messages).
  std::vector<TenantId> mine;
  size_t turn = 0;
  if (w.tenants) {
    q.TenantsAmong(*w.tenants, &mine);
    if (mine.empty()) return;
    turn = w.turn++;
  }
  auto next = [&]() -> std::optional<WaitingMessage> {
    if (!w.tenants) {
      constexpr size_t kPrefetchAhead = 8;
      if (const WaitingMessage* ahead = q.PeekAhead(kPrefetchAhead)) {
        engine_->PrefetchDue(ahead->ref);
      }
      return q.Pop();
    }
    if (mine.empty()) return std::nullopt;
    size_t i = turn++ % mine.size();
    std::optional<WaitingMessage> msg = q.PopOf(mine[i]);
    if (q.size(mine[i]) == 0) {
      mine[i] = mine.back();
      mine.pop_back();
    }
    return msg;
  };
  std::vector<uint32_t> loaded;
  bool more = true;
  while (more && out->size() < room && batch_bytes_ < options_.max_batch_bytes) {
    // The contents of a batch are read under one snapshot, closed before
    // the filter runs (it may reach the engine, which opens its own).
    loaded.clear();
    {
      std::optional<Store::Reader> reader;
      size_t loaded_bytes = 0;
      while (out->size() + loaded.size() < room &&
             batch_bytes_ + loaded_bytes < options_.max_batch_bytes) {
        std::optional<WaitingMessage> msg = next();
        if (!msg) {
          more = false;
          break;
        }
        uint32_t slot;
        if (Load(std::move(*msg), &reader, &slot)) {
          loaded.push_back(slot);
          loaded_bytes += ContentBytes(*lease_pool_[slot].content);
        }
      }
    }
    for (uint32_t slot : loaded) {
      if (PrepareForLease(slot)) AddLease(slot, id, deadline, out);
    }
  }
}

uint32_t Dispatcher::NewLeaseSlot() {
  if (free_lease_slots_.empty()) {
    lease_pool_.emplace_back();
    return static_cast<uint32_t>(lease_pool_.size() - 1);
  }
  uint32_t slot = free_lease_slots_.back();
  free_lease_slots_.pop_back();
  return slot;
}

void Dispatcher::FreeLeaseSlot(uint32_t slot) {
  Lease& lease = lease_pool_[slot];
  if (lease.content) Recycle(std::move(lease.content));
  free_lease_slots_.push_back(slot);
}

std::unique_ptr<MessageContent> Dispatcher::SpareContent() {
  if (spare_contents_.empty()) return std::make_unique<MessageContent>();
  std::unique_ptr<MessageContent> c = std::move(spare_contents_.back());
  spare_contents_.pop_back();
  c->track_opens = false;  // set again only by the filter's Prepare
  return c;
}

void Dispatcher::Recycle(std::unique_ptr<MessageContent> content) {
  // Enough for a few full batches; a large payload's buffer is not kept.
  constexpr size_t kSpares = 2 * WorkerOptions::kMaxBatchSize;
  constexpr size_t kLargest = 4096;
  if (spare_contents_.size() >= kSpares || content->due.reminder.payload.capacity() > kLargest ||
      content->due.reminder.recipient.capacity() > kLargest) {
    return;
  }
  spare_contents_.push_back(std::move(content));
}

void Dispatcher::Slim(uint64_t lease_id) {
  uint32_t slot = leases_.Find(lease_id);
  if (slot == LeaseTable::kNone) return;
  Lease& lease = lease_pool_[slot];
  if (lease.prepared || !lease.content) return;
  lease.key.swap(lease.content->due.reminder.key);
  Recycle(std::move(lease.content));
}

CompletionRef Dispatcher::CompletionOf(const Lease& lease) {
  if (lease.content) return CompletionRef::Of(lease.content->due);
  return CompletionRef{{lease.ref.tenant, lease.key}, lease.ref.seq, lease.ref.slot, lease.ref.hash};
}

std::string Dispatcher::MessageIdOf(const Lease& lease) const {
  if (lease.content) return lease.content->message_id;
  if (const std::string* retried = retries_.MessageIdOf(lease.ref.hash)) return *retried;
  return absl::StrCat(lease.ref.tenant.value, ":", lease.key, ":", lease.ref.seq);
}

absl::Status Dispatcher::Refill(Lease* lease) {
  if (lease->content) return absl::OkStatus();
  std::unique_ptr<MessageContent> content = SpareContent();
  absl::Status st;
  {
    std::optional<Store::Reader> reader;
    st = engine_->ReadDue(lease->ref, &reader, &content->due);
  }
  if (!st.ok()) return st;
  content->message_id = MessageIdOf(*lease);
  lease->content = std::move(content);
  return absl::OkStatus();
}

bool Dispatcher::ReadContent(const DueRef& ref, std::optional<Store::Reader>* reader,
                             MessageContent* out) {
  absl::Status st = engine_->ReadDue(ref, reader, &out->due);
  if (!st.ok()) {
    if (absl::IsNotFound(st)) {
      ++stats_.stale_dropped;  // replaced or cancelled since it fell due
    } else {
      ++stats_.read_retried;
      engine_->ReturnDue(ref);
    }
    return false;
  }
  const ReminderSpec& r = out->due.reminder;
  std::string& id = out->message_id;
  id.clear();
  if (const std::string* retried = retries_.MessageIdOf(ref.hash)) {
    id = *retried;
  } else if (filter_ != nullptr && filter_->Claims(r)) {
    // Appointment messages: the key is (appointment, kind, channel,
    // occurrence), so re-plans keep the id of one send.
    absl::StrAppend(&id, r.tenant.value, ":", r.key);
  } else {
    // Stable for this send: the same id on every redelivery and retry.
    absl::StrAppend(&id, r.tenant.value, ":", r.key, ":", ref.seq);
  }
  return true;
}

bool Dispatcher::Load(WaitingMessage&& msg, std::optional<Store::Reader>* reader, uint32_t* slot) {
  if (msg.content && !engine_->IsCurrent(msg.ref)) {
    ++stats_.stale_dropped;
    return false;
  }
  uint32_t s = NewLeaseSlot();
  Lease& lease = lease_pool_[s];
  if (msg.content) {
    lease.content = std::move(msg.content);
  } else {
    lease.content = SpareContent();
    if (!ReadContent(msg.ref, reader, lease.content.get())) {
      FreeLeaseSlot(s);
      return false;
    }
  }
  lease.ref = msg.ref;
  lease.attempt = msg.attempt;
  lease.prepared = msg.prepared;
  lease.worker = 0;
  *slot = s;
  return true;
}

WaitingMessage Dispatcher::Unload(uint32_t slot) {
  Lease& lease = lease_pool_[slot];
  // A slim lease's message waits as a reference again (read anew when
  // leased).
  WaitingMessage msg{lease.ref, lease.attempt, lease.prepared, std::move(lease.content)};
  free_lease_slots_.push_back(slot);
  return msg;
}

void Dispatcher::AddLease(uint32_t slot, uint64_t worker, int64_t deadline,
                          std::vector<LeasedMessage>* out) {
  uint64_t lease_id = leases_.Add(slot, &deadline);
  Lease& lease = lease_pool_[slot];
  lease.worker = worker;
  // The deadline is now + lease_timeout_ms (Pump): no second clock read.
  lease.leased_at_ms = deadline - options_.lease_timeout_ms;
  int64_t lag_ms = std::max<int64_t>(0, lease.leased_at_ms - lease.ref.due_ms);
  stats_.handed_out_lag_seconds.Observe(static_cast<double>(lag_ms) / 1000.0);
  if (lag_ms > DispatchStats::kLateMs) ++stats_.late_by_channel[static_cast<int>(lease.ref.channel)];
  batch_bytes_ += ContentBytes(*lease.content);
  out->push_back(LeasedMessage{lease.content->message_id, lease_id, lease.attempt, deadline,
                               &lease.content->due.reminder, lease.content->track_opens});
}

std::string Dispatcher::KeyOf(const WaitingMessage& msg) {
  if (msg.content) return msg.content->due.reminder.key;
  DueReminder due;
  std::optional<Store::Reader> reader;
  if (!engine_->ReadDue(msg.ref, &reader, &due).ok()) return "(unreadable)";
  return std::move(due.reminder.key);
}

void Dispatcher::LeaseRateLimited(Channel c, uint32_t room, uint64_t id, Worker& w,
                                  int64_t deadline, std::vector<LeasedMessage>* out) {
  int64_t now = clock_();
  auto key_of = [this](const WaitingMessage& m) { return KeyOf(m); };
  // A scoped worker: its tenants with messages waiting, round robin; one
  // with no token leaves the pass.
  std::vector<TenantId> mine;
  size_t turn = 0;
  if (w.tenants) {
    rate_lane_.TenantsAmong(c, *w.tenants, &mine);
    if (mine.empty()) return;
    turn = w.turn++;
  }
  std::vector<TenantId> waiting = mine;  // for the wake: which tenants tokens held back
  auto pop = [&]() -> std::optional<RateLimitedLane::Popped> {
    if (!w.tenants) return rate_lane_.Pop(c, now, key_of);
    while (!mine.empty()) {
      size_t i = turn++ % mine.size();
      std::optional<RateLimitedLane::Popped> popped = rate_lane_.PopOf(c, mine[i], now, key_of);
      if (!popped || rate_lane_.waiting(c, mine[i]) == 0) {
        mine[i] = mine.back();
        mine.pop_back();
      }
      if (popped) return popped;
    }
    return std::nullopt;
  };
  while (out->size() < room && batch_bytes_ < options_.max_batch_bytes) {
    std::optional<RateLimitedLane::Popped> popped = pop();
    if (!popped) break;
    WaitingMessage& msg = popped->msg;
    if (popped->expired) {
      if (!engine_->IsCurrent(msg.ref)) {
        ++stats_.stale_dropped;  // replaced or cancelled meanwhile: not late, just gone
        continue;
      }
      if (!popped->reported_late) rate_lane_.ReportLate(msg, now, key_of);
      DropExpired(std::move(msg));
      continue;
    }
    uint32_t slot;
    bool loaded;
    {
      std::optional<Store::Reader> reader;  // closed before the filter runs
      loaded = Load(std::move(msg), &reader, &slot);
    }
    if (!loaded || !PrepareForLease(slot)) {
      rate_lane_.Refund(c, popped->tenant);
      continue;
    }
    AddLease(slot, id, deadline, out);
  }
  std::erase_if(waiting, [&](TenantId t) { return rate_lane_.waiting(c, t) == 0; });
  if (rate_lane_.HoldBack(c, now, out->size() < room, w.tenants ? &waiting : nullptr) &&
      wake_hook_) {
    wake_hook_();
  }
}

void Dispatcher::DropExpired(WaitingMessage msg) {
  if (!msg.content) {
    // The tombstone names the key: read it.
    auto content = std::make_unique<MessageContent>();
    std::optional<Store::Reader> reader;
    if (!ReadContent(msg.ref, &reader, content.get())) return;
    msg.content = std::move(content);
  }
  const ReminderSpec& r = msg.content->due.reminder;
  rate_lane_.CountExpired(msg.ref);
  Engine::StateWrites extra;
  KeyHash hash = msg.ref.hash;
  bool had_attempts = retries_.EndIn(hash, &extra);
  if (filter_ != nullptr && msg.prepared) {
    filter_->OnOutcome(r, AckOutcome::kExpired, "expired waiting for the rate limit", &extra);
  }
  engine_->Complete(
      {CompletionRef::Of(msg.content->due)},
      [this, hash, had_attempts, seal = SealFilter()](absl::Status st) {
        SettleFilter(seal, st);
        if (st.ok() && had_attempts) retries_.Forget(hash);
      },
      std::move(extra));
}

void Dispatcher::SetRateLimits(std::vector<RateLimit> limits,
                               std::function<void(absl::Status)> done) {
  Engine::StateWrites writes;
  if (absl::Status st = RateLimitedLane::RecordsOf(&limits, &writes); !st.ok()) {
    done(st);
    return;
  }
  engine_->WriteState(std::move(writes), [this, limits = std::move(limits),
                                          done = std::move(done)](absl::Status st) {
    if (st.ok()) {
      int64_t now = clock_();
      auto key_of = [this](const WaitingMessage& m) { return KeyOf(m); };
      for (const RateLimit& limit : limits) {
        rate_lane_.SetLimit(limit, now, &ready_[static_cast<int>(limit.channel)], key_of);
      }
      Pump();
    }
    done(st);
  });
}

std::vector<RateRow> Dispatcher::RateRows() { return rate_lane_.Rows(clock_()); }

bool Dispatcher::PrepareForLease(uint32_t slot) {
  Lease& lease = lease_pool_[slot];
  const ReminderSpec& r = lease.content->due.reminder;
  if (lease.prepared || filter_ == nullptr || !filter_->Claims(r)) return true;
  MessageFilter::Prepared p = filter_->Prepare(r);
  if (p.hold) {
    uint32_t tenant = r.tenant.value;
    WaitingMessage msg = Unload(slot);
    Recycle(std::move(msg.content));  // read again when released
    ++held_count_;
    held_[tenant].push_back(std::move(msg));
    return false;
  }
  if (!p.deliver) {
    ++stats_.filter_dropped;
    engine_->Complete({CompletionRef::Of(lease.content->due)},
                      [this, seal = SealFilter()](absl::Status st) { SettleFilter(seal, st); },
                      std::move(p.writes));
    FreeLeaseSlot(slot);
    return false;
  }
  lease.content->due.reminder.payload = std::move(p.payload);
  lease.content->due.reminder.recipient = std::move(p.recipient);
  lease.content->track_opens = p.track_opens;
  lease.prepared = true;
  return true;
}

bool Dispatcher::FilterHears(const Lease& lease) const {
  return filter_ != nullptr && lease.prepared && engine_->IsCurrent(lease.ref);
}

void Dispatcher::Release(TenantId tenant) {
  auto it = held_.find(tenant.value);
  if (it == held_.end()) return;
  std::vector<WaitingMessage> back = std::move(it->second);
  held_.erase(it);
  held_count_ -= back.size();
  int64_t now = clock_();
  for (WaitingMessage& msg : back) {
    msg.prepared = false;
    Requeue(std::move(msg), now, /*front=*/false);
  }
  Pump();
}

uint64_t Dispatcher::held_of(TenantId tenant) const {
  auto it = held_.find(tenant.value);
  return it == held_.end() ? 0 : it->second.size();
}

WaitingMessage Dispatcher::ReleaseLease(uint64_t lease_id) {
  uint32_t slot = leases_.Find(lease_id);
  leases_.Erase(lease_id);
  return Unload(slot);
}

absl::StatusOr<uint32_t> Dispatcher::TakeLeaseSlot(uint64_t worker_id, uint64_t lease_id) {
  uint32_t slot = leases_.Find(lease_id);
  if (slot == LeaseTable::kNone || lease_pool_[slot].worker != worker_id) {
    return absl::NotFoundError(
        absl::StrCat("no lease ", lease_id, " held by this worker (expired or already acked)"));
  }
  leases_.Erase(lease_id);
  if (auto w = workers_.find(worker_id); w != workers_.end()) --w->second.in_flight;
  ++stats_.acked;
  int64_t held_ms = std::max<int64_t>(0, clock_() - lease_pool_[slot].leased_at_ms);
  stats_.lease_ack_seconds.Observe(static_cast<double>(held_ms) / 1000.0);
  return slot;
}

absl::StatusOr<Dispatcher::Lease> Dispatcher::TakeLease(uint64_t worker_id, uint64_t lease_id) {
  absl::StatusOr<uint32_t> slot = TakeLeaseSlot(worker_id, lease_id);
  if (!slot.ok()) return slot.status();
  Lease lease = std::move(lease_pool_[*slot]);
  FreeLeaseSlot(*slot);
  return lease;
}

void Dispatcher::AckBatch(uint64_t worker_id, std::vector<AckRequest> items,
                          std::function<void(std::vector<absl::Status>)> done) {
  auto results = std::make_shared<std::vector<absl::Status>>(items.size());
  auto remaining = std::make_shared<size_t>(1);  // released at the end of this call
  auto finish = [results, remaining, done = std::move(done)] {
    if (--*remaining == 0) done(std::move(*results));
  };
  std::vector<CompletionRef> refs;
  std::vector<size_t> ref_items;
  Engine::StateWrites extra;
  std::vector<KeyHash> retried;
  auto failed = [](const AckRequest& item) {
    return item.outcome == AckOutcome::kFailedRetryable ||
           item.outcome == AckOutcome::kFailedPermanent;
  };
  // The successes first, in one commit submitted before any failure's: the
  // filter's writes (e.g. the credit ledger) are snapshots of memory as it
  // is when they are made, so they must reach the engine in the order they
  // were made.
  for (size_t i = 0; i < items.size(); ++i) {
    AckRequest& item = items[i];
    if (failed(item)) continue;
    // Read in place (no copy of the message): the slot is freed only at
    // the end of this iteration, so nothing the filter does can reuse it.
    absl::StatusOr<uint32_t> slot = TakeLeaseSlot(worker_id, item.lease_id);
    if (!slot.ok()) {
      (*results)[i] = slot.status();
      continue;
    }
    absl::Cleanup free_slot = [this, s = *slot] { FreeLeaseSlot(s); };
    const Lease* lease = &lease_pool_[*slot];
    if (FilterHears(*lease)) {  // prepared: it has its content
      filter_->OnOutcome(lease->content->due.reminder, item.outcome, item.detail, &extra);
    }
    // A message that failed before ends its attempt count in the same commit.
    if (retries_.EndIn(lease->ref.hash, &extra)) retried.push_back(lease->ref.hash);
    refs.push_back(CompletionOf(*lease));
    ref_items.push_back(i);
  }
  if (!refs.empty()) {
    ++*remaining;
    engine_->Complete(
        std::move(refs),
        [this, results, ref_items = std::move(ref_items), retried = std::move(retried), finish,
         seal = SealFilter()](absl::Status st) {
          SettleFilter(seal, st);
          if (st.ok()) {
            for (const KeyHash& hash : retried) retries_.Forget(hash);
          }
          for (size_t i : ref_items) (*results)[i] = st;
          finish();
        },
        std::move(extra));
  }
  for (size_t i = 0; i < items.size(); ++i) {
    AckRequest& item = items[i];
    if (!failed(item)) continue;
    ++*remaining;
    Ack(worker_id, item.lease_id, item.outcome, std::move(item.detail),
        [results, i, finish](absl::Status st) {
          (*results)[i] = std::move(st);
          finish();
        });
  }
  Pump();
  finish();
}

void Dispatcher::Ack(uint64_t worker_id, uint64_t lease_id, AckOutcome outcome,
                     std::string detail, std::function<void(absl::Status)> done) {
  absl::StatusOr<Lease> taken = TakeLease(worker_id, lease_id);
  if (!taken.ok()) {
    done(taken.status());
    return;
  }
  Lease lease = std::move(*taken);
  ReminderKey key{lease.ref.tenant, KeyOf(lease)};
  KeyHash hash = lease.ref.hash;
  switch (outcome) {
    case AckOutcome::kSent:
    case AckOutcome::kDelivered:
    case AckOutcome::kOpened: {
      Engine::StateWrites extra;
      bool had_attempts = retries_.EndIn(hash, &extra);
      if (FilterHears(lease)) {  // prepared: it has its content
        filter_->OnOutcome(lease.content->due.reminder, outcome, detail, &extra);
      }
      engine_->Complete(
          {CompletionOf(lease)},
          [this, hash, had_attempts, done = std::move(done),
           seal = SealFilter()](absl::Status st) {
            SettleFilter(seal, st);
            if (st.ok() && had_attempts) retries_.Forget(hash);
            done(st);
          },
          std::move(extra));
      break;
    }
    case AckOutcome::kFailedRetryable: {
      uint32_t failures = lease.attempt;
      if (retries_.Exhausted(failures)) {
        DeadLetterIt(std::move(lease), std::move(detail), std::move(done));
        break;
      }
      RetryRecords::Attempts a{failures, MessageIdOf(lease)};
      int64_t backoff = retries_.BackoffMs(failures);
      ++stats_.retried;
      // The new due time and the failure count land in one commit: after a
      // crash the retry comes back with its attempt number.
      Engine::StateWrites extra;
      retries_.RecordIn(hash, a, &extra);
      if (FilterHears(lease)) {
        filter_->OnOutcome(lease.content->due.reminder, outcome, detail, &extra);
      }
      engine_->Reschedule(
          key, clock_() + backoff,
          [this, hash, a, done = std::move(done), seal = SealFilter()](absl::Status st) {
            SettleFilter(seal, st);
            if (st.ok()) retries_.Remember(hash, a);
            done(st);
          },
          std::move(extra));
      break;
    }
    case AckOutcome::kFailedPermanent:
    case AckOutcome::kExpired:  // not a worker's (the wire refuses it)
      DeadLetterIt(std::move(lease), std::move(detail), std::move(done));
      break;
  }
  Pump();
}

size_t Dispatcher::DeadLetterIt(Lease lease, std::string detail,
                                std::function<void(absl::Status)> done) {
  KeyHash hash = lease.ref.hash;
  // A slim lease: the dead letter keeps the whole message, read again.
  if (absl::Status st = Refill(&lease); !st.ok()) {
    if (!absl::IsNotFound(st)) {
      ++stats_.read_retried;
      engine_->ReturnDue(lease.ref);  // handed out again later, not lost
      done(st);
      return 0;
    }
    // Replaced or cancelled since it was leased: nothing to keep; its
    // attempt count ends.
    ++stats_.stale_dropped;
    Engine::StateWrites end;
    if (!retries_.EndIn(hash, &end)) {
      done(absl::OkStatus());
      return 0;
    }
    engine_->WriteState(std::move(end), [this, hash, done = std::move(done)](absl::Status st) {
      if (st.ok()) retries_.Forget(hash);
      done(st);
    });
    return 0;
  }
  const ReminderSpec& r = lease.content->due.reminder;
  size_t bytes = ContentBytes(*lease.content) + detail.size();
  DeadLetter letter{r, lease.attempt, std::move(detail), clock_()};
  // One commit: the completion tombstone (the reminder leaves the log and
  // the wheel), the dead letter, and the end of its attempt count.
  Engine::StateWrites extra;
  DeadLetters::Added added = dead_letters_.Add(hash, letter, &extra);
  if (FilterHears(lease)) {
    filter_->OnOutcome(r, AckOutcome::kFailedPermanent, letter.last_detail, &extra);
  }
  bool had_attempts = retries_.EndIn(hash, &extra);
  engine_->Complete(
      {CompletionRef::Of(lease.content->due)},
      [this, hash, added, had_attempts, done = std::move(done),
       seal = SealFilter()](absl::Status st) {
        SettleFilter(seal, st);
        if (st.ok()) {
          if (had_attempts) retries_.Forget(hash);
          dead_letters_.Committed(added);
        }
        done(st);
      },
      std::move(extra));
  return bytes;
}

void Dispatcher::Cancel(std::vector<ReminderKey> keys, Engine::StatusesDone done) {
  Engine::StateWrites extra;
  std::vector<KeyHash> forget;
  // Most of the time nothing has failed: skip hashing every key for nothing.
  for (size_t i = 0; i < keys.size() && !retries_.empty(); ++i) {
    KeyHash hash = HashKey(keys[i].tenant, keys[i].key);
    if (retries_.EndIn(hash, &extra)) forget.push_back(hash);
  }
  engine_->Cancel(
      std::move(keys),
      [this, forget = std::move(forget), done = std::move(done)](std::vector<absl::Status> results) {
        // Committed unless the commit itself failed (then every found key
        // carries that error). NotFound keys had nothing live: their
        // attempt count is stale either way (Recover drops it).
        bool committed = std::all_of(results.begin(), results.end(), [](const absl::Status& s) {
          return s.ok() || absl::IsNotFound(s);
        });
        if (committed) {
          for (const KeyHash& h : forget) retries_.Forget(h);
        }
        done(std::move(results));
      },
      std::move(extra));
}

std::optional<int64_t> Dispatcher::NextDeadlineMs() const {
  std::optional<int64_t> next;
  if (auto oldest = leases_.Oldest()) next = oldest->second;
  if (auto wake = rate_lane_.NextWakeMs(); wake && (!next || *wake < *next)) next = wake;
  return next;
}

absl::StatusOr<std::vector<DeadLetter>> Dispatcher::ListDeadLetters(
    std::optional<TenantId> tenant, size_t limit) {
  return dead_letters_.List(tenant, limit);
}

void Dispatcher::ReplayDeadLetter(const ReminderKey& key, std::function<void(absl::Status)> done) {
  dead_letters_.Replay(key, clock_(), std::move(done));
}

DispatchStats Dispatcher::stats() const {
  DispatchStats s = stats_;
  s.leased = leases_.size();
  s.workers = workers_.size();
  s.dead_letters = dead_letters_.size();
  s.dead_letters_dropped = dead_letters_.dropped();
  s.retrying = retries_.size();
  s.expired_unsettled = expired_.size();
  s.held = held_count_;
  for (int c = 1; c <= kChannelCount; ++c) {
    s.ready_by_channel[c] = ready_[c].size();
    s.ready += ready_[c].size();
    s.rate_waiting_by_channel[c] = rate_lane_.waiting(static_cast<Channel>(c));
    s.rate_waiting += rate_lane_.waiting(static_cast<Channel>(c));
  }
  s.rate_late = rate_lane_.late_total();
  s.rate_expired = rate_lane_.expired_total();
  return s;
}

}  // namespace rappel::server
