// SnapshotSource: the primary's snapshots for standby catch-up.
//
// A snapshot is a compact hot backup of the store (Store::Backup, made on a
// thread of its own so the io thread goes on serving) in a directory next
// to the store, "<store>.snapshot-<n>", with the position and term history
// it holds (read back from the copy, whose every page is walked once).
// Links that need one at about the same time share it; its directory is
// removed when the last link streaming it lets go of it. Directories left
// by a process that died are removed at construction.
//
// Thread: the io thread (Acquire, History, and the callbacks run there);
// the copy runs on its own thread, joined by the destructor.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/store.h"

namespace rappel::server {

struct Snapshot {
  std::string dir;
  std::string file;  // dir/data.mdb
  ReplMeta meta;     // the copy's position and term history
  uint64_t bytes = 0;
  ~Snapshot();  // removes dir
};

class SnapshotSource {
 public:
  // `store` (the primary's) outlives the source.
  SnapshotSource(asio::io_context& io, Store* store);
  ~SnapshotSource();

  using Ready = std::function<void(absl::StatusOr<std::shared_ptr<const Snapshot>>)>;
  // Calls `ready` (posted, on the io thread) with a snapshot: the latest
  // one when `usable` says it will do (its index + 1 still in the backlog),
  // else the one being made or a new one. Errors: the backup's.
  void Acquire(std::function<bool(const Snapshot&)> usable, Ready ready);

  // The store's committed position and term history (Store::ReadReplMeta).
  absl::StatusOr<ReplMeta> History() const { return store_->ReadReplMeta(); }

  uint64_t made() const { return made_; }  // backups made so far

 private:
  void Make();

  asio::io_context& io_;
  Store* store_;
  std::string base_;  // the store's directory, without a trailing slash
  std::weak_ptr<const Snapshot> latest_;
  std::vector<Ready> waiters_;
  bool making_ = false;
  uint64_t made_ = 0;
  std::thread thread_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rappel::server
