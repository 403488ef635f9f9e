// Engine: what it reports (EngineStats, the largest tenants, the due counts).
#include "server/engine/engine.h"

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

}  // namespace rappel::server
