// Engine: the single owner of reminder state.
//
// It holds the timing wheel (what is due when), the key index (which log
// record is the live version of each reminder) and the store (the durable
// log). Every operation is turned into log records, queued for the store's
// next group commit, and applied to the in-memory state only once durable.
// So the wheel holds only durable reminders, a reminder is never handed to
// the sink unless its creation is durable, and recovery is the same "apply"
// replayed over the log.
//
//   Schedule/Cancel/Reschedule/Complete ──records──▶ store (group commit)
//          │ read-your-writes overlay                      │ durable
//          ▼                                               ▼
//   KeyIndex + wheel  ◀───────────── apply, in submission order
//          │ Poll(now): due entries          ▲ relocations
//          ▼                                 │
//   DueSink::OnDue(refs)      Compaction: live records copied, range deleted
//   (then ReadDue() and Complete() each one)     (the store's LogCompactor)
//
// Files, one role each: engine.cc (Open, lookups, the write path: requests
// to records, submission, apply), engine_recovery.cc (the log replayed at
// Open), engine_fire.cc (Poll, ReadDue, ReturnDue), engine_compaction.h/.cc
// (Engine::Compaction: the log as a NumberedLog for LogCompactor),
// engine_stats.cc (stats, TopTenants, DueBetween, ListKeys); their state in
// key_index.h (KeyIndex: key -> handle, per-handle metadata, shapes and the
// in-flight-tombstone mark) and live_counts.h (LiveCounts: the counters).
//
// Ordering. Completions run in submission order, so a client pipelining
// requests gets its answers in order, and a request that writes nothing
// (an unchanged schedule) is answered only after every earlier write.
//
// Errors. Bad input gets InvalidArgument / OutOfRange / NotFound for that
// item; other items of the batch go on. A failed commit (disk full, map at
// its maximum) fails the batch with ResourceExhausted and every batch queued
// behind it with Aborted; nothing of theirs is applied, nothing acknowledged
// before is touched, and writes work again once there is room.
//
// Thread: one owner thread calls everything (the io thread in rappeld).
// `post` given to Open must run closures on that thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/common/huge_pages.h"
#include "server/engine/key_index.h"
#include "server/engine/live_counts.h"
#include "server/engine/log_record.h"
#include "server/engine/reminder.h"
#include "server/store/store.h"
#include "server/wheel/timing_wheel.h"

