#include "server/store/store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/check.h"
#include "server/common/log.h"
#include "server/store/store_meta.h"

namespace rappel::server {
namespace {

using store_meta::AppendReplPos;
using store_meta::DecodeReplPos;
using store_meta::DecodeU64;
using store_meta::EncodeU64;
constexpr const char* kMetaSchemaVersion = store_meta::kSchemaVersion;
constexpr const char* kMetaNextSeq = store_meta::kNextSeq;
constexpr const char* kMetaReplPos = store_meta::kReplPos;
constexpr const char* kMetaReplTerms = store_meta::kReplTerms;

MDB_val ToVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

absl::Status LmdbError(int rc, const std::string& what) {
  return absl::InternalError(absl::StrCat("lmdb: ", what, ": ", mdb_strerror(rc)));
}

}  // namespace

struct Store::Impl {
  struct Pending {
    uint64_t epoch;
    std::shared_ptr<const WriteBatch> batch;
    Done done;
    // SubmitGroup: the next entry belongs to the same group (same
    // transaction); the group's last entry carries its position.
    bool continues = false;
    bool group_end = false;
    ReplPos pos;
  };

  MDB_env* env = nullptr;
  MDB_dbi log_dbi = 0;
  MDB_dbi state_dbi = 0;
  MDB_dbi meta_dbi = 0;
  int lock_fd = -1;
  std::string path;
  Poster post;
  CommitHook* hook = nullptr;

  // Submission queue: owner pushes, writer drains.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Pending> queue;
  bool stopping = false;
  std::thread writer;

  // LMDB's rule: the map may be resized only while this process has no
  // transaction open. Readers hold it shared, the writer takes it to grow.
  std::shared_mutex map_mu;

  // Writer thread only.
  std::optional<uint64_t> poisoned_epoch;
  absl::Status poison_status;
  absl::Status fatal_status;
  bool full = false;  // the last commit failed for want of room (logged once)
  double slow_commit_seconds = 1.0;
  uint64_t map_bytes = 0;
  uint64_t max_map_bytes = 0;
  SeqNo last_seq_written = 0;  // highest log key ever appended
  ReplPos repl_pos;            // durable meta repl_pos
  std::string repl_terms;      // durable meta repl_terms

  // Owner thread only: one read transaction reused through reset/renew,
  // and one log cursor reused through renew.
  MDB_txn* idle_read_txn = nullptr;
  MDB_cursor* idle_log_cursor = nullptr;

  mutable std::mutex stats_mu;
  StoreStats stats;

  ~Impl() {
    if (idle_log_cursor != nullptr) mdb_cursor_close(idle_log_cursor);
    if (idle_read_txn != nullptr) mdb_txn_abort(idle_read_txn);
    if (env != nullptr) mdb_env_close(env);
    if (lock_fd >= 0) close(lock_fd);
  }

  uint64_t FreeDiskBytes() {
    struct statvfs fs;
    if (statvfs(path.c_str(), &fs) != 0) return UINT64_MAX;
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }

