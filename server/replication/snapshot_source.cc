#include "server/replication/snapshot_source.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/store/store_files.h"

namespace rappel::server {
namespace fs = std::filesystem;

Snapshot::~Snapshot() {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

SnapshotSource::SnapshotSource(asio::io_context& io, Store* store) : io_(io), store_(store) {
  fs::path path = fs::path(store->options().path).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  base_ = path.string();
  // A process that died while a standby caught up left its copies behind.
  std::error_code ec;
  fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const std::string prefix = path.filename().string() + ".snapshot-";
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), prefix)) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
      LogInfo(absl::StrCat("replication: removed the leftover snapshot ", entry.path().string()));
    }
  }
}

SnapshotSource::~SnapshotSource() {
  *alive_ = false;
  if (thread_.joinable()) thread_.join();
}

void SnapshotSource::Acquire(std::function<bool(const Snapshot&)> usable, Ready ready) {
  if (auto latest = latest_.lock(); latest && !making_ && usable(*latest)) {
    asio::post(io_, [ready = std::move(ready), latest] { ready(latest); });
    return;
  }
  waiters_.push_back(std::move(ready));
  if (!making_) Make();
}

void SnapshotSource::Make() {
  making_ = true;
  if (thread_.joinable()) thread_.join();  // the previous copy, long finished
  ++made_;
  std::string dir = absl::StrCat(base_, ".snapshot-", made_);
  Store* store = store_;
  asio::io_context* io = &io_;
  std::weak_ptr<bool> alive = alive_;
  thread_ = std::thread([this, store, io, alive, dir] {
    const auto started = std::chrono::steady_clock::now();
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->dir = dir;
    snapshot->file = dir + "/data.mdb";
    absl::Status st;
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir, ec);
    if (ec) st = absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
    if (st.ok()) st = store->Backup(dir);
    if (st.ok()) {
      auto check = CheckStoreFiles(dir);
      if (check.ok()) {
        snapshot->meta = std::move(check->meta);
      } else {
        st = check.status();
      }
    }
    if (st.ok()) {
      snapshot->bytes = fs::file_size(snapshot->file, ec);
      if (ec)
        st = absl::InternalError(absl::StrCat("size of ", snapshot->file, ": ", ec.message()));
    }
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    asio::post(*io, [this, alive, st, snapshot, took]() mutable {
      if (alive.expired()) return;
      making_ = false;
      absl::StatusOr<std::shared_ptr<const Snapshot>> result =
          st.ok() ? absl::StatusOr<std::shared_ptr<const Snapshot>>(nullptr)
                  : absl::StatusOr<std::shared_ptr<const Snapshot>>(st);
      if (st.ok()) {
        LogInfo(absl::StrCat("replication: snapshot ", snapshot->dir, " at term ",
                             snapshot->meta.pos.term, " index ", snapshot->meta.pos.index, ": ",
                             snapshot->bytes, " bytes in ", absl::SixDigits(took), " s"));
        latest_ = snapshot;
        result = std::shared_ptr<const Snapshot>(std::move(snapshot));
      } else {
        LogError(
            absl::StrCat("replication: a snapshot for standby catch-up failed: ", st.message()));
        snapshot.reset();  // removes what was copied
      }
      auto waiters = std::move(waiters_);
      waiters_.clear();
      for (auto& w : waiters) w(result);
    });
  });
}

}  // namespace rappel::server
