// Engine: opening, the write path (schedule, cancel, reschedule, complete,
// mutate; submission, commit, apply) and lookups.
#include "server/engine/engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/check.h"
#include "server/common/clock.h"
#include "server/engine/engine_compaction.h"

namespace rappel::server {
namespace {

constexpr uint64_t kMsPerDay = 24ull * 3600 * 1000;
constexpr uint64_t kMaxEngineHorizonMs = 50ull * 366 * kMsPerDay;

}  // namespace

Engine::Engine(EngineOptions options)
    : options_(std::move(options)),
      wheel_(static_cast<uint64_t>(options_.clock()), TimingWheel::kMaxHorizonMs),
      index_(wheel_) {}

Engine::~Engine() {
  *alive_ = false;
  store_.reset();  // commits what is queued; completions posted later are dropped
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(EngineOptions options, Store::Poster post) {
  if (!options.clock) options.clock = SystemNowMs;
  if (options.horizon_ms > kMaxEngineHorizonMs) {
    return absl::InvalidArgumentError("horizon_ms is longer than 50 years");
  }
  if (options.max_key_bytes > kMaxKeyBytes || options.max_recipient_bytes > 65535) {
    return absl::InvalidArgumentError("max_key_bytes and max_recipient_bytes must be < 65536");
  }
  SetHugePagesAdvised(options.huge_pages);
  std::unique_ptr<Engine> engine(new Engine(std::move(options)));
  auto store = Store::Open(engine->options_.store, std::move(post));
  if (!store.ok()) return store.status();
  engine->store_ = std::move(*store);
  engine->next_seq_ = engine->store_->next_seq_at_open();
  if (absl::Status st = engine->Recover(); !st.ok()) return st;
  return engine;
}

absl::Status Engine::Validate(const ReminderSpec& r, int64_t now_ms) const {
  if (r.key.empty()) return absl::InvalidArgumentError("reminder key is empty");
  if (r.key.size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("reminder key is ", r.key.size(),
                                                   " bytes; the limit is ", options_.max_key_bytes));
  }
  if (!IsValidChannel(static_cast<uint8_t>(r.channel))) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown channel ", static_cast<int>(r.channel)));
  }
  if (r.recipient.size() > options_.max_recipient_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("recipient is ", r.recipient.size(),
                                                   " bytes; the limit is ",
                                                   options_.max_recipient_bytes));
  }
  if (r.payload.size() > options_.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("payload is ", r.payload.size(),
                                                   " bytes; the limit is ",
                                                   options_.max_payload_bytes));
  }
  if (r.due_ms < 0) return absl::InvalidArgumentError("due time is before 1970");
  if (r.due_ms > now_ms && static_cast<uint64_t>(r.due_ms - now_ms) > options_.horizon_ms) {
    return absl::OutOfRangeError(absl::StrCat(
        "due time ", r.due_ms, " is ", (r.due_ms - now_ms) / kMsPerDay,
        " days ahead; the horizon is ", options_.horizon_ms / kMsPerDay, " days"));
  }
  if (r.expiry_ms != 0 && r.expiry_ms < r.due_ms) {
    return absl::InvalidArgumentError("expiry is before the due time");
  }
  return absl::OkStatus();
}

namespace {

// A batch looks up thousands of keys at random places in the index: each
// item asks for the index group of the one this far ahead, so that the
// cache misses overlap.
constexpr size_t kIndexPrefetchAhead = 8;
// ... and, once that group is cached, the slot of the key this far ahead.
constexpr size_t kSlotPrefetchAhead = 4;

}  // namespace

absl::StatusOr<Engine::Latest> Engine::FindLatest(const KeyHash& hash,
                                                  std::optional<Store::Reader>* reader) {
  if (auto it = overlay_.find(hash); it != overlay_.end()) {
    const Inflight& f = it->second;
    if (f.tombstone) return Latest{};
    return Latest{f.seq, f.batch->record_bytes(f.record), false};
  }
  std::optional<uint32_t> h = index_.FindUnended(hash);
  if (!h) return Latest{};
  SeqNo seq = index_.meta(*h).seq;
  auto bytes = GetLog(seq, reader);
  // The index only ever points at durable records that compaction keeps
  // until the index has moved off them.
  RAPPEL_CHECK(!absl::IsNotFound(bytes.status()));
  if (!bytes.ok()) return bytes.status();
  return Latest{seq, *bytes, true};
}