  uint64_t UsedBytes() {
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    return (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  }

  // Doubles the map (at least to `want`), up to the maximum. False when the
  // map is already at its maximum.
  absl::StatusOr<bool> Grow(uint64_t want) {
    if (map_bytes >= max_map_bytes) return false;
    uint64_t next = std::min(max_map_bytes, std::max(map_bytes * 2, want));
    std::unique_lock lock(map_mu);
    int rc = mdb_env_set_mapsize(env, next);
    if (rc != 0) return LmdbError(rc, "growing the map");
    map_bytes = next;
    std::lock_guard s(stats_mu);
    stats.map_bytes = map_bytes;
    ++stats.map_grows;
    return true;
  }

  int WriteGroup(MDB_txn* txn, const std::vector<Pending*>& group,
                 const std::vector<ReplPos>& positions, std::string* new_terms, uint64_t* appended,
                 SeqNo* max_seq, bool* deleted_any) {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, log_dbi, &cursor);
    if (rc != 0) return rc;
    for (const Pending* p : group) {
      const WriteBatch& b = *p->batch;
      for (const auto& r : b.log_records()) {
        MDB_val key{sizeof(SeqNo), const_cast<SeqNo*>(&r.seq)};
        MDB_val val = ToVal(b.record_bytes(r));
        rc = mdb_cursor_put(cursor, &key, &val, MDB_APPEND);
        if (rc != 0) break;
        ++*appended;
        *max_seq = std::max(*max_seq, r.seq);
      }
      if (rc != 0) break;
      for (const auto& range : b.deleted_ranges()) {
        *deleted_any = true;
        // Sequential deletes from the oldest key: cheap, the pages are freed.
        for (;;) {
          SeqNo lo = range.lo;
          MDB_val key{sizeof(SeqNo), &lo};
          MDB_val val;
          rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
          if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
          }
          if (rc != 0) break;
          SeqNo found;
          std::memcpy(&found, key.mv_data, sizeof found);
          if (found >= range.hi) break;
          rc = mdb_cursor_del(cursor, 0);
          if (rc != 0) break;
        }
        if (rc != 0) break;
      }
      if (rc != 0) break;
      for (const auto& op : b.state_ops()) {
        MDB_val key = ToVal(op.key);
        if (op.is_delete && !op.range_end.empty()) {
          rc = DeleteStateRange(txn, op.key, op.range_end);
        } else if (op.is_delete) {
          rc = mdb_del(txn, state_dbi, &key, nullptr);
          if (rc == MDB_NOTFOUND) rc = 0;
        } else if (!op.copy_from.empty()) {
          MDB_val from = ToVal(op.copy_from);
          MDB_val val;
          rc = mdb_get(txn, state_dbi, &from, &val);
          if (rc == MDB_NOTFOUND && !op.copy_fallback.empty()) {
            from = ToVal(op.copy_fallback);
            rc = mdb_get(txn, state_dbi, &from, &val);
          }
          if (rc == 0) {
            // (Copied out first: the put may touch the page it points into.)
            std::string value(FromVal(val));
            val = ToVal(value);
            rc = mdb_put(txn, state_dbi, &key, &val, 0);
          }
        } else {
          MDB_val val = ToVal(op.value);
          rc = mdb_put(txn, state_dbi, &key, &val, 0);
        }
        if (rc != 0) break;
      }
      if (rc != 0) break;
    }
    mdb_cursor_close(cursor);
    if (rc == 0 && *deleted_any) {
      // Once compaction may have emptied the log, its last key no longer
      // tells the next sequence number: keep it in meta.
      std::string next = EncodeU64(std::max(*max_seq, last_seq_written) + 1);
      MDB_val key = ToVal(kMetaNextSeq);
      MDB_val val = ToVal(next);
      rc = mdb_put(txn, meta_dbi, &key, &val, 0);
    }
    if (rc == 0 && !positions.empty()) rc = WriteReplPos(txn, positions, new_terms);
    return rc;
  }

  // The positions of the groups in the transaction, in order: the last one
  // is the store's position, and each group that starts a term (its first
  // index) extends the term history. Several received groups can share
  // a transaction, so a term may start at any of them.
  int WriteReplPos(MDB_txn* txn, const std::vector<ReplPos>& positions, std::string* new_terms) {
    std::string value;
    AppendReplPos(value, positions.back());
    MDB_val key = ToVal(kMetaReplPos);
    MDB_val val = ToVal(value);
    int rc = mdb_put(txn, meta_dbi, &key, &val, 0);
    if (rc != 0) return rc;
    uint64_t term = repl_pos.term;
    for (const ReplPos& pos : positions) {
      if (pos.term == term) continue;
      if (new_terms->empty()) *new_terms = repl_terms;
      AppendReplPos(*new_terms, pos);
      term = pos.term;
    }
    if (new_terms->empty()) return 0;
    key = ToVal(kMetaReplTerms);
    val = ToVal(*new_terms);
    return mdb_put(txn, meta_dbi, &key, &val, 0);
  }

