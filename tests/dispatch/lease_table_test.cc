// LeaseTable: ids in order, lookups by index, holes dropped from the front,
// deadlines kept in order when the clock steps back.
#include "server/dispatch/lease_table.h"

#include <vector>

#include "gtest/gtest.h"

namespace rappel::server {
namespace {

TEST(LeaseTableTest, FindsEraseAndDropsHolesFromTheFront) {
  LeaseTable t;
  EXPECT_FALSE(t.Oldest().has_value());
  EXPECT_EQ(t.Find(1), LeaseTable::kNone);
  std::vector<uint64_t> ids;
  for (uint32_t slot = 10; slot < 15; ++slot) {
    int64_t deadline = 1000 + slot;
    ids.push_back(t.Add(slot, &deadline));
    EXPECT_EQ(deadline, 1000 + slot);
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(t.Find(3), 12u);
  EXPECT_EQ(t.Find(0), LeaseTable::kNone);
  EXPECT_EQ(t.Find(6), LeaseTable::kNone);

  t.Erase(2);  // a hole in the middle stays
  EXPECT_EQ(t.Find(2), LeaseTable::kNone);
  EXPECT_EQ(t.Oldest(), std::make_pair(uint64_t{1}, int64_t{1010}));
  t.Erase(1);  // the front, and the hole behind it, go
  EXPECT_EQ(t.Oldest(), std::make_pair(uint64_t{3}, int64_t{1012}));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Find(4), 13u);

  std::vector<std::pair<uint64_t, uint32_t>> seen;
  t.ForEach([&](uint64_t id, uint32_t slot) { seen.emplace_back(id, slot); });
  EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, uint32_t>>{{3, 12}, {4, 13}, {5, 14}}));

  t.Erase(5);
  t.Erase(4);
  t.Erase(3);
  EXPECT_TRUE(t.empty());
  EXPECT_FALSE(t.Oldest().has_value());
  // Ids go on from where they were, never reused.
  int64_t deadline = 2000;
  EXPECT_EQ(t.Add(7, &deadline), 6u);
  EXPECT_EQ(t.Find(6), 7u);
  EXPECT_EQ(t.Find(5), LeaseTable::kNone);
  EXPECT_EQ(t.Oldest(), std::make_pair(uint64_t{6}, int64_t{2000}));
}

TEST(LeaseTableTest, ALaterLeaseNeverGetsAnEarlierDeadline) {
  LeaseTable t;
  int64_t first = 5000;
  t.Add(1, &first);
  int64_t stepped_back = 4000;  // the clock went back
  uint64_t id = t.Add(2, &stepped_back);
  EXPECT_EQ(stepped_back, 5000);
  t.Erase(1);
  EXPECT_EQ(t.Oldest(), std::make_pair(id, int64_t{5000}));
}

}  // namespace
}  // namespace rappel::server
