// PrefetchLine: asks the CPU to bring the cache line holding `p` closer,
// without waiting for it. For batches that look up many random places: the
// misses of the next items overlap with the work on the current one.
//
// On x86-64 it is the prefetcht0 instruction itself: GCC 12 drops a
// __builtin_prefetch it reaches only through a branch it considers
// side-effect free (a hash-set probe that only prefetches), which is
// exactly where it is wanted here.
#pragma once

namespace rappel {

inline void PrefetchLine(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace rappel
