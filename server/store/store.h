// Store: the durable side of rappel, one LMDB environment:
//
//   log    append-only, keyed by SeqNo (MDB_INTEGERKEY, written with
//          MDB_APPEND): every reminder version and every tombstone. What is
//          live is decided by the owner's in-memory index, not here (Bitcask);
//          the owner reclaims the garbage with a LogCompactor (log_compactor.h).
//   state  small B-tree of low-volume settings (tenants, balances, ...).
//   meta   schema version, the next sequence number and, on a replicated
//          shard, the replication position (`repl_pos`) and term history
//          (`repl_terms`), written in the transaction they describe.
//
// Threads. The owner thread (the engine's) submits batches, opens Readers and
// receives completions. One writer thread, private to the Store, owns every
// write transaction: it takes every batch queued since its last commit,
// writes them in one transaction, commits (fsync), then posts each batch's
// completion to the owner, in submission order. A completion with an OK
// status means the batch is durable. With a CommitHook (commit_hook.h) the
// writer hands each round's completions to the hook instead, which posts
// them once the group may be answered (durable on the standbys too).
//
// Errors.
//   - A commit that fails (disk full, map at its maximum) fails every batch in
//     it, and every batch submitted afterwards with the same epoch: later
//     batches may have been built on the failed ones (read-your-writes), so
//     none of them may land. The owner starts a new epoch once it has seen
//     the failure; writes then work again as soon as there is room.
//   - The map grows by itself (doubling, up to `max_map_bytes`).
//   - An I/O error or LMDB panic is fatal and sticky: every later write is
//     refused with the same status, reads go on (LevelDB's rule: once a sync
//     failed, nothing pretends).
//
// Log (server/common/log.h): the first write refused for a full store or
// disk (error) and the first commit that lands after it (info), never each
// refused write; a fatal error once; slow commits (warn); backups (info).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/common/histogram.h"
#include "server/store/commit_hook.h"
#include "server/store/write_batch.h"

namespace rappel::server {

// Version of the on-disk layout. A store written with another version is
// refused at Open with FailedPrecondition.
inline constexpr uint32_t kStoreSchemaVersion = 1;

struct StoreOptions {
  // Directory holding data.mdb and lock.mdb; created if missing.
  std::string path;
  // First map size. Small is fine: the map doubles when it gets full.
  uint64_t initial_map_bytes = uint64_t{64} << 20;
  // The map never grows past this. Reaching it is a clear ResourceExhausted
  // error (writes refused, reads go on), as is a full disk.
  uint64_t max_map_bytes = uint64_t{1} << 40;
  // fsync at every commit. Only benchmarks of the non-durable path turn it off.
  bool sync = true;
  // Upper bound on records written in one transaction, so one commit does
  // not hold every ack behind an unbounded amount of work.
  size_t max_records_per_commit = 200'000;
  // A commit taking this long or longer (writing the group through fsync)
  // is logged as a warning: the disk is too slow for the load.
  double slow_commit_seconds = 1.0;
  // A replicating primary's hook (commit_hook.h): positions every commit
  // and holds its completions until they may be answered. Not owned; must
  // outlive the Store. Null: completions are posted right after the commit.
  CommitHook* hook = nullptr;
};

struct StoreStats {
  uint64_t commits = 0;            // successful write transactions
  uint64_t batches_committed = 0;  // batches made durable
  uint64_t records_appended = 0;   // log records written
  uint64_t failed_batches = 0;
  uint64_t last_group_batches = 0;  // batches in the last commit
  uint64_t max_group_batches = 0;
  uint64_t last_group_records = 0;  // log records in the last commit
  uint64_t max_group_records = 0;
  uint64_t map_bytes = 0;       // current map size
  uint64_t map_grows = 0;
  uint64_t log_entries = 0;     // records in the log database now
  uint64_t used_bytes = 0;      // pages in use (last page number * page size)
  // Successful commits: seconds from the start of writing the group to the
  // commit's return (fsync included), and log records in each. Kept by the
  // writer thread under the lock it takes once per commit anyway.
  LatencyHistogram commit_seconds;
  CountHistogram records_per_commit;
  std::string fatal_error;      // non-empty once writes are refused for good
};

// A store's replication metadata: its position (meta repl_pos) and term
// history (meta repl_terms: each term with the first index it committed,
// in commit order; the last term runs to `pos`).
struct ReplMeta {
  ReplPos pos;
  std::vector<ReplPos> terms;
};

class Store {
 public:
  // Runs a completion on the owner thread (e.g. asio::post onto its
  // io_context). Must be safe to call from the writer thread.
  using Poster = std::function<void(std::function<void()>)>;
  using Done = std::function<void(absl::Status)>;