  // Deletes the state keys in [lo, hi) in key order.
  int DeleteStateRange(MDB_txn* txn, std::string_view lo, std::string_view hi) {
    if (lo >= hi) return 0;
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, state_dbi, &cursor);
    if (rc != 0) return rc;
    MDB_val key = ToVal(lo);
    MDB_val val;
    rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && FromVal(key) < hi) {
      rc = mdb_cursor_del(cursor, 0);
      // The cursor now stands on the next key (or past the end).
      if (rc == 0) rc = mdb_cursor_get(cursor, &key, &val, MDB_GET_CURRENT);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  // Writes and commits one group, growing the map when it fills.
  // `positions`: those of the replicated groups in the transaction (none
  // for a store that does not replicate).
  absl::Status Commit(const std::vector<Pending*>& group, const std::vector<ReplPos>& positions) {
    const auto started = std::chrono::steady_clock::now();
    uint64_t group_bytes = 0;
    for (const Pending* p : group) group_bytes += p->batch->byte_size();
    // Grow before the transaction when the group would not comfortably fit:
    // cheaper than failing half-way and writing it all again.
    uint64_t want = UsedBytes() + 2 * group_bytes + (uint64_t{4} << 20);
    if (want > map_bytes - map_bytes / 8) {
      auto grown = Grow(want + want / 4);
      if (!grown.ok()) return grown.status();
    }
    for (;;) {
      MDB_txn* txn = nullptr;
      int rc = mdb_txn_begin(env, nullptr, 0, &txn);
      if (rc != 0) return LmdbError(rc, "begin");
      uint64_t appended = 0;
      SeqNo max_seq = 0;
      bool deleted_any = false;
      std::string new_terms;
      rc = WriteGroup(txn, group, positions, &new_terms, &appended, &max_seq, &deleted_any);
      if (rc == 0) {
        rc = mdb_txn_commit(txn);  // frees txn whatever it returns
      } else {
        mdb_txn_abort(txn);
      }
      if (rc == 0) {
        last_seq_written = std::max(last_seq_written, max_seq);
        if (!positions.empty()) {
          if (!new_terms.empty()) repl_terms = std::move(new_terms);
          repl_pos = positions.back();
        }
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::lock_guard s(stats_mu);
        ++stats.commits;
        stats.batches_committed += group.size();
        stats.records_appended += appended;
        stats.last_group_batches = group.size();
        stats.max_group_batches = std::max<uint64_t>(stats.max_group_batches, group.size());
        stats.last_group_records = appended;
        stats.max_group_records = std::max<uint64_t>(stats.max_group_records, appended);
        stats.commit_seconds.Observe(took);
        stats.records_per_commit.Observe(static_cast<double>(appended));
        if (took >= slow_commit_seconds) {
          LogWarn(absl::StrCat("slow commit: ", appended, " records in ", group.size(),
                               " batches took ", absl::SixDigits(took), " s (threshold ",
                               absl::SixDigits(slow_commit_seconds), " s) in ", path));
        }
        return absl::OkStatus();
      }
      if (rc == MDB_MAP_FULL) {
        auto grown = Grow(map_bytes * 2);
        if (!grown.ok()) return grown.status();
        if (*grown) continue;
        return absl::ResourceExhaustedError(absl::StrCat(
            "store full: the map in ", path, " reached its maximum of ", max_map_bytes,
            " bytes (StoreOptions.max_map_bytes); writes are refused until space is made"));
      }
      // LMDB reports a short write as EIO: on a full file system that is
      // the disk being full, not the disk failing.
      if (rc == ENOSPC || rc == EDQUOT || (rc == EIO && FreeDiskBytes() < group_bytes + (1 << 20))) {
        return absl::ResourceExhaustedError(
            absl::StrCat("disk full writing the store in ", path, " (", mdb_strerror(rc),
                         "); writes are refused until space is freed"));
      }
      if (rc == MDB_BAD_VALSIZE || rc == MDB_KEYEXIST || rc == MDB_NOTFOUND) {
        // A caller bug (record too large, sequence not increasing, a copy
        // from a key not there): refuse this group, the store itself is fine.
        return absl::InvalidArgumentError(
            absl::StrCat("store refused a batch: ", mdb_strerror(rc)));
      }
      return LmdbError(rc, "commit");
    }
  }

  void WriterLoop(size_t max_records) {
    std::vector<Pending> taken;
    std::vector<ReplPos> positions;  // of the replicated groups in this round
    for (;;) {
      taken.clear();
      {
        std::unique_lock lock(queue_mu);
        queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        size_t records = 0;
        // A received group is never split across transactions.
        while (!queue.empty() &&
               (taken.empty() || records < max_records || taken.back().continues)) {
          records += queue.front().batch->log_records().size();
          taken.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      std::vector<absl::Status> results(taken.size());
      std::vector<Pending*> to_commit;
      for (size_t i = 0; i < taken.size(); ++i) {
        if (!fatal_status.ok()) {
          results[i] = fatal_status;
        } else if (poisoned_epoch && taken[i].epoch <= *poisoned_epoch) {
          results[i] = absl::AbortedError(
              absl::StrCat("not written: an earlier write failed (", poison_status.message(), ")"));
        } else {
          to_commit.push_back(&taken[i]);
        }
      }
      bool committed = false;
      positions.clear();  // stays empty, unallocated, without replication
      if (!to_commit.empty()) {
        if (hook != nullptr) {
          positions.push_back(hook->NextPosition());
        } else {
          for (const Pending* p : to_commit) {
            if (p->group_end) positions.push_back(p->pos);
          }
        }
        absl::Status st = Commit(to_commit, positions);
        committed = st.ok();
        if (absl::IsResourceExhausted(st) && !full) {
          full = true;
          LogError(absl::StrCat("writes refused: ", st.message()));
        } else if (st.ok() && full) {
          full = false;
          LogInfo(absl::StrCat("store in ", path, " writable again: a commit landed"));
        }
        if (!st.ok()) {
          uint64_t max_epoch = 0;
          for (const Pending* p : to_commit) max_epoch = std::max(max_epoch, p->epoch);
          poisoned_epoch = max_epoch;
          poison_status = st;
          if (!absl::IsResourceExhausted(st) && !absl::IsInvalidArgument(st)) {
            fatal_status = st;
            LogError(absl::StrCat("store in ", path,
                                  " failed; every write refused until restart: ", st.message()));
            std::lock_guard s(stats_mu);
            stats.fatal_error = std::string(st.message());
          }
        }
        for (Pending* p : to_commit) results[p - taken.data()] = st;
      }
      uint64_t failed = 0;
      for (const auto& r : results) failed += r.ok() ? 0 : 1;
      if (failed != 0) {
        std::lock_guard s(stats_mu);
        stats.failed_batches += failed;
      }
      if (hook != nullptr) {
        CommitCompletions dones;
        dones.reserve(taken.size());
        for (size_t i = 0; i < taken.size(); ++i) {
          dones.emplace_back(std::move(taken[i].done), std::move(results[i]));
        }
        if (committed) {
          std::vector<std::shared_ptr<const WriteBatch>> group;
          group.reserve(to_commit.size());
          for (Pending* p : to_commit) group.push_back(std::move(p->batch));
          hook->Committed(positions.back(), std::move(group), std::move(dones));
        } else {
          hook->Refused(std::move(dones));
        }
        continue;
      }
      // One post per group: completions run in submission order.
      auto dones = std::make_shared<std::vector<std::pair<Done, absl::Status>>>();
      dones->reserve(taken.size());
      for (size_t i = 0; i < taken.size(); ++i) {
        dones->emplace_back(std::move(taken[i].done), std::move(results[i]));
      }
      post([dones] {
        for (auto& [done, status] : *dones) {
          if (done) done(status);
        }
      });
    }
  }
};

Store::Store(const StoreOptions& options, Poster post)
    : options_(options), impl_(std::make_unique<Impl>()) {
  impl_->post = std::move(post);
  impl_->path = options.path;
  impl_->hook = options.hook;
  impl_->slow_commit_seconds = options.slow_commit_seconds;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, Poster post) {
  if (options.path.empty()) return absl::InvalidArgumentError("store path is empty");
  if (options.initial_map_bytes > options.max_map_bytes) {
    return absl::InvalidArgumentError("initial_map_bytes is larger than max_map_bytes");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create store directory ", options.path, ": ", ec.message()));
  }
  std::unique_ptr<Store> store(new Store(options, std::move(post)));
  Impl& im = *store->impl_;

  // LMDB lets several processes share an environment; two rappel servers on
  // one store would each believe they own the log. Refuse the second.
  std::string lock_path = options.path + "/rappel.lock";
  im.lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (im.lock_fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", lock_path, ": ", strerror(errno)));
  }
  if (flock(im.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("store in ", options.path, " is in use by another process"));
  }

  int rc = mdb_env_create(&im.env);
  if (rc != 0) return LmdbError(rc, "env_create");
  mdb_env_set_maxdbs(im.env, 4);
  mdb_env_set_mapsize(im.env, options.initial_map_bytes);
  unsigned flags = MDB_NOTLS | (options.sync ? 0 : MDB_NOSYNC);
  rc = mdb_env_open(im.env, options.path.c_str(), flags, 0644);
  if (rc != 0) return LmdbError(rc, absl::StrCat("opening ", options.path));
  MDB_envinfo info;
  mdb_env_info(im.env, &info);
  im.map_bytes = info.me_mapsize;  // an existing store may already be larger
  im.max_map_bytes = std::max<uint64_t>(options.max_map_bytes, im.map_bytes);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(im.env, nullptr, 0, &txn);
  if (rc != 0) return LmdbError(rc, "begin");
  auto fail = [&](absl::Status st) {
    mdb_txn_abort(txn);
    return st;
  };
  if ((rc = mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY, &im.log_dbi)) != 0 ||
      (rc = mdb_dbi_open(txn, "state", MDB_CREATE, &im.state_dbi)) != 0 ||
      (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &im.meta_dbi)) != 0) {
    return fail(LmdbError(rc, "opening databases"));
  }

  MDB_val key = ToVal(kMetaSchemaVersion);
  MDB_val val;
  rc = mdb_get(txn, im.meta_dbi, &key, &val);
  if (rc == MDB_NOTFOUND) {
    MDB_stat st;
    mdb_stat(txn, im.log_dbi, &st);
    if (st.ms_entries != 0) {
      return fail(absl::DataLossError(
          absl::StrCat("store in ", options.path, " has log records but no schema version")));
    }
    std::string v = EncodeU64(kStoreSchemaVersion);
    MDB_val vv = ToVal(v);
    rc = mdb_put(txn, im.meta_dbi, &key, &vv, 0);
    if (rc != 0) return fail(LmdbError(rc, "writing schema version"));
  } else if (rc != 0) {
    return fail(LmdbError(rc, "reading schema version"));
  } else {
    auto version = DecodeU64(FromVal(val));
    if (!version || *version != kStoreSchemaVersion) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "store in ", options.path, " has schema version ",
          version ? absl::StrCat(*version) : "(unreadable)", "; this build of rappel reads version ",
          kStoreSchemaVersion, ": restore a backup made by a matching version")));
    }
  }

  // Next sequence number: after the last log key, and after anything
  // compaction deleted.
  SeqNo next = 1;
  MDB_cursor* cursor = nullptr;
  mdb_cursor_open(txn, im.log_dbi, &cursor);
  MDB_val k, v;
  if (mdb_cursor_get(cursor, &k, &v, MDB_LAST) == 0) {
    SeqNo last;
    std::memcpy(&last, k.mv_data, sizeof last);
    next = last + 1;
  }
  mdb_cursor_close(cursor);
  key = ToVal(kMetaNextSeq);
  if (mdb_get(txn, im.meta_dbi, &key, &val) == 0) {
    if (auto meta_next = DecodeU64(FromVal(val))) next = std::max(next, *meta_next);
  }
  store->next_seq_at_open_ = next;
  key = ToVal(kMetaReplPos);
  if (mdb_get(txn, im.meta_dbi, &key, &val) == 0) {
    auto pos = DecodeReplPos(FromVal(val));
    if (!pos)
      return fail(absl::DataLossError(
          absl::StrCat("store in ", options.path, " has an unreadable repl_pos")));
    im.repl_pos = *pos;
  }
  key = ToVal(kMetaReplTerms);
  if (mdb_get(txn, im.meta_dbi, &key, &val) == 0) im.repl_terms = std::string(FromVal(val));
  im.last_seq_written = next - 1;
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "commit at open");

  im.stats.map_bytes = im.map_bytes;
  if (im.hook != nullptr) im.hook->Opened(im.repl_pos, im.post);
  size_t max_records = options.max_records_per_commit;
  im.writer = std::thread([&im, max_records] { im.WriterLoop(max_records); });
  return store;
}

