// Backlog: index order, the bytes bound, what a reader can resume from.
#include "server/replication/backlog.h"

#include "gtest/gtest.h"

namespace rappel::server {
namespace {

SharedBytes Bytes(size_t n, char c) { return ShareBytes(std::string(n, c)); }

TEST(BacklogTest, KeepsOrderAndEvictsTheOldestPastItsBound) {
  Backlog b(250, 11);  // the store was at index 10
  EXPECT_TRUE(b.Holds(11));   // nothing yet, but a reader at 10 may wait
  EXPECT_FALSE(b.Holds(10));
  EXPECT_TRUE(b.ReadFrom(11, 10, 1000).empty());
  EXPECT_FALSE(b.Append(12, Bytes(100, 'x')));  // not the next index
  ASSERT_TRUE(b.Append(11, Bytes(100, 'a')));
  ASSERT_TRUE(b.Append(12, Bytes(100, 'b')));
  EXPECT_EQ(b.bytes(), 200u);
  auto two = b.ReadFrom(11, 10, 1000);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ((*two[0])[0], 'a');
  EXPECT_EQ((*two[1])[0], 'b');
  EXPECT_EQ(b.ReadFrom(11, 1, 1000).size(), 1u);   // entry limit
  EXPECT_EQ(b.ReadFrom(11, 10, 150).size(), 1u);   // byte limit
  EXPECT_EQ(b.ReadFrom(11, 10, 10).size(), 1u);    // at least one
  ASSERT_TRUE(b.Append(13, Bytes(100, 'c')));      // 300 > 250: 11 goes
  EXPECT_EQ(b.first_index(), 12u);
  EXPECT_EQ(b.next_index(), 14u);
  EXPECT_EQ(b.bytes(), 200u);
  EXPECT_FALSE(b.Holds(11));
  EXPECT_TRUE(b.ReadFrom(11, 10, 1000).empty());
  EXPECT_TRUE(b.Holds(12));
  EXPECT_TRUE(b.Holds(14));
  EXPECT_FALSE(b.Holds(15));
  ASSERT_TRUE(b.Append(14, Bytes(1000, 'd')));     // larger than the bound: kept alone
  EXPECT_EQ(b.first_index(), 14u);
  EXPECT_EQ(b.ReadFrom(14, 10, 10).size(), 1u);
}

}  // namespace
}  // namespace rappel::server
