// SnapshotReceiver: the standby's side of a snapshot catch-up, on disk.
// The primary's store file arrives in chunks (SnapshotBegin, SnapshotChunk
// ..., SnapshotEnd); each is written to dir/data.mdb at once (nothing is
// buffered: the next frame is read only after the write), then the whole
// is checked: length, XXH64, fsync, and the file opened as a store whose
// position is the announced one (store_files.h). The store in use is not
// touched: a crash meanwhile leaves it as it was, and the next catch-up
// starts by removing `dir`.
//
// Thread: any one thread at a time (the standby's io thread); blocking
// file I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/store/store_files.h"

struct XXH64_state_s;

namespace rappel::server {

class SnapshotReceiver {
 public:
  // Removes whatever `dir` holds (an earlier catch-up cut short), creates
  // it and the file. Errors: Internal with the file system's reason.
  static absl::StatusOr<std::unique_ptr<SnapshotReceiver>> Begin(const std::string& dir,
                                                                 ReplPos pos, uint64_t bytes);
  ~SnapshotReceiver();  // closes the file; `dir` stays until Discard or the next Begin

  // InvalidArgument past the announced length; Internal on a write error.
  absl::Status Chunk(std::string_view data);
  // DataLoss on a short file or another digest; the check's error when the
  // file is no store at the announced position. Returns the file's path.
  absl::StatusOr<std::string> End(uint64_t xxh64);

  uint64_t received() const { return received_; }
  uint64_t bytes() const { return bytes_; }
  ReplPos pos() const { return pos_; }

  // Removes a catch-up directory (after its file was installed, or at start).
  // True if there was one.
  static bool Discard(const std::string& dir);

 private:
  SnapshotReceiver() = default;

  std::string dir_;
  std::string file_;
  int fd_ = -1;
  ReplPos pos_;
  uint64_t bytes_ = 0;
  uint64_t received_ = 0;
  XXH64_state_s* hash_ = nullptr;
};

}  // namespace rappel::server
