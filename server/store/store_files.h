// Store files: what is done to a store's files while no Store has them open
// (snapshot catch-up of a standby): checking a received copy, and putting
// it in place of a store's data file.
//
// Thread: any; blocking file I/O.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/store.h"

namespace rappel::server {

struct StoreFileCheck {
  ReplMeta meta;
  uint64_t log_entries = 0;
  uint64_t state_entries = 0;
};

// Opens dir/data.mdb read-only (no lock file, nothing written), checks its
// schema version, walks every log and state entry (the whole B-trees are
// read) and returns its replication meta. FailedPrecondition on another
// schema version, DataLoss or Internal with the reason otherwise.
absl::StatusOr<StoreFileCheck> CheckStoreFiles(const std::string& dir);

// Makes `data_file` (a complete LMDB data file, synced, on the same file
// system) the data file of the store in `store_dir`: renamed over
// store_dir/data.mdb, which is atomic (after a crash the directory holds
// the old file or the new one, never a mix), then the old lock file is
// dropped and the directory synced. No Store may have store_dir open.
absl::Status InstallDataFile(const std::string& data_file, const std::string& store_dir);

// Writes `fd`'s data and the directory entry of `path`'s parent to disk.
absl::Status SyncFileAndDir(int fd, const std::string& path);

}  // namespace rappel::server
