// TenantFifo: the due messages of one channel with no rate limit, waiting
// for a worker: first in, first out within a tenant, round robin across
// the tenants that have messages waiting.
//
//   Push(tenant, item, front)   the back (or the front: a message back from
//                               a lease) of the tenant's queue
//   Pop()                       the front of the next tenant in turn: each
//                               tenant with messages gets one per turn, so
//                               one tenant's burst does not delay another's
//                               messages by the whole burst
//   PopOf(tenant)               the front of that tenant's queue (a worker
//                               scoped to some tenants takes its own
//                               directly, never looking at the others')
//
// Cost: Pop is O(1) (a list node and a deque front; no hash lookup), Push
// and PopOf one hash lookup. TenantsAmong is O(min(allowed, waiting
// tenants)). A tenant's queue is freed when it empties, so memory follows
// what waits (a deque and a list node per tenant with messages).
//
// Thread: the owner's (the dispatcher's io thread). Item must be movable.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/engine/reminder.h"

namespace rappel::server {

template <class Item>
class TenantFifo {
 public:
  TenantFifo() = default;
  TenantFifo(const TenantFifo&) = delete;
  TenantFifo& operator=(const TenantFifo&) = delete;

  void Push(TenantId tenant, Item item, bool front = false) {
    auto [it, inserted] = by_tenant_.try_emplace(tenant.value);
    if (inserted) {
      // A new tenant takes its turn after the others waiting: just before
      // the one served next.
      it->second = ring_.insert(ring_.empty() ? ring_.end() : next_, Queue{tenant.value, {}});
      if (ring_.size() == 1) next_ = ring_.begin();
    }
    auto& items = it->second->items;
    if (front) {
      items.push_front(std::move(item));
    } else {
      items.push_back(std::move(item));
    }
    ++size_;
  }

  // The front of the next tenant in turn; nullopt when nothing waits.
  std::optional<Item> Pop() {
    if (ring_.empty()) return std::nullopt;
    auto q = next_;
    Item item = std::move(q->items.front());
    q->items.pop_front();
    --size_;
    Advance();
    if (q->items.empty()) Erase(q);
    return item;
  }

  // The front of `tenant`'s queue; nullopt when it has nothing waiting.
  std::optional<Item> PopOf(TenantId tenant) {
    auto it = by_tenant_.find(tenant.value);
    if (it == by_tenant_.end()) return std::nullopt;
    auto q = it->second;
    Item item = std::move(q->items.front());
    q->items.pop_front();
    --size_;
    if (q->items.empty()) {
      if (q == next_) Advance();
      Erase(q);
    }
    return item;
  }

  // The item `ahead` places behind the one Pop gives next, in the same
  // tenant's queue, or null (to prefetch its record).
  const Item* PeekAhead(size_t ahead) const {
    if (ring_.empty() || next_->items.size() <= ahead) return nullptr;
    return &next_->items[ahead];
  }

  // The tenants of `allowed` (sorted by value) that have messages waiting,
  // into *out (cleared first).
  void TenantsAmong(const std::vector<TenantId>& allowed, std::vector<TenantId>* out) const {
    out->clear();
    if (allowed.size() <= by_tenant_.size()) {
      for (TenantId t : allowed) {
        if (by_tenant_.contains(t.value)) out->push_back(t);
      }
      return;
    }
    for (const Queue& q : ring_) {
      auto less = [](TenantId a, TenantId b) { return a.value < b.value; };
      if (std::binary_search(allowed.begin(), allowed.end(), TenantId{q.tenant}, less)) {
        out->push_back(TenantId{q.tenant});
      }
    }
  }

  // Everything, tenant by tenant from the one in turn, each first in first
  // out (when the channel gets a rate limit).
  std::vector<std::pair<TenantId, Item>> TakeAll() {
    std::vector<std::pair<TenantId, Item>> out;
    out.reserve(size_);
    if (!ring_.empty()) ring_.splice(ring_.end(), ring_, ring_.begin(), next_);
    for (Queue& q : ring_) {
      for (Item& item : q.items) out.emplace_back(TenantId{q.tenant}, std::move(item));
    }
    ring_.clear();
    by_tenant_.clear();
    next_ = ring_.end();
    size_ = 0;
    return out;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t tenants() const { return by_tenant_.size(); }
  size_t size(TenantId tenant) const {
    auto it = by_tenant_.find(tenant.value);
    return it == by_tenant_.end() ? 0 : it->second->items.size();
  }

 private:
  struct Queue {
    uint32_t tenant;
    std::deque<Item> items;  // never empty while in the ring
  };
  using Ring = std::list<Queue>;

  void Advance() {
    if (++next_ == ring_.end()) next_ = ring_.begin();
  }
  void Erase(typename Ring::iterator q) {
    by_tenant_.erase(q->tenant);
    ring_.erase(q);
    if (ring_.empty()) next_ = ring_.end();
  }

  Ring ring_;                         // tenants with messages, in turn order
  typename Ring::iterator next_ = ring_.end();  // the tenant Pop serves next
  absl::flat_hash_map<uint32_t, typename Ring::iterator> by_tenant_;
  size_t size_ = 0;
};

}  // namespace rappel::server
