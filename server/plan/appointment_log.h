// AppointmentLog: the appointments as the book holds them (BookEntry,
// appointment_record.h), found by id, by calendar and by patient, and
// their records in the store's `state` database:
//
//   pa/<seq 8>   an appointment's record, numbered in write order
//   au/<n 8>     the audit lines of one event (audit.h)
//
// Records are numbered in write order, not keyed by id: every write lands
// at the end of its B-tree (sequential pages). (Keyed by id, two random
// pages per event made the commit's page writes the bottleneck of
// appointment ingest; rewritten in place, a change to an older appointment
// still cost a random page.) A change to an appointment appends its new
// version under a new number; the old one is garbage. The id -> record map
// is rebuilt at start from the records, which hold their tenant and id: the
// highest number of an id wins, and a tombstone (a record of a purged
// appointment that has older versions still stored: a zero byte, then its
// ObjKey) removes it.
//
// Reclaim. When the garbage outgrows the live records (and passes
// min_record_garbage), a cycle re-appends every live version below the
// cycle's start, a step of at most records_per_compaction at a time, and
// deletes the numbers below each step, in one commit (LogCompactor,
// kOneCommit; the writer copies the stored bytes, so a version rewritten
// meanwhile is never lost). Steps are started by MaybeCompact, after each
// of the book's submissions.
//
// Memory follows submission (read-your-writes); Committed and Reload bring
// it back in line with the store once a commit has landed or failed.
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "server/engine/engine.h"
#include "server/plan/appointment_record.h"
#include "server/plan/change.h"
#include "server/store/log_compactor.h"

namespace rappel::server::plan {

class AppointmentLog : private NumberedLog {
 public:
  struct Options {
    // Superseded records are reclaimed once there are more of them than
    // live ones, and at least this many; a step re-appends at most
    // `records_per_compaction` live ones.
    uint64_t min_record_garbage = 50'000;
    size_t records_per_compaction = 4'096;
  };
  // Submits a change (the book's Submit: ledgers, Engine::Mutate, then
  // Committed or Reload).
  using SubmitFn = std::function<void(Change, std::function<void(absl::Status)>)>;

  AppointmentLog(Engine* engine, Options options, SubmitFn submit);

  // Loads every appointment from its latest record.
  absl::Status Load(Store::Reader& reader);

  // Null when unknown.
  BookEntry* Find(uint32_t tenant, std::string_view id);
  const BookEntry* Find(uint32_t tenant, std::string_view id) const;
  // Every entry of every tenant, keyed by ObjKey(tenant, id). (Entries are
  // added and removed only through the log: the tenant index follows them.)
  absl::node_hash_map<std::string, BookEntry>& entries() { return entries_; }
  const absl::node_hash_map<std::string, BookEntry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  // One tenant's entries, in no order (empty for an unknown tenant). Kept
  // as entries are added, reloaded and purged; valid until the next of
  // those.
  const absl::flat_hash_set<BookEntry*>& OfTenant(uint32_t tenant) const;

  // A new entry, not yet in the calendar and patient indexes (Index it
  // once its start is set).
  BookEntry& Add(const std::string& obj, BookEntry e);
  // Adds or removes an entry in the calendar and patient indexes (take it
  // out before its calendar, patient or start changes, and back after).
  void Index(const BookEntry& e, bool add);
  // The tenant's appointments of a calendar or a patient starting in
  // [from_ms, to_ms), in start order.
  std::vector<BookEntry*> OfCalendar(uint32_t tenant, const std::string& calendar, int64_t from_ms,
                                     int64_t to_ms) const;
  std::vector<BookEntry*> OfPatient(uint32_t tenant, const std::string& patient, int64_t from_ms,
                                    int64_t to_ms) const;

