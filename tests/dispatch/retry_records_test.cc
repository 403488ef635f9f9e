// RetryRecords on its own: the policy (backoff, its cap, max_attempts),
// the lookups before and after a commit, and recovery over a real engine
// and store in a temporary directory (the counts come back; the records of
// reminders no longer live, and malformed ones, are deleted).
#include "server/dispatch/retry_records.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::TempDir;

TEST(RetryPolicyTest, BackoffDoublesUpToItsCapAndMaxAttemptsEndsIt) {
  RetryRecords retries(RetryPolicy{3, 1000, 3500});
  EXPECT_EQ(retries.BackoffMs(1), 1000);
  EXPECT_EQ(retries.BackoffMs(2), 2000);
  EXPECT_EQ(retries.BackoffMs(3), 3500);
  EXPECT_EQ(retries.BackoffMs(200), 3500) << "the shift is bounded, the wait capped";
  EXPECT_FALSE(retries.Exhausted(2));
  EXPECT_TRUE(retries.Exhausted(3));
  EXPECT_TRUE(retries.Exhausted(4));
}

TEST(RetryRecordsTest, MemoryChangesOnlyWhenTheCommitIsDone) {
  RetryRecords retries(RetryPolicy{});
  KeyHash a = HashKey(TenantId{1}, "a");
  KeyHash b = HashKey(TenantId{1}, "b");
  EXPECT_EQ(retries.NextAttempt(a), 1u);
  EXPECT_EQ(retries.MessageIdOf(a), nullptr);
  Engine::StateWrites writes;
  EXPECT_FALSE(retries.EndIn(a, &writes)) << "nothing to end";
  EXPECT_TRUE(writes.empty());

  retries.RecordIn(a, {1, "1:a:7"}, &writes);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_FALSE(writes[0].is_delete);
  EXPECT_TRUE(writes[0].key.starts_with("rt/"));
  EXPECT_EQ(retries.NextAttempt(a), 1u) << "not before the commit";
  retries.Remember(a, {1, "1:a:7"});
  EXPECT_EQ(retries.NextAttempt(a), 2u);
  ASSERT_NE(retries.MessageIdOf(a), nullptr);
  EXPECT_EQ(*retries.MessageIdOf(a), "1:a:7");
  EXPECT_EQ(retries.NextAttempt(b), 1u);
  EXPECT_EQ(retries.size(), 1u);

  writes.clear();
  EXPECT_TRUE(retries.EndIn(a, &writes));
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_TRUE(writes[0].is_delete);
  EXPECT_TRUE(retries.Has(a)) << "not before the commit";
  retries.Forget(a);
  EXPECT_FALSE(retries.Has(a));
  EXPECT_TRUE(retries.empty());
}

TEST(RetryRecordsTest, RecoveryKeepsTheLiveAndDeletesTheRest) {
  TempDir dir;
  auto harness = std::make_unique<EngineHarness>(dir.Sub("db"));
  ASSERT_TRUE(harness->Open().ok());
  ASSERT_TRUE(harness->ScheduleOne(harness->Reminder("live", 60'000)).ok());
  KeyHash live = HashKey(TenantId{1}, "live");
  KeyHash gone = HashKey(TenantId{1}, "gone");  // never scheduled (or cancelled since)
  auto write = [&](Engine::StateWrites writes) {
    absl::Status out = absl::UnknownError("not answered");
    bool done = false;
    harness->engine().WriteState(std::move(writes), [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(harness->queue.RunUntil([&] { return done; }));
    return out;
  };
  {
    RetryRecords retries(RetryPolicy{});
    Engine::StateWrites writes;
    retries.RecordIn(live, {2, "1:live:1"}, &writes);
    retries.RecordIn(gone, {1, "1:gone:1"}, &writes);
    writes.push_back({"rt/short", "x", false});  // not a well-formed record
    ASSERT_TRUE(write(std::move(writes)).ok());
  }
  for (size_t expect_stale : {2u, 0u}) {
    harness->Close();
    ASSERT_TRUE(harness->Open().ok());
    RetryRecords retries(RetryPolicy{});
    Engine::StateWrites stale;
    {
      auto reader = harness->engine().store().NewReader();
      ASSERT_TRUE(reader.ok());
      ASSERT_TRUE(retries.Recover(*reader, harness->engine(), &stale).ok());
    }
    EXPECT_EQ(stale.size(), expect_stale);
    EXPECT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries.NextAttempt(live), 3u);
    ASSERT_NE(retries.MessageIdOf(live), nullptr);
    EXPECT_EQ(*retries.MessageIdOf(live), "1:live:1");
    EXPECT_FALSE(retries.Has(gone));
    if (!stale.empty()) {
      ASSERT_TRUE(write(std::move(stale)).ok());
    }
  }
  harness->Close();
}

}  // namespace
}  // namespace rappel::server