  // Opens (creating if needed) the store in options.path and starts the
  // writer thread. Errors: FailedPrecondition on a schema version mismatch,
  // Internal/Unavailable with the LMDB message otherwise.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options, Poster post);

  // Stops accepting, commits what is queued, posts the last completions and
  // joins the writer. No Reader may be alive.
  ~Store();

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Owner thread. Queues `batch` for the next group commit; `done` is posted
  // with OK once it is durable, or with the error that kept it out. `epoch`
  // is the owner's current epoch (see the file comment); it never decreases.
  void Submit(uint64_t epoch, std::shared_ptr<const WriteBatch> batch, Done done);

  // Owner thread, standby side (a store opened without a hook: checked).
  // Queues a group
  // received from the primary: its batches land in ONE transaction (maybe
  // with other queued work), which also sets meta `repl_pos` to `pos` (and
  // extends `repl_terms` when pos.term is new), so after a crash `repl_pos`
  // says exactly which groups the store holds. `done` as for Submit; on an
  // error nothing of the group is written.
  void SubmitGroup(uint64_t epoch, std::vector<std::shared_ptr<const WriteBatch>> group,
                   ReplPos pos, Done done);

  // The first sequence number never used by this store (last log key + 1, or
  // higher if the log was emptied by compaction). Valid right after Open.
  SeqNo next_seq_at_open() const { return next_seq_at_open_; }

  // A consistent read snapshot (LMDB read transaction). Short-lived: while
  // any Reader exists the map cannot grow. Owner thread only; one at a time.
  class Reader {
   public:
    ~Reader();
    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) = delete;

    // The bytes of log record `seq`, valid while this Reader lives.
    // NotFound if there is no such record.
    absl::StatusOr<std::string_view> GetLog(SeqNo seq) const;
    // Calls fn(seq, bytes) for every log record with seq >= from, in order,
    // until fn returns false.
    absl::Status ScanLog(SeqNo from, absl::FunctionRef<bool(SeqNo, std::string_view)> fn) const;
    // Value of a state key, nullopt if absent.
    absl::StatusOr<std::optional<std::string>> GetState(std::string_view key) const;
    // Calls fn(key, value) for every state entry with key >= from, in key
    // order, until fn returns false. Views valid while this Reader lives.
    absl::Status ScanState(std::string_view from,
                           absl::FunctionRef<bool(std::string_view, std::string_view)> fn) const;
    // The replication position of this snapshot: that of the last group
    // committed through a hook or SubmitGroup; {0, 0} when there was none.
    absl::StatusOr<ReplPos> GetReplPos() const;
    // The term history: (term, first index of that term), in commit order.
    absl::StatusOr<std::vector<ReplPos>> GetReplTerms() const;

   private:
    friend class Store;
    explicit Reader(Store* store);
    Store* store_;
    void* txn_;  // MDB_txn*, kept opaque so that lmdb.h stays out of this header
    mutable void* log_cursor_ = nullptr;  // MDB_cursor* of GetLog, opened at first use
  };
  absl::StatusOr<Reader> NewReader();

  // Hint before reading the whole log (recovery): maps it in bulk.
  void PrepareFullScan();

  // Hot backup with compaction (mdb_env_copy2 + MDB_CP_COMPACT) into
  // directory `dir`, which must exist and hold no data.mdb. Writes go on
  // meanwhile. Safe from any thread; it takes as long as copying the live
  // data, so call it off the owner thread when the store is large.
  absl::Status Backup(const std::string& dir);

  // The committed replication metadata, read in a transaction of its own.
  // Any thread not holding a Reader.
  absl::StatusOr<ReplMeta> ReadReplMeta() const;

  // A snapshot of the counters. Any thread not holding a Reader.
  StoreStats stats() const;

  const StoreOptions& options() const { return options_; }

 private:
  struct Impl;
  Store(const StoreOptions& options, Poster post);
  StoreOptions options_;
  SeqNo next_seq_at_open_ = 1;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rappel::server