namespace rappel::server {

struct EngineOptions {
  StoreOptions store;
  // Due times further ahead than this are refused (OutOfRange). Recalls are
  // months away; five years leaves room. At most 50 years.
  uint64_t horizon_ms = uint64_t{5} * 366 * 24 * 3600 * 1000;
  size_t max_key_bytes = 256;
  size_t max_recipient_bytes = 320;
  size_t max_payload_bytes = 64 * 1024;
  // Compaction starts when the log holds more than this many times the live
  // reminders (and at least compact_min_log_records records), and reclaims
  // the oldest part of the log in steps of compaction_step_records.
  double compact_log_to_live_ratio = 1.5;
  uint64_t compact_min_log_records = 100'000;
  size_t compaction_step_records = 16'384;
  // The key index is sized at open for at least this many reminders (about
  // 10 bytes each: 10 MB for the default), so the first million keys never
  // wait for the index to rehash; beyond it, it grows by doubling.
  size_t initial_index_capacity = size_t{1} << 20;
  // The key index, the handle metadata and the wheel's entries ask the
  // kernel for 2 MB pages (server/common/huge_pages.h). Process-wide: set
  // by Open for the mappings made from then on.
  bool huge_pages = true;
  // A due reminder whose key has a write in flight waits this long, so that
  // a cancel or change that was sent first wins.
  int64_t defer_while_writing_ms = 2;
  // After an internal write failed (an expiry tombstone), its reminders are
  // looked at again this much later.
  int64_t retry_after_failure_ms = 1000;
  // Unix milliseconds. Defaults to the system clock; tests give a fake.
  std::function<int64_t()> clock;
};

// Receives due reminders, in due order, as references (read their content
// with Engine::ReadDue). Runs on the owner thread, inside Engine::Poll; it
// may call back into the engine (e.g. ReadDue, Complete).
class DueSink {
 public:
  virtual ~DueSink() = default;
  virtual void OnDue(std::vector<DueRef> batch) = 0;
};

enum class ScheduleResult { kCreated, kReplaced, kUnchanged };

// A reminder the sink is done with: the version (seq) it was handed, and
// the slot it came with (DueReminder::slot; kNoSlot works, only slower).
struct CompletionRef {
  ReminderKey key;
  SeqNo seq = 0;
  uint32_t slot = kNoSlot;
  std::optional<KeyHash> hash{};  // DueReminder::hash, when it came from one
  static CompletionRef Of(const DueReminder& d) {
    return CompletionRef{{d.reminder.tenant, d.reminder.key}, d.seq, d.slot, d.hash};
  }
};

struct ReminderState {
  ReminderSpec spec;
  SeqNo seq = 0;
  bool durable = false;  // false: its write is still in flight
  bool in_wheel = false; // false: handed to the sink, not yet completed
};

struct EngineStats {
  uint64_t live = 0;            // reminders in the index
  uint64_t in_wheel = 0;        // of which waiting in the wheel
  uint64_t log_records = 0;     // records in the log, live or garbage
  uint64_t inflight_batches = 0;
  uint64_t scheduled = 0;       // versions made durable since start
  uint64_t cancelled = 0;
  uint64_t completed = 0;
  uint64_t expired = 0;         // dropped at firing time: past their expiry
  uint64_t fired = 0;           // handed to the sink
  uint64_t compaction_steps = 0;
  uint64_t relocated = 0;       // live records re-appended by compaction
  uint64_t recovered_records = 0;
  uint64_t log_bytes = 0;       // bytes of the records in the log, live or garbage
  uint64_t live_bytes = 0;      // bytes of the live versions
  uint64_t live_by_channel[kChannelCount + 1] = {};  // indexed by Channel
  uint64_t tenants = 0;         // tenants with at least one live reminder
  uint64_t forced_compactions = 0;  // CompactNow passes finished
  int64_t recovery_ms = 0;       // opening: log replay and wheel rebuild
  int64_t recovery_scan_ms = 0;  // of which replaying the log into the index
  size_t memory_bytes = 0;      // wheel + index + per-entry metadata
  StoreStats store;
};

// What a forced compaction pass did (Engine::CompactNow).
struct CompactionResult {
  uint64_t log_records_before = 0;
  uint64_t log_bytes_before = 0;
  uint64_t log_records_after = 0;
  uint64_t log_bytes_after = 0;
  uint64_t live = 0;
  uint64_t relocated = 0;  // live records re-appended by this pass
};

class Engine {
 public:
  // Opens the store, rebuilds the wheel and index from the log (reminders
  // already due fire at the first Poll, oldest first). Errors: those of
  // Store::Open, DataLoss for a bad record.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(EngineOptions options, Store::Poster post);
  ~Engine();

  using ScheduleDone = std::function<void(std::vector<absl::StatusOr<ScheduleResult>>)>;
  using StatusesDone = std::function<void(std::vector<absl::Status>)>;
  using Done = std::function<void(absl::Status)>;
  // Writes to the store's `state` database that ride in the same commit as a
  // request's log records: both land, or neither (the dispatcher keeps its
  // attempt counts and dead letters there). Each call says when they are
  // written; if the commit fails, neither they nor the records land.
  using StateWrites = std::vector<WriteBatch::StateOp>;

