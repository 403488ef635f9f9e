#include "server/net/partial_frame_budget.h"

#include <iterator>
#include <utility>

namespace rappel::server {

bool PartialFrameBudget::Take(uint64_t id, size_t bytes, const Evict& evict) {
  auto [it, added] = holders_.try_emplace(id);
  if (added) it->second.evict = evict;
  while (held_bytes_ + bytes > limit_bytes_) {
    auto newest = std::prev(holders_.end());
    if (newest == it) {
      held_bytes_ -= it->second.bytes;
      holders_.erase(it);
      return false;
    }
    held_bytes_ -= newest->second.bytes;
    Evict victim = std::move(newest->second.evict);
    holders_.erase(newest);
    ++evictions_;
    if (victim) victim();
  }
  it->second.bytes += bytes;
  held_bytes_ += bytes;
  return true;
}

void PartialFrameBudget::Release(uint64_t id) {
  auto it = holders_.find(id);
  if (it == holders_.end()) return;
  held_bytes_ -= it->second.bytes;
  holders_.erase(it);
}

}  // namespace rappel::server
