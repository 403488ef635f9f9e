// DeadLetters on its own, over a real engine and store in a temporary
// directory: the order (all tenants, one tenant), the bound, a key that
// dies again, the index following commits only, recovery (including two
// records of one key), and replay.
#include "server/dispatch/dead_letters.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::TempDir;
using KeyList = std::vector<std::string>;

class DeadLettersTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open() {
    harness_ = std::make_unique<EngineHarness>(dir_.Sub("db"));
    harness_->clock.Set(now_ms_);
    ASSERT_TRUE(harness_->Open().ok());
    letters_ = std::make_unique<DeadLetters>(&harness_->engine(), max_);
    Engine::StateWrites stale;
    {
      auto reader = harness_->engine().store().NewReader();
      ASSERT_TRUE(reader.ok());
      ASSERT_TRUE(letters_->Recover(*reader, &stale).ok());
    }
    stale_ = stale.size();
    if (!stale.empty()) {
      ASSERT_TRUE(Write(std::move(stale)).ok());
    }
  }
  void Close() {
    if (!harness_) return;
    now_ms_ = harness_->clock.now_ms();
    letters_.reset();
    harness_->Close();
    harness_.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  absl::Status Write(Engine::StateWrites writes) {
    absl::Status out = absl::UnknownError("not answered");
    bool done = false;
    harness_->engine().WriteState(std::move(writes), [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(harness_->queue.RunUntil([&] { return done; }));
    return out;
  }
  DeadLetter Letter(const std::string& key, uint32_t tenant, const std::string& detail) {
    return DeadLetter{harness_->Reminder(key, 0, "hello " + key, tenant), 2, detail,
                      harness_->clock.now_ms()};
  }
  // Adds a dead letter as the dispatcher does: its writes in one commit,
  // the index once that is durable.
  void Kill(const std::string& key, uint32_t tenant = 1, const std::string& detail = "failed") {
    DeadLetter letter = Letter(key, tenant, detail);
    Engine::StateWrites writes;
    DeadLetters::Added added = letters_->Add(HashKey(TenantId{tenant}, key), letter, &writes);
    ASSERT_TRUE(Write(std::move(writes)).ok());
    letters_->Committed(added);
  }
  std::vector<std::string> Keys(std::optional<TenantId> tenant = std::nullopt, size_t limit = 100) {
    auto list = letters_->List(tenant, limit);
    EXPECT_TRUE(list.ok()) << list.status();
    std::vector<std::string> keys;
    if (list.ok()) {
      for (const DeadLetter& d : *list) keys.push_back(d.reminder.key);
    }
    return keys;
  }
  absl::Status Replay(const std::string& key, uint32_t tenant = 1) {
    absl::Status out = absl::UnknownError("not answered");
    bool done = false;
    letters_->Replay({TenantId{tenant}, key}, harness_->clock.now_ms(), [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(harness_->queue.RunUntil([&] { return done; }));
    return out;
  }

  TempDir dir_;
  int64_t now_ms_ = 1'700'000'000'000;
  size_t max_ = 0;
  size_t stale_ = 0;  // deletes the last Recover asked for
  std::unique_ptr<EngineHarness> harness_;
  std::unique_ptr<DeadLetters> letters_;
};

TEST_F(DeadLettersTest, OldestFirstForAllTenantsAndForOneAcrossAReopen) {
  Kill("t1-a", 1);
  harness_->clock.Advance(10);
  Kill("t2-a", 2);
  harness_->clock.Advance(10);
  int64_t b_at = harness_->clock.now_ms();
  Kill("t1-b", 1, "no such number");
  harness_->clock.Advance(10);
  Kill("t1-c", 1);
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ(Keys(), (KeyList{"t1-a", "t2-a", "t1-b", "t1-c"}));
    EXPECT_EQ(Keys(TenantId{1}, 2), (KeyList{"t1-a", "t1-b"}));
    EXPECT_EQ(Keys(TenantId{2}), (KeyList{"t2-a"}));
    EXPECT_TRUE(Keys(TenantId{3}).empty());
    EXPECT_EQ(Keys(std::nullopt, 1), (KeyList{"t1-a"}));
    EXPECT_TRUE(Keys(std::nullopt, 0).empty());
    EXPECT_EQ(letters_->size(), 4u);
    EXPECT_EQ(letters_->of(TenantId{1}), 3u);
    EXPECT_EQ(letters_->of(TenantId{2}), 1u);
    EXPECT_EQ(letters_->of(TenantId{3}), 0u);
    auto list = letters_->List(TenantId{1}, 100);
    ASSERT_TRUE(list.ok());
    const DeadLetter& b = (*list)[1];
    EXPECT_EQ(b.last_detail, "no such number");
    EXPECT_EQ(b.attempts, 2u);
    EXPECT_EQ(b.dead_at_ms, b_at);
    EXPECT_EQ(b.reminder.payload, "hello t1-b");
    EXPECT_EQ(stale_, 0u);
    Reopen();  // the second pass reads what Recover rebuilt
  }
}

TEST_F(DeadLettersTest, TheBoundDropsTheOldestInTheSameCommitDurably) {
  Close();
  max_ = 2;
  Open();
  Kill("a");
  harness_->clock.Advance(10);
  Kill("b");
  harness_->clock.Advance(10);
  Kill("c");
  EXPECT_EQ(letters_->dropped(), 1u);
  EXPECT_EQ(letters_->size(), 2u);
  EXPECT_EQ(Keys(), (KeyList{"b", "c"}));
  // A key dying again replaces its letter: nothing else is dropped.
  harness_->clock.Advance(10);
  Kill("b", 1, "again");
  EXPECT_EQ(letters_->dropped(), 1u);
  EXPECT_EQ(Keys(), (KeyList{"c", "b"}));
  Reopen();
  EXPECT_EQ(Keys(), (KeyList{"c", "b"}));
  EXPECT_EQ(letters_->size(), 2u);
  EXPECT_EQ(letters_->dropped(), 0u) << "a count since start";
}

TEST_F(DeadLettersTest, AKeyThatDiesAgainReplacesItsOlderLetter) {
  Kill("a", 1, "first");
  harness_->clock.Advance(10);
  Kill("a", 1, "second");
  auto list = letters_->List(std::nullopt, 100);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].last_detail, "second");
  Reopen();
  list = letters_->List(TenantId{1}, 100);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].last_detail, "second");
  EXPECT_EQ(stale_, 0u);
}

