// The store's replication side: the commit hook of a primary (positions,
// held completions, the position written in the same transaction) and
// SubmitGroup of a standby (one transaction per received group).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/store/commit_hook.h"
#include "server/store/store.h"
#include "tests/testing/recording_commit_hook.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::RecordingHook;
using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

class StoreReplTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(StoreOptions options = {}) {
    if (options.path.empty()) options.path = dir_.Sub("db");
    auto store = Store::Open(options, queue_.Poster());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static std::shared_ptr<WriteBatch> Records(SeqNo first, int n, size_t size = 100) {
    auto b = std::make_shared<WriteBatch>();
    for (int i = 0; i < n; ++i) b->Append(first + i, std::string(size, 'a' + (first + i) % 26));
    return b;
  }

  static ReplPos PosOf(Store& store) {
    auto reader = store.NewReader();
    EXPECT_TRUE(reader.ok());
    auto pos = reader->GetReplPos();
    EXPECT_TRUE(pos.ok()) << pos.status();
    return pos.ok() ? *pos : ReplPos{999, 999};
  }
  static std::vector<ReplPos> TermsOf(Store& store) {
    auto reader = store.NewReader();
    EXPECT_TRUE(reader.ok());
    auto terms = reader->GetReplTerms();
    EXPECT_TRUE(terms.ok()) << terms.status();
    return terms.ok() ? *terms : std::vector<ReplPos>{};
  }

  absl::Status SubmitGroupAndWait(Store& store, uint64_t epoch,
                                  std::vector<std::shared_ptr<const WriteBatch>> group,
                                  ReplPos pos) {
    absl::Status result = absl::UnknownError("not run");
    bool done = false;
    store.SubmitGroup(epoch, std::move(group), pos, [&](absl::Status st) {
      result = st;
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return result;
  }

  TempDir dir_;
  TaskQueue queue_;
};

TEST_F(StoreReplTest, AStoreWithoutReplicationHasPositionZero) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  bool done = false;
  store->Submit(1, Records(1, 10), [&](absl::Status st) {
    EXPECT_TRUE(st.ok()) << st;
    done = true;
  });
  ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  EXPECT_EQ(PosOf(*store), (ReplPos{0, 0}));
  EXPECT_TRUE(TermsOf(*store).empty());
}

TEST_F(StoreReplTest, HookNumbersEveryGroupInOrderAndThePositionIsDurable) {
  RecordingHook hook(&queue_, 3, 1, /*release_at_once=*/true);
  StoreOptions options;
  options.hook = &hook;
  options.max_records_per_commit = 50;  // several groups
  constexpr int kBatches = 400;
  std::vector<std::shared_ptr<const WriteBatch>> submitted;
  std::vector<int> answered;
  {
    auto store = Open(options);
    ASSERT_NE(store, nullptr);
    SeqNo next = 1;
    for (int i = 0; i < kBatches; ++i) {
      auto b = Records(next, 1 + i % 7);
      next += 1 + i % 7;
      b->PutState("k" + std::to_string(i % 13), std::to_string(i));
      submitted.push_back(b);
      store->Submit(1, b, [&answered, i](absl::Status st) {
        EXPECT_TRUE(st.ok()) << st;
        answered.push_back(i);
      });
    }
    ASSERT_TRUE(queue_.RunUntil([&] { return answered.size() == kBatches; }));
    auto positions = hook.positions();
    ASSERT_GT(positions.size(), 2u);  // group commit made several transactions
    for (size_t i = 0; i < positions.size(); ++i) {
      EXPECT_EQ(positions[i], (ReplPos{3, i + 1}));
    }
    EXPECT_EQ(hook.batches(), submitted);  // every batch, in commit order
    for (int i = 0; i < kBatches; ++i) EXPECT_EQ(answered[i], i);
    EXPECT_EQ(PosOf(*store), positions.back());
    EXPECT_EQ(TermsOf(*store), (std::vector<ReplPos>{{3, 1}}));
  }
  uint64_t last = hook.positions().back().index;
  // Reopened (a standby-less restart): the position is what was committed.
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(PosOf(*store), (ReplPos{3, last}));
  }
  // A new term extends the history with its first index.
  RecordingHook next_term(&queue_, 4, last + 1, true);
  options.hook = &next_term;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  bool done = false;
  store->Submit(1, Records(1'000'000, 1), [&](absl::Status) { done = true; });
  ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  EXPECT_EQ(PosOf(*store), (ReplPos{4, last + 1}));
  EXPECT_EQ(TermsOf(*store), (std::vector<ReplPos>{{3, 1}, {4, last + 1}}));
}