  // The write of `e`'s record in `change`: a new version under a new number
  // unless `change` already numbered it.
  StateOp RecordWrite(BookEntry& e, Change& change);
  // The write of `e`'s record under its current number (an outcome noted
  // in the commit of an ack).
  static StateOp Rewrite(const BookEntry& e);
  // Puts a new audit record of `e` into `writes` (its number is added to
  // e.audit, so encode the entry after this), and the delete of its oldest
  // past kMaxAuditPerAppointment.
  void NewAudit(BookEntry& e, std::string lines, Engine::StateWrites* writes);
  // The number the next NewAudit gives (numbers only grow).
  uint64_t next_audit_number() const { return next_audit_; }

  // The records `change` wrote are durable.
  void Committed(const std::vector<std::pair<std::string, uint64_t>>& records);
  // A commit failed: memory went ahead of the store for these entries
  // (ObjKeys); they are read back from their latest durable record.
  void Reload(const std::vector<std::string>& entry_keys);
  // Forgets the entries (ObjKeys) and puts the deletes of their records and
  // audit into `writes`.
  void Purge(const std::vector<std::string>& objs, Engine::StateWrites* writes);

  // One reclaim step of superseded records, when due.
  void MaybeCompact() {
    if (compactor_) compactor_->Run();
  }

 private:
  // A calendar's and a patient's appointments by start time (absences,
  // delay alerts, a patient's next appointment, STOP), keyed by
  // ObjKey(tenant, calendar or patient), in buckets of `bucket_ms` of start
  // time (0: one bucket). Adding or removing is a hash lookup and a short
  // vector's push or swap-erase: cheaper per event than an ordered tree.
  class StartIndex {
   public:
    explicit StartIndex(int64_t bucket_ms) : bucket_ms_(bucket_ms) {}
    void Add(const std::string& owner, BookEntry* e);
    void Remove(const std::string& owner, BookEntry* e);
    // The entries starting in [from_ms, to_ms), in start order.
    std::vector<BookEntry*> InRange(const std::string& owner, int64_t from_ms, int64_t to_ms) const;

   private:
    int64_t Bucket(int64_t start_ms) const { return bucket_ms_ == 0 ? 0 : start_ms / bucket_ms_; }
    int64_t bucket_ms_;
    absl::flat_hash_map<std::string, absl::flat_hash_map<int64_t, std::vector<BookEntry*>>> owners_;
  };

  // Every insert into and erase from entries_ goes through these two,
  // which keep by_tenant_.
  BookEntry& Hold(const std::string& obj, BookEntry e);
  void Forget(absl::node_hash_map<std::string, BookEntry>::iterator it);

  // NumberedLog (the reclaim of superseded records).
  bool HasGarbage() const override;
  absl::StatusOr<Step> PrepareStep(uint64_t lo, uint64_t bound) override;
  void CommitCopies(uint64_t lo, uint64_t hi, bool and_delete, Done done) override;
  void CommitDelete(uint64_t lo, uint64_t hi, Done done) override;

  Engine* engine_;
  Options options_;
  SubmitFn submit_;
  // ObjKey(tenant, id). Node-based: the indexes below point at entries.
  absl::node_hash_map<std::string, BookEntry> entries_;
  StartIndex by_calendar_{kDayMs};
  StartIndex by_patient_{0};
  // Each tenant's entries (a tenant's message list walks only its own).
  // Changed only when an entry is created or erased, not on its updates.
  absl::flat_hash_map<uint32_t, absl::flat_hash_set<BookEntry*>> by_tenant_;
  uint64_t next_record_ = 1;      // pa/ numbers
  uint64_t next_audit_ = 1;       // au/ numbers
  uint64_t garbage_records_ = 0;  // superseded pa/ records (an estimate)
  // The reclaim cycle under way: live versions (number, ObjKey) below
  // cycle_end_, oldest first, and the next one to relocate.
  std::vector<std::pair<uint64_t, std::string>> cycle_;
  size_t cycle_next_ = 0;
  uint64_t cycle_end_ = 0;
  uint64_t garbage_at_cycle_start_ = 0;
  Change step_;  // the step PrepareStep built, submitted by CommitCopies
  bool step_ends_cycle_ = false;
  // Made by Load, whose floor is the oldest record's number.
  std::optional<LogCompactor> compactor_;
};

}  // namespace rappel::server::plan
