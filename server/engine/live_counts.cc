#include "server/engine/live_counts.h"

#include <algorithm>

namespace rappel::server {

void LiveCounts::Add(uint32_t tenant, uint8_t channel, uint32_t bytes, int64_t due_ms) {
  ++live_by_tenant_[tenant];
  if (channel <= kChannelCount) ++live_by_channel_[channel];
  live_bytes_ += bytes;
  ++due_by_minute_[due_ms / 60'000];
}

void LiveCounts::Remove(uint32_t tenant, uint8_t channel, uint32_t bytes, int64_t due_ms) {
  if (channel == 0) return;
  if (auto it = live_by_tenant_.find(tenant); it != live_by_tenant_.end()) {
    if (--it->second == 0) live_by_tenant_.erase(it);
  }
  if (channel <= kChannelCount && live_by_channel_[channel] > 0) --live_by_channel_[channel];
  live_bytes_ -= std::min<uint64_t>(live_bytes_, bytes);
  if (auto it = due_by_minute_.find(due_ms / 60'000); it != due_by_minute_.end()) {
    if (--it->second == 0) due_by_minute_.erase(it);
  }
}

std::vector<std::pair<TenantId, uint64_t>> LiveCounts::TopTenants(size_t n) const {
  std::vector<std::pair<TenantId, uint64_t>> all;
  all.reserve(live_by_tenant_.size());
  for (const auto& [t, count] : live_by_tenant_) all.emplace_back(TenantId{t}, count);
  auto larger = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first.value < b.first.value;
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(), larger);
  all.resize(n);
  return all;
}

uint64_t LiveCounts::DueBetween(int64_t from_ms, int64_t to_ms) const {
  uint64_t total = 0;
  if (to_ms <= from_ms) return 0;
  // Minutes m with m * 60 000 in (from_ms - 60 000, to_ms): whichever is
  // shorter, the minutes of the range or the map.
  int64_t first = from_ms / 60'000 - (from_ms % 60'000 < 0 ? 1 : 0);
  int64_t end = to_ms / 60'000 + (to_ms % 60'000 > 0 ? 1 : 0);
  if (static_cast<uint64_t>(end - first) <= due_by_minute_.size()) {
    for (int64_t m = first; m < end; ++m) {
      if (auto it = due_by_minute_.find(m); it != due_by_minute_.end()) total += it->second;
    }
  } else {
    for (const auto& [m, n] : due_by_minute_) {
      if (m >= first && m < end) total += n;
    }
  }
  return total;
}

size_t LiveCounts::MemoryBytes() const {
  return live_by_tenant_.capacity() * (sizeof(std::pair<uint32_t, uint64_t>) + 1) +
         due_by_minute_.capacity() * (sizeof(std::pair<int64_t, uint64_t>) + 1);
}

}  // namespace rappel::server