absl::StatusOr<std::string_view> Engine::GetLog(SeqNo seq, std::optional<Store::Reader>* reader) {
  if (!reader->has_value()) {
    auto r = store_->NewReader();
    if (!r.ok()) return r.status();
    reader->emplace(std::move(*r));
  }
  return (*reader)->GetLog(seq);
}

absl::StatusOr<Engine::Prior> Engine::PriorFor(const KeyHash& hash,
                                               std::optional<Store::Reader>* reader) {
  if (auto it = overlay_.find(hash); it != overlay_.end()) {
    const Inflight& f = it->second;
    return f.tombstone ? Prior{} : PriorOf(f.batch->record_bytes(f.record));
  }
  std::optional<uint32_t> h = index_.FindUnended(hash);
  if (!h) return Prior{};
  return PriorAt(*h, hash, reader);
}

absl::StatusOr<Engine::Prior> Engine::PriorAt(uint32_t h, const KeyHash& hash,
                                              std::optional<Store::Reader>* reader) {
  uint32_t s = index_.shape(h);
  if ((s & KeyIndex::kShapeUnknownBytes) != KeyIndex::kShapeUnknownBytes) {
    return Prior{static_cast<uint8_t>((s >> 24) & 0x7F), s & KeyIndex::kShapeUnknownBytes, h,
                 static_cast<int64_t>(wheel_.DueMs(WheelHandle{h}))};
  }
  auto latest = FindLatest(hash, reader);
  if (!latest.ok()) return latest.status();
  Prior prior = PriorOf(latest->bytes);
  prior.slot = h;
  return prior;
}

std::optional<uint32_t> Engine::DurableHandleOf(const KeyHash& hash, SeqNo seq,
                                                uint32_t slot) const {
  uint32_t h;
  if (index_.HasSlot(slot) && index_.meta(slot).seq != 0 && index_.meta(slot).hash == hash) {
    h = slot;  // a key has one live handle: this is it
  } else {
    std::optional<uint32_t> found = index_.Find(hash);
    if (!found) return std::nullopt;
    h = *found;
  }
  if (index_.meta(h).seq == seq) return h;
  if (!moved_while_out_.empty()) {
    if (auto m = moved_while_out_.find(hash); m != moved_while_out_.end() && m->second == seq) {
      return h;
    }
  }
  return std::nullopt;
}

Engine::Prior Engine::PriorOf(std::string_view bytes) {
  Prior prior;
  // The fixed header of a reminder record (log_record.h): channel at 2,
  // due_ms at 8. A tombstone or nothing: no live version.
  if (bytes.size() < kRecordOverheadBytes || bytes[1] != static_cast<char>(RecordType::kReminder)) {
    return prior;
  }
  prior.channel = static_cast<uint8_t>(bytes[2]);
  prior.bytes = static_cast<uint32_t>(bytes.size());
  uint64_t due = 0;
  for (int i = 7; i >= 0; --i) due = (due << 8) | static_cast<unsigned char>(bytes[8 + i]);
  prior.due_ms = static_cast<int64_t>(due);
  return prior;
}

void Engine::AddStateWrites(Pending* p, StateWrites writes) {
  if (writes.empty()) return;
  if (!p->batch) p->batch = std::make_shared<WriteBatch>();
  p->batch->AddStateOps(std::move(writes));
}

void Engine::AddPut(Pending* p, const KeyHash& hash, const ReminderSpec& r,
                    std::string_view record, const Prior& prior) {
  if (!p->batch) p->batch = std::make_shared<WriteBatch>();
  SeqNo seq = next_seq_++;
  p->batch->Append(seq, record);
  Op op = MakeOp(OpKind::kPut, hash, seq, 0, r.due_ms);
  op.tenant = r.tenant.value;
  op.channel = static_cast<uint8_t>(r.channel);
  op.bytes = static_cast<uint32_t>(record.size());
  op.prior = prior;
  p->ops.push_back(op);
  overlay_[hash] = Inflight{seq, p->batch.get(),
                            static_cast<uint32_t>(p->batch->log_records().size() - 1), false};
}

