#include "server/dispatch/dispatcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/check.h"

namespace rappel::server {

Dispatcher::Dispatcher(Engine* engine, DispatchOptions options, std::function<int64_t()> clock)
    : engine_(engine), options_(options), clock_(std::move(clock)) {}

std::string Dispatcher::AttemptKey(const ReminderSpec& r) {
  return absl::StrCat(r.tenant.value, "/", r.key);
}

uint64_t Dispatcher::AddWorker(std::vector<Channel> channels, uint32_t max_in_flight,
                               uint32_t batch_size, DeliverFn deliver) {
  uint64_t id = next_worker_++;
  workers_[id] = Worker{std::move(channels), std::max<uint32_t>(1, max_in_flight),
                        std::max<uint32_t>(1, batch_size), 0, std::move(deliver)};
  Pump();
  return id;
}

void Dispatcher::RemoveWorker(uint64_t worker_id) {
  if (workers_.erase(worker_id) == 0) return;
  std::vector<uint64_t> orphaned;
  for (const auto& [id, lease] : leases_) {
    if (lease.worker == worker_id) orphaned.push_back(id);
  }
  // Oldest lease first back at the front.
  std::sort(orphaned.rbegin(), orphaned.rend());
  for (uint64_t id : orphaned) {
    auto it = leases_.find(id);
    Ready msg = std::move(it->second.msg);
    leases_.erase(it);
    ++msg.attempt;
    ++stats_.redelivered;
    ready_[static_cast<int>(msg.due.reminder.channel)].push_front(std::move(msg));
  }
  Pump();
}

void Dispatcher::OnDue(std::vector<DueReminder> batch) {
  for (DueReminder& d : batch) {
    uint32_t attempt = 1;
    std::string message_id;
    if (auto it = attempts_.empty() ? attempts_.end() : attempts_.find(AttemptKey(d.reminder));
        it != attempts_.end()) {
      attempt = it->second.failures + 1;
      message_id = it->second.message_id;
    } else {
      // Stable for this send: the same id on every redelivery and retry.
      message_id = absl::StrCat(d.reminder.tenant.value, ":", d.reminder.key, ":", d.seq);
    }
    int c = static_cast<int>(d.reminder.channel);
    ready_[c].push_back(Ready{std::move(d), attempt, std::move(message_id)});
  }
  Pump();
}

void Dispatcher::Pump() {
  if (workers_.empty()) return;
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
      if (room == 0) continue;
      out.clear();
      // No rehash while this batch is inserted: the pointers into leases_
      // handed to deliver stay valid.
      leases_.reserve(leases_.size() + room);
      int64_t deadline = clock_() + options_.lease_timeout_ms;
      for (Channel c : w.channels) {
        auto& q = ready_[static_cast<int>(c)];
        while (!q.empty() && out.size() < room) {
          uint64_t lease_id = next_lease_++;
          deadlines_.emplace(deadline, lease_id);
          auto [it, inserted] = leases_.emplace(lease_id, Lease{std::move(q.front()), id, deadline});
          q.pop_front();
          const Ready& msg = it->second.msg;
          out.push_back(LeasedMessage{msg.message_id, lease_id, msg.attempt, deadline,
                                      &msg.due.reminder});
        }
      }
      if (out.empty()) continue;
      w.in_flight += static_cast<uint32_t>(out.size());
      stats_.delivered += out.size();
      progress = true;
      w.deliver(out);  // may not call back into the dispatcher
    }
  }
}

