// StandbyStore: owns a standby's Store so that a snapshot catch-up can
// replace it: it closes the Store, installs the received data file
// (store_files.h: one atomic rename) and opens the store again.
//
// Whoever reads the standby's store asks get() each time (the Store changes
// at a catch-up) and keeps no Reader across a turn of the io loop.
//
// Thread: the io thread (the Store's owner thread).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/store.h"

namespace rappel::server {

class StandbyStore {
 public:
  // Opens the store in options.path (Store::Open, without a hook).
  static absl::StatusOr<std::unique_ptr<StandbyStore>> Open(StoreOptions options,
                                                            Store::Poster post);

  // Null only after a Replace that could not open the store again.
  Store* get() const { return store_.get(); }
  const std::string& path() const { return options_.path; }

  // Replaces the store's contents by `data_file` (complete, synced and
  // checked, on the same file system). Nothing may be queued on the Store
  // nor any Reader alive. When the rename fails the old store is opened
  // again and the error returned; when the reopen fails get() is null.
  absl::Status Replace(const std::string& data_file);

 private:
  StandbyStore(StoreOptions options, Store::Poster post)
      : options_(std::move(options)), post_(std::move(post)) {}

  StoreOptions options_;
  Store::Poster post_;
  std::unique_ptr<Store> store_;
};

}  // namespace rappel::server
