// TimingWheel: a hierarchical timing wheel holding every scheduled reminder
// of the server, after Tokio's runtime/time/wheel, the Linux kernel's
// timer.c and Kafka's TimingWheel.
//
// Thread: owned by the io thread (the engine's); not thread-safe. It is a
// pure data structure: it reads no clock, the caller says what time it is.
//
// Levels
// ------
// Seven levels of 64 slots. A slot of level L covers 64^L ms and the whole
// level covers 64^(L+1) ms, so each level is 64 times coarser than the one
// below it:
//
//   level | slot width        | range of the level  | bits of due_ms
//   ------+-------------------+---------------------+---------------
//     0   |    1 ms           |   64 ms             |  0..5
//     1   |   64 ms           |    4.096 s          |  6..11
//     2   |    4.096 s        |    4.37 min         | 12..17
//     3   |    4.37 min       |    4.66 h           | 18..23
//     4   |    4.66 h         |   12.4 days         | 24..29
//     5   |   12.4 days       |    2.18 years       | 30..35
//     6   |    2.18 years     |  139 years (2^42)   | 36..41
//
// An entry lives on the level given by the highest bit in which its due time
// differs from the wheel's now: level = (bit index) / 6, and its slot is the
// 6-bit group of the due time at that level. All entries of a level therefore
// lie inside the level-(L+1) slot that holds now, later than now's own slot,
// so the lowest non-empty level always holds the earliest work. Each level
// keeps a 64-bit occupancy bitmap; the next non-empty slot is found with
// count-trailing-zeros on the bitmap rotated by now's slot, never by visiting
// empty slots, and time jumps straight to it (no ticking).
//
// When a slot of level L > 0 comes due (time reaches its start), its entries
// are "cascaded": each one is relinked on the level its due time now
// selects, which is always lower. Only level-0 slots fire. Nothing ever fires
// before its due time, and an entry is moved at most kLevels - 1 times.
//
// Due times are accepted up to `horizon_ms` (at most 2^41 ms) ahead of now,
// so an entry is never more than half a turn of the top level away. A due
// time in the next turn of the top level lands in a slot "behind" now's slot
// there; as in Tokio, its deadline is then read as one level range (2^42 ms)
// later. The half-turn limit guarantees that such a slot is never now's own.
// Entries due in the past are clamped to now: they go to now's level-0 slot,
// after whatever is already there, and fire at the next Advance in the order
// they were scheduled.
//
// Worked example. now = 1'700'000'123'457 (level slots 1, 41, 52, 57, 15, 47,
// 24 for levels 0..6). Schedule an entry 5 minutes later, at
// due = 1'700'000'423'457. now ^ due has its highest set bit at 19, so the
// entry goes to level 19 / 6 = 3, slot (due >> 18) & 63 = 58: the slot after
// now's (57), which starts at 1'700'000'169'984, 46.5 s from now.
//   - At 1'700'000'169'984 slot 3/58 cascades: relative to that time the due
//     differs first in bit 17, so the entry moves to level 2, slot 61
//     (starting at 1'700'000'419'840).
//   - At 1'700'000'419'840 (bit 11 now) it moves to level 1, slot 56,
//     starting at 1'700'000'423'424.
//   - At 1'700'000'423'424 it moves to level 0, slot 33, and fires when
//     Advance reaches 1'700'000'423'457, not one millisecond earlier.
// An Advance straight from now to 1'700'000'423'457 does the same four
// steps in one call; time never visits the empty slots in between.
//
// Bounded work
// ------------
// One slot may hold millions of entries (a popular due time). Advance takes a
// budget of work units (one unit = one entry fired or cascaded, or one
// cancelled entry's tombstone skipped in a level-0 slot) and can stop
// in the middle of a slot; the next call resumes there. A slot partly
// cascaded is finished before anything else fires, since entries still in it
// may be due before those already moved down.
//
// Costs: Allocate, Free, Schedule and Unschedule are O(1) (Unschedule of a
// level-0 entry amortized, see Memory). An entry is moved at most
// kLevels - 1 times over its life (in practice: once per level between its
// first one and 0). Finding the next slot is O(kLevels) bitmap work.
//
// With millions of entries nearly every move is a cache miss (~100-150 ns),
// so what bounds firing is how many misses are in flight. Slots used to be
// intrusive doubly linked lists: a cascade was pointer chasing, two misses in
// flight at most (walking from both ends), and BM_WheelFire (10 M entries
// over 7 days) fired 3.4-4.2 M entries/s. Slots are now arrays of handles: a
// cascade reads its slot's array sequentially and prefetches the entries
// kPrefetch (16) positions ahead, so many misses overlap, and BM_WheelFire
// fires 7-14 M entries/s on the same shared VM (noisy). Insert stays O(1) (an
// append) and so does cancel, since each entry records its slot and its
// position in the slot's array. The price is on cancel: it writes the slot
// array at a random place, a miss that depends on the entry's own, where a
// list wrote two neighbours independently; a bare loop of Unschedule over
// 10 M entries measured ~17 M/s against ~21 M/s with lists.
//
// Memory
// ------
// Entries live in a pool addressed by 32-bit indices, in chunks of 131072 (2
// MB, one huge page) so that growth never copies the pool. An entry is 16 bytes: its due time, its
// slot id and its position in the slot's array (the position doubles as the
// free-list link). Each slot holds the handles of its entries, 4 bytes each,
// in an array grown by 1.5x: ~21.8 bytes per entry in all at 10 M entries
// (BM_WheelMemory; 16 with lists). Removal from a slot of level > 0 moves
// the slot's last handle into the hole (order does not matter there). Level
// 0 keeps its order, which past-due entries need, so a removal leaves a
// tombstone that firing skips; a slot is compacted when its tombstones
// outnumber its live entries by kSlack (64), which keeps it within
// 2 * live + 64 handles. Arrays of 1 MB or more are separate mappings grown
// and shrunk with mremap, which moves pages rather than copying them, so a
// slot of millions never costs a multi-millisecond copy (BM_WheelSlotStep
// max step 1-3 ms per 65536 units). An array is freed when its slot empties
// if it is above 16 KB, and halved when a quarter full, so a crowd's memory
// is not pinned after it has fired.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "server/common/huge_pages.h"
#include "server/common/prefetch.h"

