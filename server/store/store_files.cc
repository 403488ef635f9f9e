#include "server/store/store_files.h"

#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "server/store/store_meta.h"

namespace rappel::server {
namespace {

MDB_val ToVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

absl::Status Lmdb(int rc, const std::string& what) {
  return absl::DataLossError(absl::StrCat("lmdb: ", what, ": ", mdb_strerror(rc)));
}

absl::Status SyncPath(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", path, ": ", strerror(err)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StoreFileCheck> CheckStoreFiles(const std::string& dir) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return Lmdb(rc, "env_create");
  struct EnvCloser {
    MDB_env* env;
    ~EnvCloser() { mdb_env_close(env); }
  } closer{env};
  mdb_env_set_maxdbs(env, 4);
  rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644);
  if (rc != 0) return Lmdb(rc, absl::StrCat("opening ", dir));
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return Lmdb(rc, "begin");
  struct TxnAborter {
    MDB_txn* txn;
    ~TxnAborter() { mdb_txn_abort(txn); }
  } aborter{txn};
  MDB_dbi log_dbi, state_dbi, meta_dbi;
  if ((rc = mdb_dbi_open(txn, "log", MDB_INTEGERKEY, &log_dbi)) != 0 ||
      (rc = mdb_dbi_open(txn, "state", 0, &state_dbi)) != 0 ||
      (rc = mdb_dbi_open(txn, "meta", 0, &meta_dbi)) != 0) {
    return Lmdb(rc, "opening databases");
  }
  MDB_val key = ToVal(store_meta::kSchemaVersion);
  MDB_val val;
  rc = mdb_get(txn, meta_dbi, &key, &val);
  if (rc != 0) return Lmdb(rc, "reading the schema version");
  auto version = store_meta::DecodeU64(FromVal(val));
  if (!version || *version != kStoreSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store in ", dir, " has schema version ",
                     version ? absl::StrCat(*version) : "(unreadable)", ", this build reads ",
                     kStoreSchemaVersion));
  }
  StoreFileCheck out;
  key = ToVal(store_meta::kReplPos);
  if ((rc = mdb_get(txn, meta_dbi, &key, &val)) == 0) {
    auto pos = store_meta::DecodeReplPos(FromVal(val));
    if (!pos) return absl::DataLossError("unreadable repl_pos");
    out.meta.pos = *pos;
  } else if (rc != MDB_NOTFOUND) {
    return Lmdb(rc, "reading repl_pos");
  }
  key = ToVal(store_meta::kReplTerms);
  if ((rc = mdb_get(txn, meta_dbi, &key, &val)) == 0) {
    auto terms = store_meta::DecodeReplTerms(FromVal(val));
    if (!terms) return absl::DataLossError("unreadable repl_terms");
    out.meta.terms = std::move(*terms);
  } else if (rc != MDB_NOTFOUND) {
    return Lmdb(rc, "reading repl_terms");
  }
  // Every page of both trees is read: a damaged copy fails here, not later
  // in the engine's recovery.
  for (auto [dbi, count, name] : {std::tuple{log_dbi, &out.log_entries, "log"},
                                  std::tuple{state_dbi, &out.state_entries, "state"}}) {
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != 0) return Lmdb(rc, "cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      ++*count;
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND) return Lmdb(rc, absl::StrCat("walking the ", name));
  }
  return out;
}

absl::Status SyncFileAndDir(int fd, const std::string& path) {
  if (fsync(fd) != 0) {
    return absl::InternalError(absl::StrCat("fsync ", path, ": ", strerror(errno)));
  }
  std::string parent = std::filesystem::path(path).parent_path().string();
  return SyncPath(parent.empty() ? "." : parent, O_RDONLY | O_DIRECTORY);
}

absl::Status InstallDataFile(const std::string& data_file, const std::string& store_dir) {
  const std::string target = store_dir + "/data.mdb";
  if (rename(data_file.c_str(), target.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("rename ", data_file, " to ", target, ": ", strerror(errno)));
  }
  // The reader table of the old file means nothing for the new one.
  std::error_code ec;
  std::filesystem::remove(store_dir + "/lock.mdb", ec);
  return SyncPath(store_dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace rappel::server