void Engine::AddTombstone(Pending* p, const KeyHash& hash, TenantId tenant, std::string_view key,
                          EndReason reason, int64_t now_ms, const Prior& prior) {
  if (!p->batch) p->batch = std::make_shared<WriteBatch>();
  tombstone_scratch_.clear();  // reused: no allocation per tombstone
  EncodeTombstone(tenant, key, reason, now_ms, &tombstone_scratch_);
  SeqNo seq = next_seq_++;
  p->batch->Append(seq, tombstone_scratch_);
  Op op = MakeOp(OpKind::kTombstone, hash, seq, 0, 0);
  op.tenant = tenant.value;
  op.prior = prior;
  p->ops.push_back(op);
  if (prior.slot != kNoSlot) {
    index_.MarkEnding(prior.slot);
    return;
  }
  overlay_[hash] = Inflight{seq, p->batch.get(),
                            static_cast<uint32_t>(p->batch->log_records().size() - 1), true};
}

void Engine::Submit(Pending p) {
  p.epoch = epoch_;
  if (!p.batch) {
    // Nothing to write: answer right away unless earlier writes are still in
    // flight, in which case it waits its turn (answers stay in order).
    if (pending_.empty()) {
      p.finish(absl::OkStatus());
      return;
    }
    pending_.push_back(std::move(p));
    return;
  }
  std::shared_ptr<const WriteBatch> batch = p.batch;
  uint64_t epoch = p.epoch;
  pending_.push_back(std::move(p));
  std::weak_ptr<bool> alive = alive_;
  store_->Submit(epoch, std::move(batch), [this, alive](absl::Status st) {
    if (auto a = alive.lock(); a && *a) OnCommitted(std::move(st));
  });
}

void Engine::OnCommitted(absl::Status status) {
  // The store completes batches in submission order; requests that wrote
  // nothing sit between them and take the status of the write before them.
  RAPPEL_CHECK(!pending_.empty() && pending_.front().batch);
  bool first = true;
  while (!pending_.empty() && (first || !pending_.front().batch)) {
    first = false;
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    if (status.ok()) {
      if (p.batch) Apply(p);
    } else if (p.batch) {
      if (p.epoch == epoch_) {
        // Every write still in flight was queued behind this one and will
        // fail too (see Store): none of them is the latest version of
        // anything any more.
        overlay_.clear();
        ClearEndingMarks(p);
        for (const Pending& later : pending_) {
          if (later.epoch == p.epoch) ClearEndingMarks(later);
        }
        ++epoch_;
      }
      for (const Op& op : p.ops) DropOverlay(op);
    }
    p.finish(status);
  }
}

void Engine::ClearEndingMarks(const Pending& p) {
  // Safe to clear by handle: nothing frees a marked handle but its own
  // tombstone, and every later write to the key is in the same epoch.
  for (const Op& op : p.ops) {
    if (op.kind == OpKind::kTombstone && op.prior.slot != kNoSlot) {
      index_.ClearEnding(op.prior.slot);
    }
  }
}

void Engine::DropOverlay(const Op& op) {
  // A marked tombstone has no overlay entry; its mark goes with its handle,
  // or with its epoch (ClearEndingMarks).
  if (op.kind == OpKind::kRelocate || (op.kind == OpKind::kTombstone && op.prior.slot != kNoSlot)) {
    return;
  }
  auto it = overlay_.find(op.hash);
  if (it != overlay_.end() && it->second.seq == op.seq) overlay_.erase(it);
}

