#include "server/net/partial_frame_budget.h"

#include <gtest/gtest.h>

#include <vector>

namespace rappel::server {
namespace {

TEST(PartialFrameBudgetTest, GrantsWithinTheLimit) {
  PartialFrameBudget budget(10);
  EXPECT_TRUE(budget.Take(1, 4, {}));
  EXPECT_TRUE(budget.Take(1, 2, {}));
  EXPECT_TRUE(budget.Take(2, 4, {}));
  EXPECT_EQ(budget.held_bytes(), 10u);
  EXPECT_EQ(budget.holders(), 2u);
  budget.Release(1);
  EXPECT_EQ(budget.held_bytes(), 4u);
  budget.Release(1);  // unknown now: no-op
  EXPECT_EQ(budget.held_bytes(), 4u);
}

TEST(PartialFrameBudgetTest, EvictsNewerHoldersForAnOlderOne) {
  PartialFrameBudget budget(10);
  std::vector<uint64_t> evicted;
  auto evict = [&evicted](uint64_t id) { return [&evicted, id] { evicted.push_back(id); }; };
  ASSERT_TRUE(budget.Take(1, 4, evict(1)));
  ASSERT_TRUE(budget.Take(3, 2, evict(3)));
  ASSERT_TRUE(budget.Take(4, 2, evict(4)));
  // Holder 2 needs 5: 4 and then 3 go (newest first), 1 stays.
  EXPECT_TRUE(budget.Take(2, 5, evict(2)));
  EXPECT_EQ(evicted, (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(budget.held_bytes(), 9u);
  EXPECT_EQ(budget.holders(), 2u);
  EXPECT_EQ(budget.evictions(), 2u);
  // An evicted holder is forgotten: its release gives nothing back twice.
  budget.Release(3);
  EXPECT_EQ(budget.held_bytes(), 9u);
}

TEST(PartialFrameBudgetTest, RefusesTheNewestInsteadOfClosingOlderOnes) {
  PartialFrameBudget budget(10);
  int evictions = 0;
  auto count = [&evictions] { ++evictions; };
  ASSERT_TRUE(budget.Take(1, 4, count));
  ASSERT_TRUE(budget.Take(2, 4, count));
  ASSERT_TRUE(budget.Take(5, 1, count));
  // Holder 5 asks 2 more: it is the newest, so it is refused and forgotten
  // with its 1; nobody older is evicted.
  EXPECT_FALSE(budget.Take(5, 2, count));
  EXPECT_EQ(evictions, 0);
  EXPECT_EQ(budget.held_bytes(), 8u);
  EXPECT_EQ(budget.holders(), 2u);
  // More than the whole limit is refused even for the only holder.
  budget.Release(1);
  budget.Release(2);
  EXPECT_FALSE(budget.Take(9, 11, count));
  EXPECT_EQ(budget.held_bytes(), 0u);
  EXPECT_EQ(budget.holders(), 0u);
}

TEST(PartialFrameBudgetTest, EvictsOnlyAsManyAsNeeded) {
  PartialFrameBudget budget(10);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 10; id < 15; ++id) {
    ASSERT_TRUE(budget.Take(id, 2, [&evicted, id] { evicted.push_back(id); }));
  }
  EXPECT_TRUE(budget.Take(11, 3, {}));  // needs 3: 14 and 13 go (2 + 2)
  EXPECT_EQ(evicted, (std::vector<uint64_t>{14, 13}));
  EXPECT_EQ(budget.held_bytes(), 9u);
}

}  // namespace
}  // namespace rappel::server