TEST_F(DeadLettersTest, TheIndexFollowsTheCommitAndRecoveryKeepsTheNewerOfTwo) {
  // Two letters of one key written by two commits that raced: the second
  // Add did not see the first (not yet Committed).
  Engine::StateWrites first;
  Engine::StateWrites second;
  KeyHash hash = HashKey(TenantId{1}, "a");
  letters_->Add(hash, Letter("a", 1, "older"), &first);
  EXPECT_EQ(letters_->size(), 0u) << "nothing in memory before the commit";
  harness_->clock.Advance(10);
  letters_->Add(hash, Letter("a", 1, "newer"), &second);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_TRUE(Write(std::move(first)).ok());
  ASSERT_TRUE(Write(std::move(second)).ok());
  Reopen();
  EXPECT_EQ(stale_, 1u) << "the older record is deleted";
  EXPECT_EQ(letters_->size(), 1u);
  auto list = letters_->List(TenantId{1}, 100);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u) << "the older record is gone from the store";
  EXPECT_EQ((*list)[0].last_detail, "newer");
  Reopen();
  EXPECT_EQ(stale_, 0u);
}

TEST_F(DeadLettersTest, ReplaySchedulesItDueNowAndDeletesItInOneCommit) {
  Kill("a");
  Kill("b", 2);
  harness_->clock.Advance(5000);
  int64_t replayed_at = harness_->clock.now_ms();
  ASSERT_TRUE(Replay("a").ok());
  EXPECT_TRUE(absl::IsNotFound(Replay("a")));
  EXPECT_TRUE(absl::IsNotFound(Replay("nothing")));
  EXPECT_EQ(Keys(), (KeyList{"b"}));
  EXPECT_EQ(letters_->of(TenantId{1}), 0u);
  Reopen();
  EXPECT_EQ(Keys(), (KeyList{"b"}));
  auto state = harness_->Inspect(1, "a");
  ASSERT_TRUE(state.has_value()) << "pending again";
  harness_->PollNow();
  ASSERT_EQ(harness_->sink.fired.size(), 1u);
  EXPECT_EQ(harness_->sink.fired[0].reminder.key, "a");
  EXPECT_EQ(harness_->sink.fired[0].reminder.payload, "hello a");
  EXPECT_EQ(harness_->sink.fired[0].reminder.due_ms, replayed_at);
}

}  // namespace
}  // namespace rappel::server