void Engine::Apply(const Pending& p) {
  stats_.log_records += p.batch->log_records().size();
  counts_.LogAppended(p.batch->byte_size());
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op& op = p.ops[i];
    if (i + kIndexPrefetchAhead < p.ops.size()) {
      index_.Prefetch(p.ops[i + kIndexPrefetchAhead].hash);
      overlay_.prefetch(p.ops[i + kIndexPrefetchAhead].hash);
    }
    if (i + kSlotPrefetchAhead < p.ops.size()) {
      index_.PrefetchKey(p.ops[i + kSlotPrefetchAhead].hash);
    }
    if (!moved_while_out_.empty() && op.kind != OpKind::kRelocate) moved_while_out_.erase(op.hash);
    switch (op.kind) {
      case OpKind::kPut: {
        uint32_t h;
        if (std::optional<uint32_t> found = index_.Find(op.hash)) {
          h = *found;
          counts_.Remove(op.tenant, op.prior.channel, op.prior.bytes, op.prior.due_ms);
        } else {
          h = wheel_.Allocate().value;
          index_.EnsureSlot(h);
          index_.meta(h).hash = op.hash;
          index_.Insert(h);
        }
        index_.meta(h).seq = op.seq;
        index_.shape(h) = KeyIndex::PackShape(op.channel, op.bytes);
        counts_.Add(op.tenant, op.channel, op.bytes, op.due_ms);
        absl::Status st = wheel_.Schedule(WheelHandle{h}, static_cast<uint64_t>(op.due_ms));
        RAPPEL_CHECK(st.ok());  // validated against a horizon far inside the wheel's
        ++stats_.scheduled;
        break;
      }
      case OpKind::kTombstone:
        if (std::optional<uint32_t> h = index_.Erase(op.hash)) {  // drops the mark
          wheel_.Free(WheelHandle{*h});
          counts_.Remove(op.tenant, op.prior.channel, op.prior.bytes, op.prior.due_ms);
        }
        break;
      case OpKind::kRelocate: {
        std::optional<uint32_t> h = index_.Find(op.hash);
        if (h && index_.meta(*h).seq == op.old_seq) {
          if (!wheel_.IsScheduled(WheelHandle{*h})) {
            // Handed out: its ack names the number it was handed out with.
            moved_while_out_.try_emplace(op.hash, op.old_seq);
          }
          index_.meta(*h).seq = op.seq;
          ++stats_.relocated;
        }
        break;
      }
    }
    DropOverlay(op);
  }
}

void Engine::Schedule(std::vector<ReminderSpec> batch, ScheduleDone done, StateWrites extra) {
  int64_t now = Now();
  auto results = std::make_shared<std::vector<absl::StatusOr<ScheduleResult>>>(batch.size());
  Pending p;
  std::optional<Store::Reader> reader;
  std::string record;
  std::vector<KeyHash> hashes;
  hashes.reserve(batch.size());
  for (const ReminderSpec& r : batch) hashes.push_back(HashKey(r.tenant, r.key));
  for (size_t i = 0; i < batch.size(); ++i) {
    const ReminderSpec& r = batch[i];
    const KeyHash& hash = hashes[i];
    if (i + kIndexPrefetchAhead < hashes.size()) index_.Prefetch(hashes[i + kIndexPrefetchAhead]);
    if (i + kSlotPrefetchAhead < hashes.size()) index_.PrefetchKey(hashes[i + kSlotPrefetchAhead]);
    if (absl::Status st = Validate(r, now); !st.ok()) {
      (*results)[i] = st;
      continue;
    }
    record.clear();
    EncodeReminder(r, &record);
    auto latest = FindLatest(hash, &reader);
    if (!latest.ok()) {
      (*results)[i] = latest.status();
      continue;
    }
    if (!latest->bytes.empty() && latest->bytes == record) {
      (*results)[i] = ScheduleResult::kUnchanged;
      continue;
    }
    (*results)[i] = latest->bytes.empty() ? ScheduleResult::kCreated : ScheduleResult::kReplaced;
    AddPut(&p, hash, r, record, PriorOf(latest->bytes));
  }
  reader.reset();
  if (std::all_of(results->begin(), results->end(), [](const auto& r) { return r.ok(); })) {
    AddStateWrites(&p, std::move(extra));
  }
  p.finish = [results, done = std::move(done)](absl::Status st) {
    if (!st.ok()) {
      for (auto& r : *results) {
        if (r.ok()) r = st;
      }
    }
    done(std::move(*results));
  };
  Submit(std::move(p));
}

void Engine::Cancel(std::vector<ReminderKey> keys, StatusesDone done, StateWrites extra) {
  int64_t now = Now();
  auto results = std::make_shared<std::vector<absl::Status>>(keys.size());
  Pending p;
  std::optional<Store::Reader> reader;
  std::vector<KeyHash> hashes;
  hashes.reserve(keys.size());
  for (const ReminderKey& k : keys) hashes.push_back(HashKey(k.tenant, k.key));
  for (size_t i = 0; i < keys.size(); ++i) {
    const KeyHash& hash = hashes[i];
    if (i + kIndexPrefetchAhead < hashes.size()) index_.Prefetch(hashes[i + kIndexPrefetchAhead]);
    if (i + kSlotPrefetchAhead < hashes.size()) index_.PrefetchKey(hashes[i + kSlotPrefetchAhead]);
    auto prior = PriorFor(hash, &reader);
    if (!prior.ok()) {
      (*results)[i] = prior.status();
    } else if (prior->channel == 0) {
      (*results)[i] = absl::NotFoundError(absl::StrCat("no reminder with key ", keys[i].key));
    } else {
      AddTombstone(&p, hash, keys[i].tenant, keys[i].key, EndReason::kCancelled, now, *prior);
    }
  }
  reader.reset();
  AddStateWrites(&p, std::move(extra));
  p.finish = [this, results, done = std::move(done)](absl::Status st) {
    uint64_t cancelled = 0;
    for (auto& r : *results) {
      if (r.ok() && !st.ok()) r = st;
      cancelled += r.ok() ? 1 : 0;
    }
    stats_.cancelled += cancelled;
    done(std::move(*results));
  };
  Submit(std::move(p));
}

