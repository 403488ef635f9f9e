// LeaseTable: the dispatcher's leases in flight, by lease id.
//
// Ids are handed out in increasing order and every lease gets the same
// timeout, so id order is deadline order: the table is a ring indexed by
// id - (id of its front). Finding a lease is an index, not a hash probe, and
// the next deadline is the front's. A lease that ends (acked, expired,
// released) leaves a hole until every lease before it has ended too; holes
// at the front are dropped at once, so the ring spans from the oldest lease
// still out to the newest (a lease that is never acked holds the ring
// behind it until its deadline, 16 bytes per later lease).
//
// Thread: the dispatcher's (owner) thread.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "server/common/check.h"

namespace rappel::server {

class LeaseTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // A new lease of pool slot `slot` until *deadline_ms, raised to the
  // previous lease's deadline if the clock stepped back (the ring stays in
  // deadline order). Returns its id.
  uint64_t Add(uint32_t slot, int64_t* deadline_ms) {
    RAPPEL_CHECK(slot != kNone);
    if (!ring_.empty() && ring_.back().deadline_ms > *deadline_ms) {
      *deadline_ms = ring_.back().deadline_ms;
    }
    if (ring_.empty()) front_id_ = next_id_;
    ring_.push_back(Entry{*deadline_ms, slot});
    ++live_;
    return next_id_++;
  }

  // The pool slot of lease `id`, or kNone when it has ended or never was.
  uint32_t Find(uint64_t id) const {
    if (id < front_id_ || id - front_id_ >= ring_.size()) return kNone;
    return ring_[id - front_id_].slot;
  }

  // Ends lease `id`, which must be in the table.
  void Erase(uint64_t id) {
    RAPPEL_CHECK(Find(id) != kNone);
    ring_[id - front_id_].slot = kNone;
    --live_;
    while (!ring_.empty() && ring_.front().slot == kNone) {
      ring_.pop_front();
      ++front_id_;
    }
  }

  // The oldest lease still out, as (id, deadline), or nullopt.
  std::optional<std::pair<uint64_t, int64_t>> Oldest() const {
    if (ring_.empty()) return std::nullopt;
    return std::make_pair(front_id_, ring_.front().deadline_ms);
  }

  // f(id, slot) for every lease still out, oldest first.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < ring_.size(); ++i) {
      if (ring_[i].slot != kNone) f(front_id_ + i, ring_[i].slot);
    }
  }

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }

 private:
  struct Entry {
    int64_t deadline_ms;
    uint32_t slot;  // kNone: ended
  };
  std::deque<Entry> ring_;
  uint64_t front_id_ = 1;  // the id of ring_.front()
  uint64_t next_id_ = 1;
  size_t live_ = 0;
};

}  // namespace rappel::server
