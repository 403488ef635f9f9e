// Backlog: the primary's most recent committed groups, by replication
// index, as the frames shipped to standbys (Redis's repl-backlog). A standby
// that reconnects resumes from the backlog when it still holds the next
// index it needs; older groups are gone (snapshot catch-up is a later step).
//
// Bounded by bytes: appending evicts the oldest entries until the total is
// within the bound again (the newest entry is always kept, however large).
//
// Thread-safe: the store's writer thread appends, the io thread reads.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/replication/shared_bytes.h"

namespace rappel::server {

class Backlog {
 public:
  // `next_index`: the index the first appended entry will have (the store's
  // last position + 1).
  Backlog(size_t max_bytes, uint64_t next_index);

  // Adds the entry for `index`, which must be next_index(). Returns false
  // (and adds nothing) otherwise.
  bool Append(uint64_t index, SharedBytes bytes);

  // Whether a reader wanting `index` next can be served: first_index() <=
  // index <= next_index() (index == next_index(): nothing yet, wait).
  bool Holds(uint64_t index) const;

  // Entries from `index` on, at most `max_entries` and about `max_bytes`
  // (at least one when there is one). Empty when Holds(index) is false or
  // nothing is newer.
  std::vector<SharedBytes> ReadFrom(uint64_t index, size_t max_entries,
                                                           size_t max_bytes) const;

  uint64_t first_index() const;  // the oldest index held (== next_index() when empty)
  uint64_t next_index() const;
  size_t bytes() const;

 private:
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::deque<SharedBytes> entries_;  // entries_[i] has first_ + i
  uint64_t first_;
  size_t bytes_ = 0;
};

}  // namespace rappel::server
