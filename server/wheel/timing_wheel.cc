#include "server/wheel/timing_wheel.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string>

#include "server/common/check.h"

namespace rappel::server {
namespace {

constexpr int kBits = 6;
constexpr uint64_t kSlotMask = 63;
// The top level spans 2^42 ms; anything differing from now above bit 41 is a
// due time in the next turn of the top level and stays on the top level.
constexpr uint64_t kTopLevelMaxMasked = (uint64_t{1} << (kBits * TimingWheel::kLevels)) - 1;
// Deadlines are computed as now + up to 2^42 ms; this keeps them far from
// wrapping around uint64_t.
constexpr uint64_t kMaxTimeMs = uint64_t{1} << 62;
// Slot arrays start at kMinCapacity handles and are freed when they empty
// above kKeepCapacity (16 KB), or halved when a quarter full.
constexpr uint32_t kMinCapacity = 16;
constexpr uint32_t kKeepCapacity = 4096;
// Level 0: tombstones allowed beyond the number of live entries.
constexpr uint32_t kSlack = 64;
// Arrays of at least kMapBytes live in their own mapping, grown and shrunk
// with mremap, which moves pages instead of copying them: a slot of millions
// never costs a multi-millisecond copy, and freeing it returns the memory to
// the system at once.
constexpr size_t kMapBytes = size_t{1} << 20;
constexpr size_t kPageBytes = 4096;
// Page-aligned and above any pool size reachable in practice.
constexpr uint64_t kMaxCapacity = 0xFFFFF000;

// Resizes an array of handles from old_bytes (0: none) to new_bytes,
// keeping the first keep_bytes. Returns nullptr on failure.
uint32_t* ResizeArray(uint32_t* items, size_t old_bytes, size_t new_bytes, size_t keep_bytes) {
  const bool old_mapped = old_bytes >= kMapBytes;
  const bool new_mapped = new_bytes >= kMapBytes;
  void* out;
  if (!old_mapped && !new_mapped) {
    out = std::realloc(items, new_bytes);
  } else if (old_mapped && new_mapped) {
    out = mremap(items, old_bytes, new_bytes, MREMAP_MAYMOVE);
    if (out == MAP_FAILED) out = nullptr;
  } else if (new_mapped) {
    out = mmap(nullptr, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (out == MAP_FAILED) return nullptr;
    if (keep_bytes != 0) std::memcpy(out, items, keep_bytes);
    std::free(items);
  } else {
    out = std::malloc(new_bytes);
    if (out == nullptr) return nullptr;
    if (keep_bytes != 0) std::memcpy(out, items, keep_bytes);
    munmap(items, old_bytes);
  }
  return static_cast<uint32_t*>(out);
}

void FreeArray(uint32_t* items, size_t bytes) {
  if (bytes >= kMapBytes) {
    munmap(items, bytes);
  } else {
    std::free(items);
  }
}

// A capacity of `wanted` handles or a little more, whole pages if mapped.
uint32_t RoundCapacity(uint64_t wanted) {
  if (wanted * sizeof(uint32_t) >= kMapBytes) {
    wanted =
        (wanted + kPageBytes / sizeof(uint32_t) - 1) & ~uint64_t{kPageBytes / sizeof(uint32_t) - 1};
  }
  return static_cast<uint32_t>(wanted);
}

// How many entries ahead a cascade or a firing prefetches.
constexpr uint32_t kPrefetch = 16;

// The level whose 6-bit group holds the highest bit in which due differs from
// now. The | kSlotMask makes "no difference" (due == now) land on level 0.
int LevelFor(uint64_t now_ms, uint64_t due_ms) {
  uint64_t masked = (now_ms ^ due_ms) | kSlotMask;
  if (masked > kTopLevelMaxMasked) masked = kTopLevelMaxMasked;
  const int significant = 63 - std::countl_zero(masked);
  return significant / kBits;
}

}  // namespace

TimingWheel::TimingWheel(uint64_t start_ms, uint64_t horizon_ms)
    : now_ms_(start_ms), horizon_ms_(horizon_ms) {
  RAPPEL_CHECK(horizon_ms <= kMaxHorizonMs);
  RAPPEL_CHECK(start_ms < kMaxTimeMs);
  chunks_.emplace_back(kChunkSize * sizeof(Entry));
  for (uint32_t i = 0; i < kReserved; ++i) {
    At(i) = Entry{0, kNil, kFree};
  }
}

TimingWheel::~TimingWheel() {
  for (Slot& slot : slots_) FreeArray(slot.items, size_t{slot.capacity} * sizeof(uint32_t));
}

TimingWheel::Entry& TimingWheel::Checked(WheelHandle h) {
  RAPPEL_CHECK(h.value >= kReserved && h.value < end_);
  Entry& e = At(h.value);
  RAPPEL_CHECK(e.slot != kFree);
  return e;
}

const TimingWheel::Entry& TimingWheel::Checked(WheelHandle h) const {
  RAPPEL_CHECK(h.value >= kReserved && h.value < end_);
  const Entry& e = At(h.value);
  RAPPEL_CHECK(e.slot != kFree);
  return e;
}

void TimingWheel::Grow(Slot& slot) {
  const uint64_t wanted =
      std::max<uint64_t>(kMinCapacity, uint64_t{slot.capacity} + slot.capacity / 2);
  const uint32_t capacity = RoundCapacity(std::min<uint64_t>(wanted, kMaxCapacity));
  RAPPEL_CHECK(capacity > slot.size);
  uint32_t* items =
      ResizeArray(slot.items, size_t{slot.capacity} * sizeof(uint32_t),
                  size_t{capacity} * sizeof(uint32_t), size_t{slot.size} * sizeof(uint32_t));
  RAPPEL_CHECK(items != nullptr);
  slot.items = items;
  slot.capacity = capacity;
}

void TimingWheel::Clear(uint32_t s) {
  Slot& slot = slots_[s];
  slot.size = 0;
  slot.head = 0;
  slot.live = 0;
  occupied_[s / kSlotsPerLevel] &= ~(uint64_t{1} << (s % kSlotsPerLevel));
  // A slot that held a crowd gives its memory back; small arrays are kept
  // for reuse.
  if (slot.capacity > kKeepCapacity) {
    FreeArray(slot.items, size_t{slot.capacity} * sizeof(uint32_t));
    slot.items = nullptr;
    slot.capacity = 0;
  }
}

void TimingWheel::Compact(Slot& slot) {
  uint32_t out = 0;
  for (uint32_t p = slot.head; p < slot.size; ++p) {
    if (p + kPrefetch < slot.size && slot.items[p + kPrefetch] != kNil) {
      __builtin_prefetch(&At(slot.items[p + kPrefetch]), 1);
    }
    const uint32_t i = slot.items[p];
    if (i == kNil) continue;
    slot.items[out] = i;
    At(i).pos = out;
    ++out;
  }
  slot.size = out;
  slot.head = 0;
}

inline int TimingWheel::Link(uint32_t i, uint64_t due_ms) {
  // A past due time behaves as "now": level 0, now's slot, after the entries
  // already there, which keeps past-due entries in scheduling order.
  const uint64_t when = due_ms < now_ms_ ? now_ms_ : due_ms;
  const int level = LevelFor(now_ms_, when);
  const int slot_in_level = static_cast<int>((when >> (kBits * level)) & kSlotMask);
  const uint32_t s = SlotIndex(level, slot_in_level);
  Slot& slot = slots_[s];
  if (slot.size == slot.capacity) [[unlikely]] {
    Grow(slot);
  }
  // Append: level-0 slots fire from the head, so past-due entries, which all
  // share now's slot, fire in scheduling order.
  Entry& e = At(i);
  e.pos = slot.size;
  e.slot = s;
  slot.items[slot.size++] = i;
  ++slot.live;
  occupied_[level] |= uint64_t{1} << slot_in_level;
  return level;
}

inline void TimingWheel::Unlink(uint32_t i) {
  Entry& e = At(i);
  const uint32_t s = e.slot;
  const uint32_t pos = e.pos;
  Slot& slot = slots_[s];
  e.slot = kUnlinked;
  if (--slot.live == 0) {
    Clear(s);
    return;
  }
  if (s >= kSlotsPerLevel) {
    // Order inside a slot of level > 0 does not matter: swap with the last.
    const uint32_t last = slot.items[--slot.size];
    if (last != i) {
      slot.items[pos] = last;
      At(last).pos = pos;
    }
    if (slot.capacity > kKeepCapacity && slot.size < slot.capacity / 4) {
      const uint32_t capacity = RoundCapacity(slot.capacity / 2);
      uint32_t* items =
          ResizeArray(slot.items, size_t{slot.capacity} * sizeof(uint32_t),
                      size_t{capacity} * sizeof(uint32_t), size_t{slot.size} * sizeof(uint32_t));
      if (items != nullptr) {  // on failure, keep the bigger array
        slot.items = items;
        slot.capacity = capacity;
      }
    }
  } else {
    // Level 0 keeps its order: a tombstone, dropped once they outnumber the
    // live entries, so the array stays within 2 * live + kSlack.
    slot.items[pos] = kNil;
    if (slot.size - slot.head - slot.live > slot.live + kSlack) Compact(slot);
  }
}

inline std::optional<TimingWheel::Expiration> TimingWheel::NextExpiration() const {
  for (int level = 0; level < kLevels; ++level) {
    const uint64_t occupied = occupied_[level];
    if (occupied == 0) continue;
    const int shift = kBits * level;
    const int now_slot = static_cast<int>((now_ms_ >> shift) & kSlotMask);
    // Rotating by now's slot makes the search start at now and wrap around,
    // so the first set bit is the next slot in time order.
    const int slot = (std::countr_zero(std::rotr(occupied, now_slot)) + now_slot) & kSlotMask;
    const uint64_t level_range = uint64_t{1} << (shift + kBits);
    const uint64_t level_start = now_ms_ & ~(level_range - 1);
    uint64_t deadline = level_start + (static_cast<uint64_t>(slot) << shift);
    if (deadline < now_ms_) {
      // Only the top level holds due times of the next turn (see the header);
      // on any other level a slot behind now would be a broken invariant.
      RAPPEL_CHECK(level == kLevels - 1);
      deadline += level_range;
    }
    return Expiration{level, slot, deadline};
  }
  return std::nullopt;
}

WheelHandle TimingWheel::Allocate() {
  uint32_t i;
  if (free_head_ != kNil) {
    i = free_head_;
    free_head_ = At(i).pos;
  } else {
    RAPPEL_CHECK(end_ < kMaxEntries);
    // A new chunk per 131072 entries: growing never moves existing entries,
    // so there is no multi-millisecond copy at 10 M entries.
    if ((end_ & kChunkMask) == 0) {
      chunks_.emplace_back(kChunkSize * sizeof(Entry));
    }
    i = end_++;
  }
  Entry& e = At(i);
  e.due_ms = 0;
  e.pos = kNil;
  e.slot = kUnlinked;
  ++allocated_;
  return WheelHandle{i};
}

void TimingWheel::Free(WheelHandle h) {
  Entry& e = Checked(h);
  if (e.slot != kUnlinked) {
    Unlink(h.value);
    --scheduled_;
  }
  e.slot = kFree;
  e.pos = free_head_;
  free_head_ = h.value;
  --allocated_;
}

absl::Status TimingWheel::Schedule(WheelHandle h, uint64_t due_ms) {
  Entry& e = Checked(h);
  if (due_ms > now_ms_ && due_ms - now_ms_ > horizon_ms_) {
    return absl::OutOfRangeError("timing wheel: due_ms " + std::to_string(due_ms) + " is " +
                                 std::to_string(due_ms - now_ms_) + " ms after now_ms " +
                                 std::to_string(now_ms_) + ", beyond the horizon of " +
                                 std::to_string(horizon_ms_) + " ms");
  }
  if (e.slot != kUnlinked) {
    Unlink(h.value);
  } else {
    ++scheduled_;
  }
  e.due_ms = due_ms;
  Link(h.value, due_ms);
  return absl::OkStatus();
}

void TimingWheel::Unschedule(WheelHandle h) {
  const Entry& e = Checked(h);
  if (e.slot == kUnlinked) return;
  Unlink(h.value);
  --scheduled_;
}

bool TimingWheel::IsScheduled(WheelHandle h) const { return Checked(h).slot != kUnlinked; }

uint64_t TimingWheel::DueMs(WheelHandle h) const { return Checked(h).due_ms; }

std::optional<uint64_t> TimingWheel::NextExpirationMs() const {
  if (scheduled_ == 0) return std::nullopt;
  if (cascade_active_ && ((occupied_[cascade_level_] >> cascade_slot_) & 1) != 0) {
    return now_ms_;
  }
  return NextExpiration()->deadline_ms;
}

bool TimingWheel::Advance(uint64_t now_ms, size_t budget, std::vector<WheelHandle>* fired) {
  RAPPEL_CHECK(now_ms < kMaxTimeMs);
  const uint64_t target = now_ms < now_ms_ ? now_ms_ : now_ms;
  size_t work = 0;
  for (;;) {
    if (cascade_active_) {
      // Finish the interrupted cascade before anything else: the entries
      // still in the slot may be due before some already moved down.
      const uint32_t s = SlotIndex(cascade_level_, cascade_slot_);
      Slot& slot = slots_[s];
      // Order inside the slot does not matter (each entry is re-sorted by its
      // lower bits), so take entries from the end: the slot shrinks as it
      // goes and a resumed cascade just continues. Nothing can be added to
      // this slot meanwhile: anything due inside it lands on a lower level.
      // Nearly every entry of a big slot is a cache miss; the handles are
      // read sequentially, so the entries kPrefetch ahead are prefetched and
      // that many misses are in flight instead of one.
      while (slot.size != 0) {
        if (work == budget) return false;
        const uint32_t n = slot.size;
        if (n > kPrefetch) __builtin_prefetch(&At(slot.items[n - 1 - kPrefetch]), 1);
        const uint32_t i = slot.items[n - 1];
        slot.size = n - 1;
        --slot.live;
        // now_ms_ is the start of the slot being cascaded, so every entry in
        // it differs from now in lower bits only: it lands on a lower level.
        const int level = Link(i, At(i).due_ms);
        RAPPEL_CHECK(level < cascade_level_);
        ++work;
      }
      Clear(s);
      cascade_active_ = false;
    }

    const std::optional<Expiration> next = NextExpiration();
    if (!next.has_value() || next->deadline_ms > target) {
      now_ms_ = target;
      return true;
    }
    // Nothing is due before the deadline, so jumping there keeps every entry
    // on a valid level (this is the "no ticking through empty slots" step).
    now_ms_ = next->deadline_ms;
    const uint32_t s = SlotIndex(next->level, next->slot);
    if (next->level == 0) {
      Slot& slot = slots_[s];
      // Fire from the head, in the order the entries were appended. A
      // skipped tombstone counts as a unit too, so that a slot whose head is
      // a long run of cancelled entries still stops within the budget.
      while (slot.live != 0) {
        if (work == budget) return false;
        if (slot.head + kPrefetch < slot.size) {
          const uint32_t ahead = slot.items[slot.head + kPrefetch];
          if (ahead != kNil) __builtin_prefetch(&At(ahead), 1);
        }
        const uint32_t i = slot.items[slot.head++];
        if (i == kNil) {
          ++work;
          continue;
        }
        Entry& e = At(i);
        RAPPEL_CHECK(e.due_ms <= now_ms_);
        e.slot = kUnlinked;
        --slot.live;
        --scheduled_;
        fired->push_back(WheelHandle{i});
        ++work;
      }
      Clear(s);
    } else {
      cascade_active_ = true;
      cascade_level_ = next->level;
      cascade_slot_ = next->slot;
    }
  }
}

void TimingWheel::Reset(uint64_t start_ms) {
  RAPPEL_CHECK(scheduled_ == 0);
  RAPPEL_CHECK(start_ms < kMaxTimeMs);
  now_ms_ = start_ms;
  cascade_active_ = false;
}

size_t TimingWheel::MemoryBytes() const {
  size_t slot_bytes = 0;
  for (const Slot& slot : slots_) slot_bytes += size_t{slot.capacity} * sizeof(uint32_t);
  return chunks_.size() * kChunkSize * sizeof(Entry) +
         chunks_.capacity() * sizeof(HugePageMapping) + slot_bytes + sizeof(*this);
}

}  // namespace rappel::server