absl::StatusOr<Dispatcher::Lease> Dispatcher::TakeLease(uint64_t worker_id, uint64_t lease_id) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end() || it->second.worker != worker_id) {
    return absl::NotFoundError(
        absl::StrCat("no lease ", lease_id, " held by this worker (expired or already acked)"));
  }
  Lease lease = std::move(it->second);
  leases_.erase(it);
  if (auto w = workers_.find(worker_id); w != workers_.end()) --w->second.in_flight;
  ++stats_.acked;
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
  for (size_t i = 0; i < items.size(); ++i) {
    AckRequest& item = items[i];
    if (item.outcome == AckOutcome::kFailedRetryable ||
        item.outcome == AckOutcome::kFailedPermanent) {
      ++*remaining;
      Ack(worker_id, item.lease_id, item.outcome, std::move(item.detail),
          [results, i, finish](absl::Status st) {
            (*results)[i] = std::move(st);
            finish();
          });
      continue;
    }
    absl::StatusOr<Lease> lease = TakeLease(worker_id, item.lease_id);
    if (!lease.ok()) {
      (*results)[i] = lease.status();
      continue;
    }
    const ReminderSpec& r = lease->msg.due.reminder;
    if (!attempts_.empty()) attempts_.erase(AttemptKey(r));
    refs.push_back(CompletionRef{{r.tenant, r.key}, lease->msg.due.seq});
    ref_items.push_back(i);
  }
  if (!refs.empty()) {
    ++*remaining;
    engine_->Complete(std::move(refs), [results, ref_items = std::move(ref_items),
                                        finish](absl::Status st) {
      for (size_t i : ref_items) (*results)[i] = st;
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
  const ReminderSpec& r = lease.msg.due.reminder;
  ReminderKey key{r.tenant, r.key};
  switch (outcome) {
    case AckOutcome::kSent:
    case AckOutcome::kDelivered:
    case AckOutcome::kOpened:
      attempts_.erase(AttemptKey(r));
      engine_->Complete({CompletionRef{key, lease.msg.due.seq}}, std::move(done));
      break;
    case AckOutcome::kFailedRetryable: {
      Attempts& a = attempts_[AttemptKey(r)];
      a.message_id = lease.msg.message_id;
      a.failures = lease.msg.attempt;
      if (a.failures >= options_.max_attempts) {
        DeadLetterIt(std::move(lease), std::move(detail), std::move(done));
        break;
      }
      int64_t backoff = options_.backoff_base_ms << std::min<uint32_t>(a.failures - 1, 30);
      backoff = std::min(backoff, options_.backoff_max_ms);
      ++stats_.retried;
      engine_->Reschedule(key, clock_() + backoff, std::move(done));
      break;
    }
    case AckOutcome::kFailedPermanent:
      DeadLetterIt(std::move(lease), std::move(detail), std::move(done));
      break;
  }
  Pump();
}

void Dispatcher::DeadLetterIt(Lease lease, std::string detail,
                              std::function<void(absl::Status)> done) {
  const ReminderSpec& r = lease.msg.due.reminder;
  attempts_.erase(AttemptKey(r));
  engine_->Complete({CompletionRef{{r.tenant, r.key}, lease.msg.due.seq}}, std::move(done));
  dead_letters_.push_back(DeadLetter{r, lease.msg.attempt, std::move(detail)});
  if (dead_letters_.size() > options_.max_dead_letters) dead_letters_.pop_front();
}

void Dispatcher::ExpireLeases(int64_t now_ms) {
  bool any = false;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    auto [deadline, lease_id] = *deadlines_.begin();
    deadlines_.erase(deadlines_.begin());
    auto it = leases_.find(lease_id);
    if (it == leases_.end() || it->second.deadline_ms != deadline) continue;  // acked
    Ready msg = std::move(it->second.msg);
    if (auto w = workers_.find(it->second.worker); w != workers_.end()) --w->second.in_flight;
    leases_.erase(it);
    ++msg.attempt;
    ++stats_.redelivered;
    ready_[static_cast<int>(msg.due.reminder.channel)].push_front(std::move(msg));
    any = true;
  }
  if (any) Pump();
}

std::optional<int64_t> Dispatcher::NextDeadlineMs() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

std::vector<DeadLetter> Dispatcher::ListDeadLetters(std::optional<TenantId> tenant,
                                                    size_t limit) const {
  std::vector<DeadLetter> out;
  for (const DeadLetter& d : dead_letters_) {
    if (out.size() >= limit) break;
    if (!tenant || d.reminder.tenant == *tenant) out.push_back(d);
  }
  return out;
}

void Dispatcher::ReplayDeadLetter(const ReminderKey& key, std::function<void(absl::Status)> done) {
  auto it = std::find_if(dead_letters_.begin(), dead_letters_.end(), [&](const DeadLetter& d) {
    return d.reminder.tenant == key.tenant && d.reminder.key == key.key;
  });
  if (it == dead_letters_.end()) {
    done(absl::NotFoundError(absl::StrCat("no dead letter with key ", key.key)));
    return;
  }
  ReminderSpec spec = it->reminder;
  dead_letters_.erase(it);
  spec.due_ms = clock_();
  spec.expiry_ms = 0;
  engine_->Schedule({spec}, [done = std::move(done)](auto results) {
    done(results[0].ok() ? absl::OkStatus() : results[0].status());
  });
}

DispatchStats Dispatcher::stats() const {
  DispatchStats s = stats_;
  s.leased = leases_.size();
  s.workers = workers_.size();
  s.dead_letters = dead_letters_.size();
  for (int c = 1; c <= kChannelCount; ++c) {
    s.ready_by_channel[c] = ready_[c].size();
    s.ready += ready_[c].size();
  }
  return s;
}

}  // namespace rappel::server
