// KeyIndex: which handle holds the durable live version of each reminder
// key, and what the engine keeps per handle (Bitcask's in-memory index).
//
// A handle is a TimingWheel handle (a 32-bit number the wheel allocates):
// the engine allocates one from the wheel when a key gets its first durable
// version and frees it when the key's tombstone applies. The same number
// names the key's wheel entry, its metadata and its shape here, and the
// DueRef::slot the sink gets back.
//
//   set_: flat_hash_set of handles (4 B + 1 control byte a slot),
//         hashed and compared through the handle's metadata
//           │ handle h
//           ▼
//   chunk h >> 19 (one huge-page mapping, zeroed by the kernel):
//     [ Meta (key hash, seq) × 2^19 | shape (uint32) × 2^19 ]
//
//   meta(h)   the key's 128-bit hash and the seq of its durable version;
//             seq 0: the handle holds no live version.
//   shape(h)  bits 0-23: the version's record size (kShapeUnknownBytes when
//             larger, or when the wheel's due time is no longer the
//             record's); bits 24-30: its channel; bit 31: kShapeEnding.
//             With the wheel's due time, what the live counters need when
//             the version is replaced, completed or cancelled, without
//             reading it back from the log.
//
// The in-flight-tombstone mark (kShapeEnding). A cancel, completion or
// expiry whose tombstone is the first write to the key since its version
// became durable marks the handle instead of adding an overlay entry. For
// every reader the key is then gone (FindUnended). The mark goes with the
// handle when the tombstone applies (Erase), or is cleared when the
// tombstone's commit fails (ClearEnding). Nothing frees a marked handle but
// its own tombstone.
//
// Lookups are inline: a batch of thousands of keys prefetches the index
// group of the key 8 ahead (Prefetch) and the slots of the key 4 ahead
// (PrefetchKey), so that its cache misses overlap. PrefetchKey probes the
// set with a flag set that makes the equality prefetch each candidate's
// metadata, shape and wheel entry instead of comparing.
//
// Thread: the engine's owner thread only. Neither copyable nor movable (the
// set's functors point at it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "server/common/huge_pages.h"
#include "server/common/prefetch.h"
#include "server/engine/reminder.h"
#include "server/store/write_batch.h"
#include "server/wheel/timing_wheel.h"

namespace rappel::server {

class KeyIndex {
 public:
  struct Meta {
    KeyHash hash;
    SeqNo seq;  // 0: not live
  };
  static constexpr uint32_t kShapeUnknownBytes = (1u << 24) - 1;
  static constexpr uint32_t kShapeEnding = 1u << 31;
  static uint32_t PackShape(uint8_t channel, uint32_t bytes) {
    return (uint32_t{channel} << 24) | std::min(bytes, kShapeUnknownBytes);
  }

  // `wheel` allocates the handles (PrefetchKey prefetches their entries).
  explicit KeyIndex(const TimingWheel& wheel) : wheel_(wheel), set_(0, Hash{this}, Eq{this}) {}
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;

  // Room for n keys without a rehash.
  void Reserve(size_t n) { set_.reserve(n); }
  // Keys in the index.
  size_t size() const { return set_.size(); }
  // Heap and mappings held: the set, the metadata and the shapes.
  size_t MemoryBytes() const;

  // Makes meta(h) and shape(h) addressable (maps chunks as needed).
  void EnsureSlot(uint32_t h);
  // Whether meta(h) and shape(h) are addressable.
  bool HasSlot(uint32_t h) const { return h < (meta_chunks_.size() << kChunkBits); }
  Meta& meta(uint32_t h) const { return meta_chunks_[h >> kChunkBits][h & kChunkMask]; }
  uint32_t& shape(uint32_t h) const { return shape_chunks_[h >> kChunkBits][h & kChunkMask]; }