namespace rappel::server {

// Handle of a wheel entry: index into the wheel's pool (32 bits).
struct WheelHandle {
  uint32_t value;
  friend bool operator==(WheelHandle, WheelHandle) = default;
};

class TimingWheel {
 public:
  static constexpr int kLevels = 7;  // 64^7 ms ≈ 139 years: no overflow list needed
  static constexpr int kSlotsPerLevel = 64;
  static constexpr uint64_t kDefaultHorizonMs = 10ull * 366 * 24 * 3600 * 1000;  // ~10 years
  static constexpr uint64_t kMaxHorizonMs = (1ull << 41);  // half the top level's range

  // start_ms: the wheel's initial "now" (unix ms in practice; the wheel reads
  // no clock). horizon_ms: the largest (due - now) that Schedule accepts; must
  // be <= kMaxHorizonMs (aborts otherwise). Times (start_ms, Advance's and
  // Reset's) must stay below 2^62 ms, some 146 million years (aborts otherwise).
  explicit TimingWheel(uint64_t start_ms, uint64_t horizon_ms = kDefaultHorizonMs);

  ~TimingWheel();
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;

  // Every method taking a WheelHandle aborts unless it is an allocated entry
  // of this wheel: a bad handle is a bug in the caller, not bad input.

  // Returns a new, unscheduled entry. O(1); reuses freed handles first.
  WheelHandle Allocate();
  // Unschedules h if it is scheduled and returns it to the pool (a double
  // free aborts).
  void Free(WheelHandle h);

  // Links (or relinks) h to fire at due_ms. O(1). A due_ms <= now_ms() fires
  // at the next Advance. A due_ms beyond now_ms() + horizon returns
  // OutOfRangeError and leaves h as it was.
  absl::Status Schedule(WheelHandle h, uint64_t due_ms);
  // O(1); a no-op if h is not scheduled.
  void Unschedule(WheelHandle h);
  bool IsScheduled(WheelHandle h) const;
  // The due time last given to Schedule for h (not clamped to now).
  uint64_t DueMs(WheelHandle h) const;
  // Asks the CPU for h's entry ahead of a DueMs, Schedule or Free, so that a
  // batch's misses overlap. h must have been allocated.
  void Prefetch(WheelHandle h) const { PrefetchLine(&At(h.value)); }

  uint64_t now_ms() const { return now_ms_; }
  size_t scheduled() const { return scheduled_; }  // entries linked in the wheel
  size_t allocated() const { return allocated_; }  // entries allocated (scheduled or not)

  // Earliest time at which Advance has work to do (a firing or a cascade);
  // never later than the earliest due time of any scheduled entry, an entry
  // scheduled in the past counting as due at now_ms(). Always >= now_ms(),
  // and equal to it while a slot is only partly processed. nullopt when
  // nothing is scheduled. O(kLevels), from the occupancy bitmaps.
  std::optional<uint64_t> NextExpirationMs() const;

  // Moves time forward to now_ms (a now_ms in the past means now_ms()). Does
  // at most `budget` units of work (one unit = one entry fired or cascaded
  // to a lower level, or a cancelled entry skipped; see "Bounded work").
  // Fired entries are unscheduled but stay allocated (the caller frees
  // them) and are appended to *fired in non-decreasing order of
  // due time; entries scheduled with a due time already past fire in the
  // order they were scheduled, before anything later. Never fires an entry
  // before its due time. Returns true when caught up (nothing more is due at
  // or before now_ms), false when the budget ran out: call again.
  bool Advance(uint64_t now_ms, size_t budget, std::vector<WheelHandle>* fired);

