// PartialFrameBudget: caps the bytes that every connection together holds in
// frames still being received, so that many clients each sending part of a
// large frame cannot exhaust memory.
//
// A session reads a frame of up to 4 KiB into a buffer it always keeps (not
// counted here). A larger frame goes into a buffer that grows with the bytes
// that arrive; each growth is asked of this budget first (Take), and the
// whole is given back when the frame is complete or the connection closes
// (Release). A holder is a connection with such a frame in progress.
//
// Past the limit, the newest offenders go: when a Take would bring the total
// above the limit, holders are evicted newest first (by connection id, which
// is the accept order) until it fits. If the asking holder's own turn comes,
// Take refuses instead and forgets it: an older connection is never closed to
// make room for a newer one. Example, limit 10: A (id 1) holds 4, C (id 3)
// holds 4; B (id 2) asks 4: C is evicted, B gets its 4 (A 4 + B 4 = 8).
// Then C' (id 4) asks 6: it is the newest holder itself, so it is refused.
//
// Eviction calls the holder's Evict callback once, after the budget has
// forgotten the holder and its bytes; the callback must not call Take.
//
// Thread: the io thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

namespace rappel::server {

class PartialFrameBudget {
 public:
  using Evict = std::function<void()>;

  explicit PartialFrameBudget(size_t limit_bytes) : limit_bytes_(limit_bytes) {}

  // Adds `bytes` to holder `id` (registering it with `evict` if it holds
  // nothing yet). True: granted. False: refused, and the holder forgotten
  // with what it held (the caller closes that connection).
  [[nodiscard]] bool Take(uint64_t id, size_t bytes, const Evict& evict);
  // Forgets holder `id` and gives back all it holds; no-op if unknown.
  void Release(uint64_t id);

  size_t held_bytes() const { return held_bytes_; }
  size_t limit_bytes() const { return limit_bytes_; }
  size_t holders() const { return holders_.size(); }
  // Connections evicted so far (for tests and logs).
  uint64_t evictions() const { return evictions_; }

 private:
  struct Holder {
    size_t bytes = 0;
    Evict evict;
  };
  size_t limit_bytes_;
  size_t held_bytes_ = 0;
  uint64_t evictions_ = 0;
  std::map<uint64_t, Holder> holders_;  // by id: the newest is last
};

}  // namespace rappel::server