  // Schedules a batch; `done` gets one result per item, once durable.
  // Scheduling a key again with identical content is kUnchanged (nothing is
  // written); with other content it replaces the pending version.
  // `extra` is written only if every item is valid.
  void Schedule(std::vector<ReminderSpec> batch, ScheduleDone done, StateWrites extra = {});
  // Cancels pending (or handed-out) reminders: NotFound for unknown keys.
  // `extra` is always written (even when every key is NotFound).
  void Cancel(std::vector<ReminderKey> keys, StatusesDone done, StateWrites extra = {});
  // Moves a reminder to a new due time (it re-enters the wheel even if it
  // had been handed out). NotFound for an unknown key.
  // `extra` is written unless the key is unknown or the due time invalid.
  void Reschedule(ReminderKey key, int64_t due_ms, Done done, StateWrites extra = {});
  // The sink is done with these versions: they leave the log. A ref to a
  // version since replaced or cancelled is accepted and ignored.
  // `extra` is always written (even when every ref is stale).
  void Complete(std::vector<CompletionRef> refs, Done done, StateWrites extra = {});
  // One atomic change of a set of reminders (an appointment's re-plan):
  // `drop` are cancelled (keys with no live version are skipped), `schedule`
  // scheduled or replaced, and `extra` written, all in one commit. Any
  // invalid item fails the whole request with its error and writes nothing.
  // A key both dropped and scheduled is scheduled. Every scheduled item is
  // written as a new version, even one identical to the live version (the
  // caller sends only what changed).
  void Mutate(std::vector<ReminderSpec> schedule, std::vector<ReminderKey> drop,
              StateWrites extra, Done done);
  // Only state writes, in submission order with everything else.
  void WriteState(StateWrites writes, Done done);
  // Forces a compaction pass over the whole log as it is now, whatever the
  // garbage ratio: every live record written before the call is re-appended
  // and the rest deleted. `done` runs once the reclaim is durable.
  void CompactNow(std::function<void(absl::StatusOr<CompactionResult>)> done);

  // Hands due reminders to `sink`, doing at most `budget` units of wheel
  // work (so one huge slot never blocks the thread for long; each reminder
  // handed out also costs one store read, about a microsecond, hence the
  // small default). Returns true
  // when caught up with now_ms, false when more is due (call again soon).
  bool Poll(int64_t now_ms, DueSink& sink, size_t budget = 4096);
  // When Poll next has work (unix ms), or nullopt when the wheel is empty.
  std::optional<int64_t> NextWakeMs() const;

  // The latest version of a reminder (in flight or durable), or nullopt.
  absl::StatusOr<std::optional<ReminderState>> Inspect(const ReminderKey& key);

