// Engine: what it reports (EngineStats, the largest tenants, the due counts,
// a tenant's keys).
#include "server/engine/engine.h"

#include <set>

namespace rappel::server {

std::vector<std::pair<TenantId, uint64_t>> Engine::TopTenants(size_t n) const {
  return counts_.TopTenants(n);
}

uint64_t Engine::LiveOf(TenantId tenant) const { return counts_.live_of(tenant.value); }

uint64_t Engine::DueBetween(int64_t from_ms, int64_t to_ms) const {
  return counts_.DueBetween(from_ms, to_ms);
}

EngineStats Engine::stats() const {
  EngineStats s = stats_;
  s.live = index_.size();
  s.in_wheel = wheel_.scheduled();
  s.inflight_batches = pending_.size();
  s.memory_bytes = wheel_.MemoryBytes() + index_.MemoryBytes() +
                   overlay_.capacity() * (sizeof(std::pair<KeyHash, Inflight>) + 1) +
                   counts_.MemoryBytes();
  s.store = store_->stats();
  s.log_bytes = counts_.log_bytes();
  s.live_bytes = counts_.live_bytes();
  for (int c = 0; c <= kChannelCount; ++c) s.live_by_channel[c] = counts_.live_by_channel(c);
  s.tenants = counts_.tenants();
  return s;
}

absl::StatusOr<Engine::KeyPage> Engine::ListKeys(TenantId tenant, std::string_view prefix,
                                                 std::string_view after, size_t limit) {
  KeyPage page;
  if (limit == 0 || counts_.live_of(tenant.value) == 0) return page;
  // The limit + 1 smallest keys past the cursor: one more tells whether
  // another page follows.
  std::set<std::string, std::less<>> smallest;
  std::optional<Store::Reader> reader;
  absl::Status failed;
  index_.ForEach([&](uint32_t h) {
    if (!failed.ok() || index_.Ending(h) || index_.meta(h).seq == 0) return;
    auto bytes = GetLog(index_.meta(h).seq, &reader);
    if (!bytes.ok()) {
      failed = bytes.status();
      return;
    }
    // Only the header and key are looked at; nothing of the record is used.
    auto rec = DecodeRecord(*bytes, Verify::kStructure);
    if (!rec.ok()) {
      failed = rec.status();
      return;
    }
    if (rec->tenant != tenant || !rec->key.starts_with(prefix) || rec->key <= after) return;
    if (smallest.size() > limit && rec->key >= *smallest.rbegin()) return;
    smallest.emplace(rec->key);
    if (smallest.size() > limit + 1) smallest.erase(std::prev(smallest.end()));
  });
  if (!failed.ok()) return failed;
  page.more = smallest.size() > limit;
  for (auto it = smallest.begin(); it != smallest.end() && page.keys.size() < limit; ++it) {
    page.keys.push_back(*it);
  }
  return page;
}

}  // namespace rappel::server
