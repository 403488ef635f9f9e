// LiveCounts: the engine's counters for operators, kept as versions are
// applied, never by a scan: live reminders by tenant and by channel, the
// bytes of the live versions and of the whole log, and live reminders by
// due minute.
//
// Every write updates them and only the stats read them, so point updates
// are what must be cheap. Live reminders by due minute are a hash map:
// ~20 bytes per distinct minute holding a live reminder, not per reminder
// (reminders cluster on appointment times; the 5-year horizon bounds it at
// 2.6 M minutes in the worst case); the stats read an hour or a day of it.
//
// Thread: the engine's owner thread only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/engine/reminder.h"

namespace rappel::server {

class LiveCounts {
 public:
  // A live version: its tenant, channel (1..kChannelCount), record size and
  // due time.
  void Add(uint32_t tenant, uint8_t channel, uint32_t bytes, int64_t due_ms);
  // A version that was added leaves (replaced, cancelled, completed,
  // expired). Channel 0: there was none, nothing to do.
  void Remove(uint32_t tenant, uint8_t channel, uint32_t bytes, int64_t due_ms);
  // Records of `bytes` appended to the log, or reclaimed from it.
  void LogAppended(uint64_t bytes) { log_bytes_ += bytes; }
  void LogReclaimed(uint64_t bytes) { log_bytes_ -= std::min(log_bytes_, bytes); }

  uint64_t live_by_channel(int channel) const { return live_by_channel_[channel]; }
  uint64_t live_bytes() const { return live_bytes_; }
  uint64_t log_bytes() const { return log_bytes_; }
  // Tenants with at least one live reminder.
  uint64_t tenants() const { return live_by_tenant_.size(); }
  uint64_t live_of(uint32_t tenant) const {
    auto it = live_by_tenant_.find(tenant);
    return it == live_by_tenant_.end() ? 0 : it->second;
  }
  // Tenants by live reminders, largest first, at most n.
  std::vector<std::pair<TenantId, uint64_t>> TopTenants(size_t n) const;
  // Live reminders due in [from_ms, to_ms), by whole minutes (Engine::DueBetween).
  uint64_t DueBetween(int64_t from_ms, int64_t to_ms) const;
  // Heap held by the maps.
  size_t MemoryBytes() const;

 private:
  absl::flat_hash_map<uint32_t, uint64_t> live_by_tenant_;
  uint64_t live_by_channel_[kChannelCount + 1] = {};  // indexed by Channel
  uint64_t live_bytes_ = 0;
  uint64_t log_bytes_ = 0;
  absl::flat_hash_map<int64_t, uint64_t> due_by_minute_;
};

}  // namespace rappel::server