  // True when no write is in flight (every completion has run).
  bool idle() const { return pending_.empty(); }
  // The engine's clock (unix ms).
  int64_t NowMs() const { return options_.clock(); }
  // Whether the key has a live version (durable or in flight).
  bool IsLive(const KeyHash& hash) const;
  // Whether `seq` is still the latest version of the key: false once a
  // replace or cancel of it has been submitted (even if not yet durable),
  // so a message made stale by a later change is not handed out. A version
  // compaction moved to a new number while it was handed out is still
  // current under the number it was handed out with. `slot`: the due
  // reminder's (saves a key-index lookup).
  bool IsCurrent(const ReminderKey& key, SeqNo seq, uint32_t slot = kNoSlot) const;
  bool IsCurrent(const DueReminder& d) const {
    return IsCurrentHashed(d.hash ? *d.hash : HashKey(d.reminder.tenant, d.reminder.key), d.seq,
                           d.slot);
  }
  bool IsCurrent(const DueRef& d) const { return IsCurrentHashed(d.hash, d.seq, d.slot); }
  // The content of a due reminder Poll handed out, into *out (its strings
  // reuse their capacity): the version named by ref.seq, wherever compaction
  // has moved it since. `reader`: a read snapshot kept across calls (reset
  // it before calling anything else of the engine); empty, one is opened.
  // NotFound: no longer current (IsCurrent). Any other error: the store
  // could not give the record back; try again later, or hand it back with
  // ReturnDue.
  absl::Status ReadDue(const DueRef& ref, std::optional<Store::Reader>* reader, DueReminder* out);
  // A due reminder the sink cannot use now (its content was unreadable):
  // back in the wheel, due again after retry_after_failure_ms, rather than
  // lost. Nothing if it is no longer current. The sink drops its `ref`.
  void ReturnDue(const DueRef& ref);
  // Asks the CPU for what ReadDue(ref) looks at first (the handle's
  // metadata), without waiting: call it a few references ahead.
  void PrefetchDue(const DueRef& ref) const {
    if (index_.HasSlot(ref.slot)) {
      PrefetchLine(&index_.meta(ref.slot));
      PrefetchLine(&index_.shape(ref.slot));
    }
  }
  EngineStats stats() const;
  // Tenants by live reminders, largest first, at most n.
  std::vector<std::pair<TenantId, uint64_t>> TopTenants(size_t n) const;
  // Live reminders of one tenant.
  uint64_t LiveOf(TenantId tenant) const;
  // Live reminders whose due time falls in [from_ms, to_ms), counted by
  // whole minutes (see LiveCounts): a minute that straddles a bound
  // counts whole, so the result may include a few reminders due up to a
  // minute before from_ms (e.g. fired and leased, not yet acked).
  uint64_t DueBetween(int64_t from_ms, int64_t to_ms) const;
  // One page of a tenant's live keys in byte order: those starting with
  // `prefix` and greater than `after`, at most `limit`; `more` when others
  // follow. Durable versions only, those not being ended (FindUnended).
  // There is no ordered key index (KeyIndex holds hashes), so this reads
  // every live record's header once: O(live reminders) per page, a tool
  // for operators. Errors: the store's, reading a record.
  struct KeyPage {
    std::vector<std::string> keys;
    bool more = false;
  };
  absl::StatusOr<KeyPage> ListKeys(TenantId tenant, std::string_view prefix,
                                   std::string_view after, size_t limit);
  Store& store() { return *store_; }

 private:
  enum class OpKind : uint8_t { kPut, kTombstone, kRelocate };
  // What the version an op replaces or ends looked like, for the counters.
  // Taken at submission: writes apply in submission order and a failed one
  // fails every later one of its epoch, so at apply time the index holds
  // exactly that version.
  struct Prior {
    uint8_t channel = 0;  // 0: no live version
    uint32_t bytes = 0;
    // The handle of that version when it is durable and nothing for its key
    // is in flight: a tombstone then marks the handle (KeyIndex's
    // kShapeEnding) instead of adding an overlay entry. kNoSlot otherwise.
    uint32_t slot = kNoSlot;
    int64_t due_ms = 0;
  };
  static Prior PriorOf(std::string_view record_bytes);
  struct Op {
    OpKind kind;
    KeyHash hash;
    SeqNo seq;         // the record written
    SeqNo old_seq;     // kRelocate: the record it copies
    int64_t due_ms;    // kPut
    uint32_t tenant = 0;
    uint8_t channel = 0;  // kPut
    uint32_t bytes = 0;   // kPut: record size
    Prior prior;          // kPut, kTombstone
  };
  static Op MakeOp(OpKind kind, const KeyHash& hash, SeqNo seq, SeqNo old_seq, int64_t due_ms) {
    Op op;
    op.kind = kind;
    op.hash = hash;
    op.seq = seq;
    op.old_seq = old_seq;
    op.due_ms = due_ms;
    return op;
  }
  // One request's writes, from submission until its completion has run.
  struct Pending {
    uint64_t epoch = 0;
    std::shared_ptr<WriteBatch> batch;  // null: nothing to write
    std::vector<Op> ops;
    std::function<void(absl::Status)> finish;  // runs after apply (or failure)
  };
  struct Inflight {  // the latest unapplied write of a key
    SeqNo seq;
    const WriteBatch* batch;
    uint32_t record;
    bool tombstone;
  };
  struct KeyHashHash {
    size_t operator()(const KeyHash& k) const { return k.lo; }
  };
  // What the latest version of a key is, looking through in-flight writes.
  struct Latest {
    SeqNo seq = 0;
    std::string_view bytes;  // empty: no live version
    bool durable = false;
  };

