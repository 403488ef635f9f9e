#include "server/replication/snapshot_receiver.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace rappel::server {
namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<SnapshotReceiver>> SnapshotReceiver::Begin(const std::string& dir,
                                                                          ReplPos pos,
                                                                          uint64_t bytes) {
  std::unique_ptr<SnapshotReceiver> r(new SnapshotReceiver());
  r->dir_ = dir;
  r->file_ = dir + "/data.mdb";
  r->pos_ = pos;
  r->bytes_ = bytes;
  Discard(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  r->fd_ = open(r->file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (r->fd_ < 0) {
    return absl::InternalError(absl::StrCat("cannot create ", r->file_, ": ", strerror(errno)));
  }
  r->hash_ = XXH64_createState();
  XXH64_reset(r->hash_, 0);
  return r;
}

SnapshotReceiver::~SnapshotReceiver() {
  if (fd_ >= 0) close(fd_);
  if (hash_ != nullptr) XXH64_freeState(hash_);
}

absl::Status SnapshotReceiver::Chunk(std::string_view data) {
  if (data.size() > bytes_ - received_) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot chunk past the announced ", bytes_,
                                                   " bytes (", received_, " received)"));
  }
  XXH64_update(hash_, data.data(), data.size());
  while (!data.empty()) {
    ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::Status(
          errno == ENOSPC ? absl::StatusCode::kResourceExhausted : absl::StatusCode::kInternal,
          absl::StrCat("writing ", file_, ": ", strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
    received_ += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SnapshotReceiver::End(uint64_t xxh64) {
  if (received_ != bytes_) {
    return absl::DataLossError(
        absl::StrCat("snapshot ended after ", received_, " of ", bytes_, " bytes"));
  }
  if (uint64_t got = XXH64_digest(hash_); got != xxh64) {
    return absl::DataLossError(
        absl::StrCat("snapshot digest ", got, " is not the primary's ", xxh64));
  }
  if (absl::Status st = SyncFileAndDir(fd_, file_); !st.ok()) return st;
  close(fd_);
  fd_ = -1;
  auto check = CheckStoreFiles(dir_);
  if (!check.ok()) {
    return absl::Status(
        check.status().code(),
        absl::StrCat("the received snapshot is no usable store: ", check.status().message()));
  }
  if (check->meta.pos != pos_) {
    return absl::DataLossError(absl::StrCat(
        "the received snapshot holds term ", check->meta.pos.term, " index ", check->meta.pos.index,
        ", the primary announced term ", pos_.term, " index ", pos_.index));
  }
  return file_;
}

bool SnapshotReceiver::Discard(const std::string& dir) {
  std::error_code ec;
  return fs::remove_all(dir, ec) > 0;
}

}  // namespace rappel::server