  // Sets now_ms(). Requires scheduled() == 0 (aborts otherwise). Recovery sets
  // now to the earliest due time before linking recovered entries, so that
  // past-due entries fire oldest first.
  void Reset(uint64_t start_ms);

  // Bytes held by the pool, its chunk table and the slot arrays.
  size_t MemoryBytes() const;

 private:
  struct Entry {
    uint64_t due_ms;  // as given to Schedule; the slot is chosen from max(due_ms, now)
    uint32_t pos;     // index in its slot's array, or next on the free list
    uint32_t slot;    // slot id (level * 64 + slot), or kUnlinked / kFree
  };
  static_assert(sizeof(Entry) == 16);

  // The handles of one slot, in a malloc'ed array grown by 1.5x with realloc
  // (which can move big blocks by remapping pages instead of copying).
  // Levels > 0: items[0, size) are all live, removal is a swap with the last.
  // Level 0: order matters (past-due entries fire in scheduling order), so
  // removal leaves a tombstone (kNil); firing reads from `head`, and the
  // array is compacted when tombstones outnumber live entries (+ kSlack).
  struct Slot {
    uint32_t* items = nullptr;
    uint32_t size = 0;  // positions used, tombstones included
    uint32_t capacity = 0;
    uint32_t head = 0;  // level 0: first position not yet fired
    uint32_t live = 0;  // entries in the slot
  };

  static constexpr uint32_t kNumSlots = kLevels * kSlotsPerLevel;
  // Pool indices below this are never handed out (they were the list heads
  // of the slots in an earlier design; handles keep their numbering).
  static constexpr uint32_t kReserved = kNumSlots;
  // 2 MB of entries: one huge page (server/common/huge_pages.h).
  static constexpr int kChunkBits = 17;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr uint32_t kChunkMask = kChunkSize - 1;
  static constexpr uint32_t kFree = 0xFFFFFFFF;      // in slot: on the free list
  static constexpr uint32_t kUnlinked = 0xFFFFFFFE;  // in slot: allocated, not scheduled
  static constexpr uint32_t kNil = 0xFFFFFFFF;       // end of the free list; tombstone
  static constexpr uint32_t kMaxEntries = 0xFFFFFFF0;

  struct Expiration {
    int level;
    int slot;
    uint64_t deadline_ms;
  };

  Entry& At(uint32_t i) { return ChunkAt(i >> kChunkBits)[i & kChunkMask]; }
  const Entry& At(uint32_t i) const { return ChunkAt(i >> kChunkBits)[i & kChunkMask]; }
  Entry* ChunkAt(uint32_t c) const { return static_cast<Entry*>(chunks_[c].data()); }
  static uint32_t SlotIndex(int level, int slot) {
    return static_cast<uint32_t>(level * kSlotsPerLevel + slot);
  }

  // The entry behind h, aborting unless h is an allocated entry.
  Entry& Checked(WheelHandle h);
  const Entry& Checked(WheelHandle h) const;

  // The hot path is these; they are forced inline because GCC's -O2
  // heuristics leave them as calls, which costs ~30% in Advance.
  //
  // Appends entry i to the slot that due_ms selects relative to now_ms_;
  // returns the level chosen.
  ABSL_ATTRIBUTE_ALWAYS_INLINE int Link(uint32_t i, uint64_t due_ms);
  // Removes entry i from its slot; clears the slot's bit if it empties.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Unlink(uint32_t i);
  // The first slot with work, lowest level first (ignores cascade_active_).
  ABSL_ATTRIBUTE_ALWAYS_INLINE std::optional<Expiration> NextExpiration() const;
  // Grows slot s's array by half (at least kMinCapacity).
  void Grow(Slot& slot);
  // Marks slot s empty: clears its bit, frees a big array.
  void Clear(uint32_t s);
  // Level 0: drops the tombstones of slot s, renumbering the entries moved.
  void Compact(Slot& slot);

  uint64_t now_ms_;
  const uint64_t horizon_ms_;
  uint64_t occupied_[kLevels] = {};  // bit s of level L: slot L/s is non-empty
  size_t scheduled_ = 0;
  size_t allocated_ = 0;

  // A slot of level > 0 whose cascade ran out of budget, with now_ms_ at its
  // start. It is resumed before anything else happens in Advance.
  bool cascade_active_ = false;
  int cascade_level_ = 0;
  int cascade_slot_ = 0;

  Slot slots_[kNumSlots];
  std::vector<HugePageMapping> chunks_;
  uint32_t end_ = kReserved;   // pool indices below end_ have been handed out
  uint32_t free_head_ = kNil;  // LIFO: a freed entry is still warm in cache
};

}  // namespace rappel::server