Store::~Store() {
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_one();
  if (impl_->writer.joinable()) impl_->writer.join();
}

void Store::Submit(uint64_t epoch, std::shared_ptr<const WriteBatch> batch, Done done) {
  {
    std::lock_guard lock(impl_->queue_mu);
    RAPPEL_CHECK(!impl_->stopping);
    impl_->queue.push_back({epoch, std::move(batch), std::move(done), false, false, {}});
  }
  impl_->queue_cv.notify_one();
}

void Store::SubmitGroup(uint64_t epoch, std::vector<std::shared_ptr<const WriteBatch>> group,
                        ReplPos pos, Done done) {
  // The primary's hook numbers its own commits; a store has one role.
  RAPPEL_CHECK(impl_->hook == nullptr);
  if (group.empty()) group.push_back(std::make_shared<const WriteBatch>());
  {
    std::lock_guard lock(impl_->queue_mu);
    RAPPEL_CHECK(!impl_->stopping);
    for (size_t i = 0; i + 1 < group.size(); ++i) {
      impl_->queue.push_back({epoch, std::move(group[i]), nullptr, true, false, {}});
    }
    impl_->queue.push_back({epoch, std::move(group.back()), std::move(done), false, true, pos});
  }
  impl_->queue_cv.notify_one();
}