void Engine::Mutate(std::vector<ReminderSpec> schedule, std::vector<ReminderKey> drop,
                    StateWrites extra, Done done) {
  int64_t now = Now();
  // Errors are answered in submission order too, like every other request.
  auto fail = [this, &done](absl::Status st) {
    Pending p;
    p.finish = [st = std::move(st), done = std::move(done)](absl::Status) { done(st); };
    Submit(std::move(p));
  };
  for (const ReminderSpec& r : schedule) {
    if (absl::Status st = Validate(r, now); !st.ok()) {
      fail(absl::Status(st.code(), absl::StrCat(r.key, ": ", st.message())));
      return;
    }
  }
  // Look everything up before adding anything: a read error then leaves no
  // overlay entry pointing into a batch that is never submitted.
  // The caller (the book) sends only messages that changed, so the live
  // version's shape is all that is needed: no read of its bytes from the log.
  std::optional<Store::Reader> reader;
  std::vector<KeyHash> hashes;
  hashes.reserve(schedule.size() + drop.size());
  for (const ReminderSpec& r : schedule) hashes.push_back(HashKey(r.tenant, r.key));
  for (const ReminderKey& k : drop) hashes.push_back(HashKey(k.tenant, k.key));
  std::vector<Prior> priors;
  priors.reserve(schedule.size());
  std::vector<std::string> records(schedule.size());  // encoded once, kept for AddPut
  absl::flat_hash_set<KeyHash, KeyHashHash> scheduled;
  scheduled.reserve(schedule.size());
  for (size_t i = 0; i < schedule.size(); ++i) {
    EncodeReminder(schedule[i], &records[i]);
    auto prior = PriorFor(hashes[i], &reader);
    if (!prior.ok()) {
      fail(prior.status());
      return;
    }
    scheduled.insert(hashes[i]);
    priors.push_back(*prior);
  }
  std::vector<std::pair<size_t, Prior>> drops;
  for (size_t i = 0; i < drop.size(); ++i) {
    const KeyHash& hash = hashes[schedule.size() + i];
    if (scheduled.contains(hash)) continue;
    auto prior = PriorFor(hash, &reader);
    if (!prior.ok()) {
      fail(prior.status());
      return;
    }
    if (prior->channel != 0) drops.emplace_back(i, *prior);
  }
  reader.reset();
  Pending p;
  if (!schedule.empty()) {
    size_t bytes = 0;
    for (const std::string& record : records) bytes += record.size();
    p.batch = std::make_shared<WriteBatch>();
    p.batch->Reserve(schedule.size() + drops.size(), bytes + drops.size() * 64);
    p.ops.reserve(schedule.size() + drops.size());
  }
  for (size_t i = 0; i < schedule.size(); ++i) {
    AddPut(&p, hashes[i], schedule[i], records[i], priors[i]);
  }
  uint64_t dropped = drops.size();
  for (const auto& [i, prior] : drops) {
    AddTombstone(&p, hashes[schedule.size() + i], drop[i].tenant, drop[i].key,
                 EndReason::kCancelled, now, prior);
  }
  AddStateWrites(&p, std::move(extra));
  p.finish = [this, dropped, done = std::move(done)](absl::Status st) {
    if (st.ok()) stats_.cancelled += dropped;
    done(st);
  };
  Submit(std::move(p));
}