  // The handle of the key, or nullopt.
  std::optional<uint32_t> Find(const KeyHash& hash) const {
    auto it = set_.find(hash);
    if (it == set_.end()) return std::nullopt;
    return *it;
  }
  // The same, unless a tombstone of its version is in flight (the mark).
  std::optional<uint32_t> FindUnended(const KeyHash& hash) const {
    auto it = set_.find(hash);
    if (it == set_.end() || Ending(*it)) return std::nullopt;
    return *it;
  }
  // Adds handle h, whose meta(h).hash is set, unless its key is there
  // already. Returns the key's handle: h, or the one found.
  uint32_t Insert(uint32_t h) { return *set_.insert(h).first; }
  // Removes the key; its handle's metadata and shape (and mark) are reset.
  // Returns the handle, for the caller to free in the wheel; nullopt if the
  // key was not there.
  std::optional<uint32_t> Erase(const KeyHash& hash) {
    auto it = set_.find(hash);
    if (it == set_.end()) return std::nullopt;
    uint32_t h = *it;
    set_.erase(it);
    meta(h) = Meta{};
    shape(h) = 0;
    return h;
  }

  // Calls f(h) for every handle in the index, in no particular order.
  template <typename F>
  void ForEach(F f) const {
    for (uint32_t h : set_) f(h);
  }

  // The in-flight-tombstone mark (file comment).
  bool Ending(uint32_t h) const { return (shape(h) & kShapeEnding) != 0; }
  void MarkEnding(uint32_t h) { shape(h) |= kShapeEnding; }
  void ClearEnding(uint32_t h) { shape(h) &= ~kShapeEnding; }
  // The wheel's due time of h is no longer its record's (deferred, retried):
  // the shape no longer stands for the version without reading it.
  void MarkShapeStale(uint32_t h) { shape(h) |= kShapeUnknownBytes; }

  // Asks the CPU for the index group of the key, without waiting.
  void Prefetch(const KeyHash& hash) const { set_.prefetch(hash); }
  // Asks the CPU for the metadata, shape and wheel entry of the key's slot
  // (and of any other candidate of its probe), without waiting: call it a
  // few keys ahead, once the key's index group has been prefetched, so that
  // the dependent misses of a lookup overlap too.
  void PrefetchKey(const KeyHash& hash) const {
    prefetch_probe_ = true;
    bool found = set_.find(hash) != set_.end();
    // The compiler may treat the probe as pure and drop it, result unused.
    asm volatile("" : : "r"(found));
    prefetch_probe_ = false;
  }
  // The same for handle h.
  void PrefetchSlot(uint32_t h) const {
    PrefetchLine(&meta(h));
    PrefetchLine(&shape(h));
    wheel_.Prefetch(WheelHandle{h});
  }

 private:
  // Two handles are the same key when their key hashes are equal.
  struct Hash {
    using is_transparent = void;
    const KeyIndex* index;
    size_t operator()(uint32_t h) const { return index->meta(h).hash.lo; }
    size_t operator()(const KeyHash& k) const { return k.lo; }
  };
  struct Eq {
    using is_transparent = void;
    const KeyIndex* index;
    bool operator()(uint32_t a, uint32_t b) const {
      return a == b || index->meta(a).hash == index->meta(b).hash;
    }
    bool operator()(const KeyHash& k, uint32_t h) const { return Matches(k, h); }
    bool operator()(uint32_t h, const KeyHash& k) const { return Matches(k, h); }
    bool Matches(const KeyHash& k, uint32_t h) const {
      if (index->prefetch_probe_) {
        index->PrefetchSlot(h);
        return false;  // walk on: every candidate of the probe gets prefetched
      }
      return index->meta(h).hash == k;
    }
  };

  // 12 MB of metadata and 2 MB of shapes per chunk: whole huge pages.
  static constexpr int kChunkBits = 19;
  static constexpr uint32_t kChunkMask = (1u << kChunkBits) - 1;

  const TimingWheel& wheel_;
  // One huge-page mapping per chunk of handles holds their metadata, then
  // their shapes; meta_chunks_ and shape_chunks_ point into it.
  std::vector<HugePageMapping> chunks_;
  std::vector<Meta*> meta_chunks_;
  std::vector<uint32_t*> shape_chunks_;
  absl::flat_hash_set<uint32_t, Hash, Eq, HugePageAllocator<uint32_t>> set_;
  // True only inside PrefetchKey (Eq then only prefetches).
  mutable bool prefetch_probe_ = false;
};

}  // namespace rappel::server