Store::Reader::Reader(Store* store) : store_(store), txn_(nullptr) {}

Store::Reader::Reader(Reader&& other) noexcept
    : store_(other.store_), txn_(other.txn_), log_cursor_(other.log_cursor_) {
  other.store_ = nullptr;
  other.txn_ = nullptr;
  other.log_cursor_ = nullptr;
}

Store::Reader::~Reader() {
  if (store_ == nullptr) return;
  Impl& im = *store_->impl_;
  auto* txn = static_cast<MDB_txn*>(txn_);
  if (auto* cursor = static_cast<MDB_cursor*>(log_cursor_); cursor != nullptr) {
    // A read-only cursor outlives its transaction and is renewed with the next.
    if (im.idle_log_cursor == nullptr) {
      im.idle_log_cursor = cursor;
    } else {
      mdb_cursor_close(cursor);
    }
  }
  if (im.idle_read_txn == nullptr) {
    mdb_txn_reset(txn);
    im.idle_read_txn = txn;
  } else {
    mdb_txn_abort(txn);
  }
  im.map_mu.unlock_shared();
}

absl::StatusOr<Store::Reader> Store::NewReader() {
  Impl& im = *impl_;
  im.map_mu.lock_shared();
  MDB_txn* txn = nullptr;
  int rc;
  if (im.idle_read_txn != nullptr) {
    txn = im.idle_read_txn;
    im.idle_read_txn = nullptr;
    rc = mdb_txn_renew(txn);
    if (rc != 0) mdb_txn_abort(txn);
  } else {
    rc = mdb_txn_begin(im.env, nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) {
    im.map_mu.unlock_shared();
    return LmdbError(rc, "begin read");
  }
  Reader reader(this);
  reader.txn_ = txn;
  return reader;
}

absl::StatusOr<std::string_view> Store::Reader::GetLog(SeqNo seq) const {
  // Through one cursor kept for the reader's life: when the record is on
  // the leaf page of the previous one (due reminders are read in roughly
  // log order), LMDB searches only that page instead of descending the tree.
  Impl& im = *store_->impl_;
  auto* txn = static_cast<MDB_txn*>(txn_);
  if (log_cursor_ == nullptr) {
    MDB_cursor* cursor = nullptr;
    int rc;
    if (im.idle_log_cursor != nullptr) {
      cursor = im.idle_log_cursor;
      im.idle_log_cursor = nullptr;
      rc = mdb_cursor_renew(txn, cursor);
      if (rc != 0) mdb_cursor_close(cursor);
    } else {
      rc = mdb_cursor_open(txn, im.log_dbi, &cursor);
    }
    if (rc != 0) return LmdbError(rc, "cursor");
    log_cursor_ = cursor;
  }
  MDB_val key{sizeof seq, &seq};
  MDB_val val;
  int rc = mdb_cursor_get(static_cast<MDB_cursor*>(log_cursor_), &key, &val, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) return absl::NotFoundError(absl::StrCat("no log record ", seq));
  if (rc != 0) return LmdbError(rc, "get");
  return FromVal(val);
}

absl::Status Store::Reader::ScanLog(SeqNo from,
                                    absl::FunctionRef<bool(SeqNo, std::string_view)> fn) const {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(static_cast<MDB_txn*>(txn_), store_->impl_->log_dbi, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val key{sizeof from, &from};
  MDB_val val;
  rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
  while (rc == 0) {
    SeqNo seq;
    std::memcpy(&seq, key.mv_data, sizeof seq);
    if (!fn(seq, FromVal(val))) break;
    rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "scan");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Store::Reader::GetState(std::string_view k) const {
  MDB_val key = ToVal(k);
  MDB_val val;
  int rc = mdb_get(static_cast<MDB_txn*>(txn_), store_->impl_->state_dbi, &key, &val);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return LmdbError(rc, "get state");
  return std::optional<std::string>(std::string(FromVal(val)));
}

absl::Status Store::Reader::ScanState(
    std::string_view from, absl::FunctionRef<bool(std::string_view, std::string_view)> fn) const {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(static_cast<MDB_txn*>(txn_), store_->impl_->state_dbi, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val key = ToVal(from);
  MDB_val val;
  rc = from.empty() ? mdb_cursor_get(cursor, &key, &val, MDB_FIRST)
                    : mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
  while (rc == 0) {
    if (!fn(FromVal(key), FromVal(val))) break;
    rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "scan state");
  return absl::OkStatus();
}

absl::StatusOr<ReplPos> Store::Reader::GetReplPos() const {
  MDB_val key = ToVal(kMetaReplPos);
  MDB_val val;
  int rc = mdb_get(static_cast<MDB_txn*>(txn_), store_->impl_->meta_dbi, &key, &val);
  if (rc == MDB_NOTFOUND) return ReplPos{};
  if (rc != 0) return LmdbError(rc, "get repl_pos");
  auto pos = DecodeReplPos(FromVal(val));
  if (!pos) return absl::DataLossError("unreadable repl_pos in the store's meta");
  return *pos;
}

absl::StatusOr<std::vector<ReplPos>> Store::Reader::GetReplTerms() const {
  MDB_val key = ToVal(kMetaReplTerms);
  MDB_val val;
  int rc = mdb_get(static_cast<MDB_txn*>(txn_), store_->impl_->meta_dbi, &key, &val);
  std::vector<ReplPos> out;
  if (rc == MDB_NOTFOUND) return out;
  if (rc != 0) return LmdbError(rc, "get repl_terms");
  std::string_view terms = FromVal(val);
  if (terms.size() % 16 != 0)
    return absl::DataLossError("unreadable repl_terms in the store's meta");
  for (size_t i = 0; i < terms.size(); i += 16) out.push_back(*DecodeReplPos(terms.substr(i, 16)));
  return out;
}

void Store::PrepareFullScan() {
#ifdef MADV_POPULATE_READ
  // A cold mapping takes one page fault per 4 KiB page touched; a full scan
  // of a large store spends more time in those faults than in reading.
  // Populating the page tables in one call is several times cheaper. Only a
  // hint: on kernels without it (before 5.14) the scan just faults.
  std::shared_lock lock(impl_->map_mu);
  MDB_envinfo info;
  mdb_env_info(impl_->env, &info);
  uint64_t used = impl_->UsedBytes();
  madvise(info.me_mapaddr, std::min<uint64_t>(used, info.me_mapsize), MADV_POPULATE_READ);
#endif
}

absl::Status Store::Backup(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("backup target ", dir, " is not a directory"));
  }
  if (std::filesystem::exists(dir + "/data.mdb", ec)) {
    return absl::AlreadyExistsError(absl::StrCat("backup target ", dir, " already holds a store"));
  }
  LogInfo(absl::StrCat("backup to ", dir, " started"));
  const auto started = std::chrono::steady_clock::now();
  std::shared_lock lock(impl_->map_mu);
  int rc = mdb_env_copy2(impl_->env, dir.c_str(), MDB_CP_COMPACT);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (rc != 0) {
    absl::Status st = rc == ENOSPC ? absl::ResourceExhaustedError("disk full writing the backup")
                                   : LmdbError(rc, absl::StrCat("backup to ", dir));
    LogError(absl::StrCat("backup to ", dir, " failed after ", absl::SixDigits(took),
                          " s: ", st.message()));
    return st;
  }
  uintmax_t bytes = std::filesystem::file_size(dir + "/data.mdb", ec);
  LogInfo(absl::StrCat("backup to ", dir, " done: ", ec ? 0 : bytes, " bytes in ",
                       absl::SixDigits(took), " s"));
  return absl::OkStatus();
}

absl::StatusOr<ReplMeta> Store::ReadReplMeta() const {
  std::shared_lock lock(impl_->map_mu);  // no resize while we open a transaction
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError(rc, "begin read");
  ReplMeta out;
  MDB_val key = ToVal(kMetaReplPos);
  MDB_val val;
  rc = mdb_get(txn, impl_->meta_dbi, &key, &val);
  if (rc == 0) {
    auto pos = DecodeReplPos(FromVal(val));
    if (pos) {
      out.pos = *pos;
    } else {
      rc = MDB_CORRUPTED;
    }
  }
  if (rc == 0 || rc == MDB_NOTFOUND) {
    key = ToVal(kMetaReplTerms);
    rc = mdb_get(txn, impl_->meta_dbi, &key, &val);
    if (rc == 0) {
      auto terms = store_meta::DecodeReplTerms(FromVal(val));
      if (terms) {
        out.terms = std::move(*terms);
      } else {
        rc = MDB_CORRUPTED;
      }
    }
  }
  mdb_txn_abort(txn);
  if (rc == MDB_CORRUPTED) return absl::DataLossError("unreadable repl_pos or repl_terms in meta");
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "reading the replication meta");
  return out;
}

StoreStats Store::stats() const {
  std::shared_lock lock(impl_->map_mu);  // no resize while we open a transaction
  StoreStats out;
  {
    std::lock_guard s(impl_->stats_mu);
    out = impl_->stats;
  }
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(impl_->env, &info);
  mdb_env_stat(impl_->env, &st);
  out.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn) == 0) {
    MDB_stat log;
    if (mdb_stat(txn, impl_->log_dbi, &log) == 0) out.log_entries = log.ms_entries;
    mdb_txn_abort(txn);
  }
  return out;
}

}  // namespace rappel::server