  explicit Engine(EngineOptions options);
  absl::Status Recover();
  absl::Status Validate(const ReminderSpec& r, int64_t now_ms) const;
  absl::StatusOr<Latest> FindLatest(const KeyHash& hash, std::optional<Store::Reader>* reader);
  // Appends a record to `p` and registers it as the key's latest write.
  void AddPut(Pending* p, const KeyHash& hash, const ReminderSpec& r, std::string_view record,
              const Prior& prior);
  void AddTombstone(Pending* p, const KeyHash& hash, TenantId tenant, std::string_view key,
                    EndReason reason, int64_t now_ms, const Prior& prior);
  static void AddStateWrites(Pending* p, StateWrites writes);
  void Submit(Pending p);
  void OnCommitted(absl::Status status);
  void Apply(const Pending& p);
  void DropOverlay(const Op& op);
  // A compaction step, if there is garbage (engine_compaction.h).
  void MaybeCompact();
  int64_t Now() const { return options_.clock(); }

  // Whether a write to the key of durable handle h is in flight.
  bool WriteInFlight(uint32_t h, const KeyHash& hash) const {
    return index_.Ending(h) || overlay_.contains(hash);
  }
  bool IsCurrentHashed(const KeyHash& hash, SeqNo seq, uint32_t slot) const {
    return CurrentVersion(hash, seq, slot).has_value();
  }
  // Version `seq` of the key, if it is still current (IsCurrent): its
  // durable handle, or no handle when it is the write in flight (overlay).
  struct Current {
    std::optional<uint32_t> handle;
  };
  std::optional<Current> CurrentVersion(const KeyHash& hash, SeqNo seq, uint32_t slot) const;
  // Log record `seq` through `reader`, opened first if empty.
  absl::StatusOr<std::string_view> GetLog(SeqNo seq, std::optional<Store::Reader>* reader);
  // Clears the marks of tombstones that will not apply: ops of a failed
  // epoch (OnCommitted).
  void ClearEndingMarks(const Pending& p);
  // The counters' view of the key's live version (channel 0: none), from
  // memory when it can: the overlay's batch, or the handle's shape and the
  // wheel's due time; else from the log.
  absl::StatusOr<Prior> PriorFor(const KeyHash& hash, std::optional<Store::Reader>* reader);
  // The same for the durable version in handle h.
  absl::StatusOr<Prior> PriorAt(uint32_t h, const KeyHash& hash,
                                std::optional<Store::Reader>* reader);
  // The handle whose durable version is `seq` of the key (or that version
  // moved by compaction while handed out), ignoring in-flight writes;
  // nullopt when `seq` is not the durable version. `slot` is tried before
  // the key index.
  std::optional<uint32_t> DurableHandleOf(const KeyHash& hash, SeqNo seq, uint32_t slot) const;
  EngineOptions options_;
  std::unique_ptr<Store> store_;
  TimingWheel wheel_;
  KeyIndex index_;
  std::string tombstone_scratch_;  // AddTombstone's encoding buffer
  absl::flat_hash_map<KeyHash, Inflight, KeyHashHash> overlay_;
  // Versions compaction moved to a new number while they were handed out
  // (out of the wheel): key -> the number they were handed out with, which
  // their ack or lease still names. Dropped with the key's next write.
  absl::flat_hash_map<KeyHash, SeqNo, KeyHashHash> moved_while_out_;
  std::deque<Pending> pending_;
  uint64_t epoch_ = 1;
  SeqNo next_seq_ = 1;
  std::vector<WheelHandle> fired_;
  class Compaction;
  std::unique_ptr<Compaction> compaction_;  // made by Recover
  LiveCounts counts_;
  // Lets completions posted after destruction see that the engine is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  EngineStats stats_;
};

}  // namespace rappel::server
