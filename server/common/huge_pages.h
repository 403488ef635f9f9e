// Memory for the engine's large arrays that are read at random places (the
// key index, the per-handle metadata, the wheel's entries), backed by 2 MB
// pages where the kernel allows it.
//
// With 4 KB pages, every random access into ~100 MB of such arrays also
// misses the TLB, and a software prefetch stalls on the page walk. Debian's
// kernel enables transparent huge pages on request (madvise mode), so these
// mappings ask for them; elsewhere the advice fails and they stay 4 KB pages.
// Mappings are rounded to whole 2 MB pages and aligned to 2 MB. The kernel
// zeroes them and faults them in on first touch, so untouched parts cost no
// memory; a touched huge page costs its whole 2 MB. With the kernel's
// defrag setting at "madvise" (Debian's default), the first touch of such a
// page may compact memory on the spot, which on a fragmented host can take
// milliseconds: SetHugePagesAdvised(false) (rappeld's `[engine]
// huge_pages = 0`) keeps 4 KB pages.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace rappel {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// A zeroed mapping of at least `bytes`, aligned to 2 MB, advised for huge
// pages unless SetHugePagesAdvised(false). Throws std::bad_alloc when the
// address space or memory is exhausted, as new does.
void* MapHugePages(size_t bytes);
// Process-wide, for the mappings made afterwards; on by default.
void SetHugePagesAdvised(bool advised);
// Unmaps what MapHugePages(bytes) returned.
void UnmapHugePages(void* p, size_t bytes);

// For containers of many elements (absl::flat_hash_set's backing array):
// requests of 2 MB or more get huge-page mappings, smaller ones come from
// operator new as with std::allocator.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding is implicit

  T* allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) return static_cast<T*>(MapHugePages(bytes));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) return UnmapHugePages(p, bytes);
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

// Owns one MapHugePages mapping.
class HugePageMapping {
 public:
  HugePageMapping() = default;
  explicit HugePageMapping(size_t bytes) : p_(MapHugePages(bytes)), bytes_(bytes) {}
  HugePageMapping(HugePageMapping&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; }
  HugePageMapping& operator=(HugePageMapping&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~HugePageMapping() {
    if (p_ != nullptr) UnmapHugePages(p_, bytes_);
  }
  void* data() const { return p_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace rappel
