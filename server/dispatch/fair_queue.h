// FairQueue: the due messages of one channel that wait for its rate limits,
// served fairly across tenants and earliest deadline first within a tenant
// (so that one tenant's burst, such as every clinic's 24 h reminders falling
// due at 9:00, does not delay another tenant's messages).
//
//   Push(tenant, deadline, item)      tenant's heap, ordered by
//                                     (deadline_ms, arrival)
//   PopIf(may_send)                   the tenants in round-robin order,
//                                     from where the last pop stopped: the
//                                     first one that may_send(tenant)
//                                     gives up its earliest deadline
//   PopOf(tenant)                     that tenant's earliest deadline (a
//                                     worker scoped to some tenants takes
//                                     its own without visiting the others)
//
// Across tenants this is deficit round robin with unit costs and a quantum
// of one message, i.e. plain round robin over the tenants that have
// something waiting and a token: each gets one message per turn, so with N
// tenants waiting a tenant is served at no less than 1/N of what the
// channel lets through, however much the others have queued. A tenant held
// back by its own bucket is skipped (it loses its turn, not its place), and
// the others share what it leaves: max-min fairness.
//
// Example: tenant A has 200 000 queued, B pushes 100, the channel sends
// 50/s. The ring is [A, B]: A, B, A, B, ... B's 100 go within its first 200
// sends (4 s), not after A's 200 000 (4 000 s).
//
// Cost: Push and the pop are O(log n) in the tenant's queue, moving 24-byte
// heap entries, never the items (which stay put in a slab until popped); a
// PopIf that finds no tenant with a token visits every waiting tenant once
// (callers first check the channel's own bucket, so that this happens only
// when tenant buckets, not the channel's, hold messages back). Memory: the
// item plus about 30 bytes per message, one heap and one ring slot per
// waiting tenant; all of it is released when the queue empties.
//
// Thread: the owner's (the RateLimitedLane's: the io thread). Item must be
// movable.
#pragma once

#include <algorithm>
#include <cstdint>
#include <list>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/engine/reminder.h"

namespace rappel::server {

template <class Item>
class FairQueue {
 public:
  struct Popped {
    Item item;
    TenantId tenant;
    int64_t deadline_ms = 0;
    bool mark = false;  // as given to Push (the caller's flag, e.g. "reported late")
  };

  void Push(TenantId tenant, int64_t deadline_ms, bool mark, Item item) {
    auto [it, inserted] = tenants_.try_emplace(tenant.value);
    if (inserted) it->second.turn = ring_.insert(ring_.end(), tenant.value);
    uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<uint32_t>(slab_.size());
      slab_.emplace_back(std::move(item));
    } else {
      slot = free_.back();
      free_.pop_back();
      slab_[slot].emplace(std::move(item));
    }
    auto& heap = it->second.heap;
    heap.push_back(Entry{deadline_ms, next_order_++, slot, mark});
    std::push_heap(heap.begin(), heap.end(), Later{});
    ++size_;
  }

  // The earliest-deadline message of the next tenant (round robin) for which
  // may_send(TenantId) returns true; may_send is asked at most once per
  // waiting tenant and should take the tokens when it says yes. nullopt when
  // no tenant may send.
  template <class MaySend>
  std::optional<Popped> PopIf(MaySend&& may_send) {
    for (size_t n = ring_.size(); n > 0; --n) {
      uint32_t t = ring_.front();
      // To the back of the ring either way: its turn is taken (or lost).
      ring_.splice(ring_.end(), ring_, ring_.begin());
      if (!may_send(TenantId{t})) continue;
      return PopFrom(tenants_.find(t));
    }
    return std::nullopt;
  }

  // The earliest-deadline message of `tenant`, its place in the ring kept;
  // nullopt when it has nothing waiting.
  std::optional<Popped> PopOf(TenantId tenant) {
    auto it = tenants_.find(tenant.value);
    if (it == tenants_.end()) return std::nullopt;
    return PopFrom(it);
  }

  // The tenants of `allowed` (sorted by value) that have messages waiting,
  // into *out (cleared first): O(min(allowed, waiting tenants)).
  void TenantsAmong(const std::vector<TenantId>& allowed, std::vector<TenantId>* out) const {
    out->clear();
    if (allowed.size() <= tenants_.size()) {
      for (TenantId t : allowed) {
        if (tenants_.contains(t.value)) out->push_back(t);
      }
      return;
    }
    auto less = [](TenantId a, TenantId b) { return a.value < b.value; };
    for (uint32_t t : ring_) {
      if (std::binary_search(allowed.begin(), allowed.end(), TenantId{t}, less)) {
        out->push_back(TenantId{t});
      }
    }
  }

  // Everything, tenant by tenant, each earliest deadline first (when the
  // channel's limits are removed and its messages go back to plain FIFO).
  std::vector<Item> TakeAll() {
    std::vector<Item> out;
    out.reserve(size_);
    for (uint32_t t : ring_) {
      auto& heap = tenants_[t].heap;
      std::sort(heap.begin(), heap.end(), [](const Entry& a, const Entry& b) { return Later{}(b, a); });
      for (const Entry& e : heap) out.push_back(Take(e.slot));
    }
    tenants_.clear();
    ring_.clear();
    size_ = 0;
    Release();
    return out;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t tenants() const { return ring_.size(); }
  size_t size(TenantId tenant) const {
    auto it = tenants_.find(tenant.value);
    return it == tenants_.end() ? 0 : it->second.heap.size();
  }
  // fn(TenantId, size_t waiting) for each tenant with messages waiting.
  template <class Fn>
  void ForEachTenant(Fn&& fn) const {
    for (uint32_t t : ring_) fn(TenantId{t}, tenants_.find(t)->second.heap.size());
  }

 private:
  struct Entry {
    int64_t deadline_ms;
    uint64_t order;  // arrival: FIFO among equal deadlines
    uint32_t slot;   // the item, in slab_
    bool mark;
  };
  // std::*_heap keep the largest first: "later" compares greater.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.deadline_ms != b.deadline_ms ? a.deadline_ms > b.deadline_ms : a.order > b.order;
    }
  };

  struct Waiting {
    std::vector<Entry> heap;
    std::list<uint32_t>::iterator turn;  // its place in ring_
  };

  template <class It>
  Popped PopFrom(It it) {
    uint32_t t = it->first;
    auto& heap = it->second.heap;
    std::pop_heap(heap.begin(), heap.end(), Later{});
    Entry e = heap.back();
    heap.pop_back();
    --size_;
    if (heap.empty()) {
      ring_.erase(it->second.turn);
      tenants_.erase(it);
    }
    Popped out{Take(e.slot), TenantId{t}, e.deadline_ms, e.mark};
    if (size_ == 0) Release();
    return out;
  }

  Item Take(uint32_t slot) {
    Item item = std::move(*slab_[slot]);
    slab_[slot].reset();
    free_.push_back(slot);
    return item;
  }
  // After a spike, the slab would otherwise keep its peak size for good.
  void Release() {
    std::vector<std::optional<Item>>().swap(slab_);  // (move-only items: no `= {}`)
    std::vector<uint32_t>().swap(free_);
  }

  absl::flat_hash_map<uint32_t, Waiting> tenants_;
  std::vector<std::optional<Item>> slab_;  // items by slot; empty slots are in free_
  std::vector<uint32_t> free_;
  std::list<uint32_t> ring_;  // tenants with messages, in turn order
  uint64_t next_order_ = 0;
  size_t size_ = 0;
};

}  // namespace rappel::server
