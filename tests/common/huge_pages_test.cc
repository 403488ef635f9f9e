#include "server/common/huge_pages.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace rappel {
namespace {

// The VmFlags of the mapping holding `p` (/proc/self/smaps), or nullopt.
std::optional<std::string> VmFlagsOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= addr && addr < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return std::nullopt;
}

// "hg" is the kernel's mark of MADV_HUGEPAGE on a mapping, whatever the
// system-wide THP mode; a kernel built without THP refuses the advice.
TEST(HugePagesTest, MappingsAreAdvisedUnlessTurnedOff) {
  HugePageMapping on(kHugePageBytes);
  auto flags = VmFlagsOf(on.data());
  ASSERT_TRUE(flags.has_value());
  if (flags->find(" hg") == std::string::npos) {
    GTEST_SKIP() << "this kernel has no transparent huge pages: " << *flags;
  }
  SetHugePagesAdvised(false);
  HugePageMapping off(kHugePageBytes);
  SetHugePagesAdvised(true);
  flags = VmFlagsOf(off.data());
  ASSERT_TRUE(flags.has_value());
  EXPECT_EQ(flags->find(" hg"), std::string::npos) << *flags;
}

TEST(HugePagesTest, MappingIsAlignedZeroedAndWritableToItsEnd) {
  // Not a multiple of 2 MB: the mapping is rounded up, the caller sees bytes.
  constexpr size_t kBytes = 3 * kHugePageBytes + 12345;
  HugePageMapping m(kBytes);
  auto* p = static_cast<unsigned char*>(m.data());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u);
  for (size_t i = 0; i < kBytes; i += 4096) ASSERT_EQ(p[i], 0) << i;
  EXPECT_EQ(p[kBytes - 1], 0);
  std::memset(p, 0xAB, kBytes);
  EXPECT_EQ(p[kBytes - 1], 0xAB);
}

TEST(HugePagesTest, MappingMovesOwnership) {
  HugePageMapping a(kHugePageBytes);
  void* p = a.data();
  HugePageMapping b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT: checking the moved-from state
  HugePageMapping c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  static_cast<int*>(c.data())[0] = 7;
  EXPECT_EQ(static_cast<int*>(p)[0], 7);
}

TEST(HugePagesTest, AllocatorServesSmallAndHugeRequests) {
  HugePageAllocator<uint64_t> alloc;
  uint64_t* small = alloc.allocate(16);
  uint64_t* huge = alloc.allocate(kHugePageBytes / sizeof(uint64_t) + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(huge) % kHugePageBytes, 0u);
  small[15] = 1;
  huge[kHugePageBytes / sizeof(uint64_t)] = 2;
  EXPECT_EQ(small[15] + huge[kHugePageBytes / sizeof(uint64_t)], 3u);
  alloc.deallocate(small, 16);
  alloc.deallocate(huge, kHugePageBytes / sizeof(uint64_t) + 1);
}

TEST(HugePagesTest, HashSetGrowsThroughHugeMappings) {
  // ~1 M entries: the backing array passes 2 MB and is rehashed into huge
  // mappings several times; every element must survive each move.
  absl::flat_hash_set<uint32_t, absl::Hash<uint32_t>, std::equal_to<uint32_t>,
                      HugePageAllocator<uint32_t>>
      set;
  constexpr uint32_t kCount = 1 << 20;
  for (uint32_t i = 0; i < kCount; ++i) set.insert(i * 7);
  ASSERT_EQ(set.size(), kCount);
  for (uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(set.contains(i * 7)) << i;
  EXPECT_FALSE(set.contains(1));
  for (uint32_t i = 0; i < kCount; i += 2) set.erase(i * 7);
  EXPECT_EQ(set.size(), kCount / 2);
  EXPECT_TRUE(set.contains(7));
  EXPECT_FALSE(set.contains(14));
}

}  // namespace
}  // namespace rappel