TEST_F(StoreReplTest, CompletionsWaitUntilTheHookReleasesThem) {
  RecordingHook hook(&queue_, 1, 1, /*release_at_once=*/false);
  StoreOptions options;
  options.hook = &hook;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  int answered = 0;
  for (int i = 0; i < 3; ++i) {
    store->Submit(1, Records(1 + i, 1), [&](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      ++answered;
    });
  }
  // Committed (durable, positioned) but not answered.
  for (int i = 0; i < 3000 && hook.batches().size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(hook.batches().size(), 3u);
  EXPECT_FALSE(queue_.RunUntil([&] { return answered > 0; }, std::chrono::milliseconds(200)));
  EXPECT_EQ(PosOf(*store), (ReplPos{1, hook.committed_groups()}));
  hook.Release();
  EXPECT_TRUE(queue_.RunUntil([&] { return answered == 3; }));
}

TEST_F(StoreReplTest, AFailedCommitUsesNoPositionAndItsErrorsGoThroughTheHook) {
  RecordingHook hook(&queue_, 2, 10, /*release_at_once=*/false);
  StoreOptions options;
  options.hook = &hook;
  options.initial_map_bytes = 1 << 20;
  options.max_map_bytes = 2 << 20;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  std::vector<absl::Status> results;
  // Submitted and committed, held by the hook; then a batch too big for the
  // map fails its commit.
  store->Submit(1, Records(1, 10), [&](absl::Status st) { results.push_back(st); });
  for (int i = 0; i < 3000 && hook.committed_groups() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(hook.committed_groups(), 1u);
  store->Submit(1, Records(11, 40, 100'000), [&](absl::Status st) { results.push_back(st); });
  for (int i = 0; i < 10000 && hook.refused() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(hook.refused(), 1);
  // The error waits behind the held OK: completions keep submission order.
  EXPECT_FALSE(queue_.RunUntil([&] { return !results.empty(); }, std::chrono::milliseconds(100)));
  hook.Release();
  ASSERT_TRUE(queue_.RunUntil([&] { return results.size() == 2; }));
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_TRUE(absl::IsResourceExhausted(results[1])) << results[1];
  EXPECT_EQ(hook.positions(), (std::vector<ReplPos>{{2, 10}}));
  EXPECT_EQ(PosOf(*store), (ReplPos{2, 10}));
  // The next commit gets the position the failed one did not use.
  store->Submit(2, Records(11, 1), [&](absl::Status st) { results.push_back(st); });
  for (int i = 0; i < 3000 && hook.committed_groups() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  hook.Release();
  ASSERT_TRUE(queue_.RunUntil([&] { return results.size() == 3; }));
  EXPECT_TRUE(results[2].ok()) << results[2];
  EXPECT_EQ(hook.positions(), (std::vector<ReplPos>{{2, 10}, {2, 11}}));
}

TEST_F(StoreReplTest, SubmitGroupAppliesEveryOpKindAndRecordsThePosition) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    auto a = Records(1, 5);
    a->PutState("src", "v1");
    a->PutState("gone", "x");
    auto b = std::make_shared<WriteBatch>();
    b->DeleteLogRange(2, 4);
    b->DeleteState("gone");
    WriteBatch::StateOp copy{"dst", "", false};
    copy.copy_from = "src";
    b->AddStateOps({copy});
    b->PutState("r1", "1");
    b->PutState("r2", "2");
    auto c = Records(6, 1);
    c->DeleteStateRange("r1", "r3");
    ASSERT_TRUE(SubmitGroupAndWait(*store, 1, {a, b, c}, {5, 42}).ok());
    // The empty group (a primary transaction that wrote nothing) moves the
    // position too.
    ASSERT_TRUE(SubmitGroupAndWait(*store, 1, {}, {5, 43}).ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(PosOf(*store), (ReplPos{5, 43}));
  EXPECT_EQ(TermsOf(*store), (std::vector<ReplPos>{{5, 42}}));
  auto reader = store->NewReader();
  ASSERT_TRUE(reader.ok());
  std::vector<SeqNo> seqs;
  ASSERT_TRUE(reader
                  ->ScanLog(1,
                            [&](SeqNo s, std::string_view) {
                              seqs.push_back(s);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<SeqNo>{1, 4, 5, 6}));
  EXPECT_EQ(reader->GetState("dst")->value_or(""), "v1");
  EXPECT_FALSE(reader->GetState("gone")->has_value());
  EXPECT_FALSE(reader->GetState("r1")->has_value());
  EXPECT_FALSE(reader->GetState("r2")->has_value());
}

// Received groups queued together share transactions; the term history
// still names the first group of each term.
TEST_F(StoreReplTest, TermHistoryNamesTheFirstGroupOfEachTermWhateverTheTransactions) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<ReplPos> positions = {{1, 1}, {1, 2}, {2, 3}, {2, 4}, {2, 5}, {5, 6}, {5, 7}};
  // A large first group keeps the writer busy while the others queue up.
  int applied = -1;
  store->SubmitGroup(1, {Records(1, 2000, 10'000)}, {1, 1}, [&](absl::Status st) {
    EXPECT_TRUE(st.ok()) << st;
    ++applied;
  });
  for (size_t i = 1; i < positions.size(); ++i) {
    store->SubmitGroup(1, {Records(10'000 + 10 * i, 2)}, positions[i], [&](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      ++applied;
    });
  }
  ASSERT_TRUE(queue_.RunUntil([&] { return applied == 6; }));
  EXPECT_EQ(PosOf(*store), (ReplPos{5, 7}));
  EXPECT_EQ(TermsOf(*store), (std::vector<ReplPos>{{1, 1}, {2, 3}, {5, 6}}));
  EXPECT_LT(store->stats().commits, 7u);  // groups did share transactions
}

TEST_F(StoreReplTest, AGroupIsOneTransactionEvenPastTheRecordLimit) {
  StoreOptions options;
  options.max_records_per_commit = 1;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  std::vector<std::shared_ptr<const WriteBatch>> group;
  for (int i = 0; i < 6; ++i) group.push_back(Records(1 + 3 * i, 3));
  uint64_t commits_before = store->stats().commits;
  ASSERT_TRUE(SubmitGroupAndWait(*store, 1, group, {1, 1}).ok());
  auto stats = store->stats();
  EXPECT_EQ(stats.commits, commits_before + 1);
  EXPECT_EQ(stats.last_group_batches, 6u);
  EXPECT_EQ(stats.log_entries, 18u);
}

TEST_F(StoreReplTest, AFailedGroupLeavesThePositionAndTheDataUnchanged) {
  StoreOptions options;
  options.initial_map_bytes = 1 << 20;
  options.max_map_bytes = 4 << 20;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  SeqNo next = 1;
  uint64_t index = 0;
  uint64_t acknowledged = 0;
  absl::Status st;
  for (;;) {
    // Small batches first, a large one last: a split group would leave the
    // small ones written.
    std::vector<std::shared_ptr<const WriteBatch>> group;
    for (int i = 0; i < 4; ++i) group.push_back(Records(next + i, 1));
    group.push_back(Records(next + 4, 100, 2000));
    st = SubmitGroupAndWait(*store, 1, group, {1, index + 1});
    if (!st.ok()) break;
    next += 104;
    ++index;
    acknowledged += 104;
    ASSERT_LT(index, 10'000u) << "the map never filled";
  }
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_EQ(PosOf(*store), (ReplPos{1, index}));
  EXPECT_EQ(store->stats().log_entries, acknowledged);
  auto reader = store->NewReader();
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(absl::IsNotFound(reader->GetLog(next).status()));
}

}  // namespace
}  // namespace rappel::server