void Engine::Reschedule(ReminderKey key, int64_t due_ms, Done done, StateWrites extra) {
  int64_t now = Now();
  KeyHash hash = HashKey(key.tenant, key.key);
  std::optional<Store::Reader> reader;
  auto latest = FindLatest(hash, &reader);
  absl::Status error;
  Pending p;
  if (!latest.ok()) {
    error = latest.status();
  } else if (latest->bytes.empty()) {
    error = absl::NotFoundError(absl::StrCat("no reminder with key ", key.key));
  } else {
    auto rec = DecodeRecord(latest->bytes);
    RAPPEL_CHECK(rec.ok());  // verified when it was written or recovered
    ReminderSpec spec = rec->ToSpec();
    spec.due_ms = due_ms;
    if (spec.expiry_ms != 0 && spec.expiry_ms < due_ms) spec.expiry_ms = 0;
    error = Validate(spec, now);
    if (error.ok() && rec->due_ms != due_ms) {
      std::string record;
      EncodeReminder(spec, &record);
      AddPut(&p, hash, spec, record, PriorOf(latest->bytes));
    }
  }
  reader.reset();
  if (error.ok()) AddStateWrites(&p, std::move(extra));
  p.finish = [error, done = std::move(done)](absl::Status st) { done(error.ok() ? st : error); };
  Submit(std::move(p));
}

void Engine::Complete(std::vector<CompletionRef> refs, Done done, StateWrites extra) {
  int64_t now = Now();
  Pending p;
  uint64_t completed = 0;
  std::optional<Store::Reader> reader;
  for (const CompletionRef& ref : refs) {
    KeyHash hash = ref.hash ? *ref.hash : HashKey(ref.key.tenant, ref.key.key);
    // Only the version that was handed out; a newer one stays, and so does
    // one whose replace or cancel is in flight (that write ends it).
    if (overlay_.contains(hash)) continue;
    std::optional<uint32_t> h = DurableHandleOf(hash, ref.seq, ref.slot);
    if (!h || index_.Ending(*h)) continue;
    // Its shape for the counters (from memory, or one memory-mapped read).
    Prior prior;
    if (auto found = PriorAt(*h, hash, &reader); found.ok()) prior = *found;
    AddTombstone(&p, hash, ref.key.tenant, ref.key.key, EndReason::kCompleted, now, prior);
    ++completed;
  }
  reader.reset();
  AddStateWrites(&p, std::move(extra));
  p.finish = [this, completed, done = std::move(done)](absl::Status st) {
    if (st.ok()) stats_.completed += completed;
    done(st);
  };
  Submit(std::move(p));
}

absl::StatusOr<std::optional<ReminderState>> Engine::Inspect(const ReminderKey& key) {
  KeyHash hash = HashKey(key.tenant, key.key);
  std::optional<Store::Reader> reader;
  auto latest = FindLatest(hash, &reader);
  if (!latest.ok()) return latest.status();
  if (latest->bytes.empty()) return std::optional<ReminderState>();
  auto rec = DecodeRecord(latest->bytes);
  if (!rec.ok()) return rec.status();
  ReminderState state{rec->ToSpec(), latest->seq, latest->durable, false};
  if (auto h = index_.Find(hash); h && index_.meta(*h).seq == latest->seq) {
    state.in_wheel = wheel_.IsScheduled(WheelHandle{*h});
  }
  return std::optional<ReminderState>(std::move(state));
}

void Engine::WriteState(StateWrites writes, Done done) {
  Pending p;
  AddStateWrites(&p, std::move(writes));
  p.finish = std::move(done);
  Submit(std::move(p));
}

bool Engine::IsCurrent(const ReminderKey& key, SeqNo seq, uint32_t slot) const {
  return IsCurrentHashed(HashKey(key.tenant, key.key), seq, slot);
}

std::optional<Engine::Current> Engine::CurrentVersion(const KeyHash& hash, SeqNo seq,
                                                      uint32_t slot) const {
  if (auto it = overlay_.find(hash); it != overlay_.end()) {
    if (it->second.tombstone || it->second.seq != seq) return std::nullopt;
    return Current{};
  }
  std::optional<uint32_t> h = DurableHandleOf(hash, seq, slot);
  if (!h || index_.Ending(*h)) return std::nullopt;
  return Current{h};
}

bool Engine::IsLive(const KeyHash& hash) const {
  if (auto it = overlay_.find(hash); it != overlay_.end()) return !it->second.tombstone;
  return index_.FindUnended(hash).has_value();
}

}  // namespace rappel::server
