#include "server/replication/standby_store.h"

#include "absl/strings/str_cat.h"
#include "server/store/store_files.h"

namespace rappel::server {

absl::StatusOr<std::unique_ptr<StandbyStore>> StandbyStore::Open(StoreOptions options,
                                                                 Store::Poster post) {
  std::unique_ptr<StandbyStore> s(new StandbyStore(std::move(options), std::move(post)));
  auto store = Store::Open(s->options_, s->post_);
  if (!store.ok()) return store.status();
  s->store_ = std::move(*store);
  return s;
}

absl::Status StandbyStore::Replace(const std::string& data_file) {
  store_.reset();  // commits nothing: the caller queued nothing
  absl::Status installed = InstallDataFile(data_file, options_.path);
  auto store = Store::Open(options_, post_);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("reopening the store in ", options_.path,
                                     installed.ok() ? " after" : " without",
                                     " the catch-up: ", store.status().message()));
  }
  store_ = std::move(*store);
  return installed;
}

}  // namespace rappel::server
