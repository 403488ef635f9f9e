#include "server/common/huge_pages.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>

namespace rappel {
namespace {

std::atomic<bool> advised{true};

size_t RoundUp(size_t bytes) { return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1); }

}  // namespace

void* MapHugePages(size_t bytes) {
  size_t size = RoundUp(bytes);
  // mmap aligns to 4 KB only: map 2 MB more and trim both ends.
  void* raw = mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  size_t tail = (start + size + kHugePageBytes) - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  // Fails (EINVAL) on a kernel without transparent huge pages: 4 KB pages.
  if (advised.load(std::memory_order_relaxed)) {
    madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  }
  return reinterpret_cast<void*>(aligned);
}

void UnmapHugePages(void* p, size_t bytes) { munmap(p, RoundUp(bytes)); }

void SetHugePagesAdvised(bool on) { advised.store(on, std::memory_order_relaxed); }

}  // namespace rappel
