#include "server/wheel/timing_wheel.h"

#include <bit>
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
  chunks_.push_back(std::make_unique_for_overwrite<Entry[]>(kChunkSize));
  for (uint32_t s = 0; s < kNumSentinels; ++s) {
    Entry& sentinel = At(s);
    sentinel.due_ms = 0;
    sentinel.next = s;
    sentinel.prev = s;
  }
}

TimingWheel::Entry& TimingWheel::Checked(WheelHandle h) {
  RAPPEL_CHECK(h.value >= kNumSentinels && h.value < end_);
  Entry& e = At(h.value);
  RAPPEL_CHECK(e.prev != kFree);
  return e;
}

const TimingWheel::Entry& TimingWheel::Checked(WheelHandle h) const {
  RAPPEL_CHECK(h.value >= kNumSentinels && h.value < end_);
  const Entry& e = At(h.value);
  RAPPEL_CHECK(e.prev != kFree);
  return e;
}

inline int TimingWheel::Link(uint32_t i, uint64_t due_ms) {
  // A past due time behaves as "now": level 0, now's slot, after the entries
  // already there, which keeps past-due entries in scheduling order.
  const uint64_t when = due_ms < now_ms_ ? now_ms_ : due_ms;
  const int level = LevelFor(now_ms_, when);
  const int slot = static_cast<int>((when >> (kBits * level)) & kSlotMask);
  const uint32_t s = SentinelIndex(level, slot);
  // Append at the tail (sentinel.prev): level-0 slots fire from the head, so
  // past-due entries, which all share now's slot, fire in scheduling order.
  Entry& sentinel = At(s);
  const uint32_t tail = sentinel.prev;
  Entry& e = At(i);
  e.next = s;
  e.prev = tail;
  At(tail).next = i;
  sentinel.prev = i;
  occupied_[level] |= uint64_t{1} << slot;
  return level;
}

inline void TimingWheel::Unlink(uint32_t i) {
  Entry& e = At(i);
  const uint32_t prev = e.prev;
  const uint32_t next = e.next;
  At(prev).next = next;
  At(next).prev = prev;
  // In a circular list with a sentinel, prev == next after unlinking only if
  // the sentinel is all that is left; its index names the slot to clear.
  if (prev == next) {
    occupied_[prev / kSlotsPerLevel] &= ~(uint64_t{1} << (prev % kSlotsPerLevel));
  }
  e.prev = kUnlinked;
}

inline void TimingWheel::MoveDown(uint32_t i) {
  Unlink(i);
  // now_ms_ is the start of the slot being cascaded, so every entry in it
  // differs from now in lower bits only: it always lands on a lower level.
  const int level = Link(i, At(i).due_ms);
  RAPPEL_CHECK(level < cascade_level_);
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
    free_head_ = At(i).next;
  } else {
    RAPPEL_CHECK(end_ < kMaxEntries);
    // A new chunk per 65536 entries: growing never moves existing entries,
    // so there is no multi-millisecond copy at 10 M entries.
    if ((end_ & kChunkMask) == 0) {
      chunks_.push_back(std::make_unique_for_overwrite<Entry[]>(kChunkSize));
    }
    i = end_++;
  }
  Entry& e = At(i);
  e.due_ms = 0;
  e.next = kNil;
  e.prev = kUnlinked;
  ++allocated_;
  return WheelHandle{i};
}

void TimingWheel::Free(WheelHandle h) {
  Entry& e = Checked(h);
  if (e.prev != kUnlinked) {
    Unlink(h.value);
    --scheduled_;
  }
  e.prev = kFree;
  e.next = free_head_;
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
  if (e.prev != kUnlinked) {
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
  if (e.prev == kUnlinked) return;
  Unlink(h.value);
  --scheduled_;
}

bool TimingWheel::IsScheduled(WheelHandle h) const { return Checked(h).prev != kUnlinked; }

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
      const uint32_t s = SentinelIndex(cascade_level_, cascade_slot_);
      while (At(s).next != s) {
        if (work == budget) return false;
        // Take entries from both ends: order inside the slot does not matter
        // (each entry is re-sorted by its lower bits), and two independent
        // list walks let the CPU wait for two cache misses at once. In a big
        // slot nearly every entry is a miss, so this halves the time.
        const uint32_t head = At(s).next;
        const uint32_t tail = At(s).prev;
        MoveDown(head);
        ++work;
        if (tail != head && work < budget) {
          MoveDown(tail);
          ++work;
        }
      }
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
    const uint32_t s = SentinelIndex(next->level, next->slot);
    if (next->level == 0) {
      while (At(s).next != s) {
        if (work == budget) return false;
        const uint32_t i = At(s).next;
        RAPPEL_CHECK(At(i).due_ms <= now_ms_);
        Unlink(i);
        --scheduled_;
        fired->push_back(WheelHandle{i});
        ++work;
      }
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
  return chunks_.size() * kChunkSize * sizeof(Entry) +
         chunks_.capacity() * sizeof(std::unique_ptr<Entry[]>) + sizeof(*this);
}

}  // namespace rappel::server
