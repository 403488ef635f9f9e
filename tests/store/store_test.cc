#include "server/store/store.h"

#include <lmdb.h>
#include <sys/mount.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(StoreOptions options = {}) {
    if (options.path.empty()) options.path = dir_.Sub("db");
    auto store = Store::Open(options, queue_.Poster());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Submits and waits for the completion.
  absl::Status SubmitAndWait(Store& store, uint64_t epoch, std::shared_ptr<WriteBatch> b) {
    absl::Status result = absl::UnknownError("not run");
    bool done = false;
    store.Submit(epoch, std::move(b), [&](absl::Status st) {
      result = st;
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return result;
  }

  // A batch of one state copy: `to` gets `from`'s value at write time (or
  // `fallback`'s when `from` is not there).
  static std::shared_ptr<WriteBatch> CopyState(std::string to, std::string from,
                                               std::string fallback = "") {
    WriteBatch::StateOp op{std::move(to), "", false};
    op.copy_from = std::move(from);
    op.copy_fallback = std::move(fallback);
    auto b = std::make_shared<WriteBatch>();
    b->AddStateOps({op});
    return b;
  }
  // The state value of `key` as a new reader sees it ("" when absent).
  static std::string StateOf(Store& store, const std::string& key) {
    auto reader = store.NewReader();
    EXPECT_TRUE(reader.ok());
    return reader.ok() ? reader->GetState(key)->value_or("") : "";
  }

  static std::shared_ptr<WriteBatch> Records(SeqNo first, int n, size_t size = 200) {
    auto b = std::make_shared<WriteBatch>();
    for (int i = 0; i < n; ++i) {
      b->Append(first + i, std::string(size, static_cast<char>('a' + (first + i) % 26)));
    }
    return b;
  }

  TempDir dir_;
  TaskQueue queue_;
};

TEST_F(StoreTest, AppendsAreReadableInOrderAfterReopen) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->next_seq_at_open(), 1u);
    ASSERT_TRUE(SubmitAndWait(*store, 1, Records(1, 100)).ok());
    ASSERT_TRUE(SubmitAndWait(*store, 1, Records(101, 50)).ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->next_seq_at_open(), 151u);
  auto reader = store->NewReader();
  ASSERT_TRUE(reader.ok());
  SeqNo expected = 1;
  ASSERT_TRUE(reader
                  ->ScanLog(1,
                            [&](SeqNo seq, std::string_view bytes) {
                              EXPECT_EQ(seq, expected);
                              EXPECT_EQ(bytes, std::string(200, 'a' + seq % 26));
                              ++expected;
                              return true;
                            })
                  .ok());
  EXPECT_EQ(expected, 151u);
  auto one = reader->GetLog(42);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::string(200, 'a' + 42 % 26));
  EXPECT_TRUE(absl::IsNotFound(reader->GetLog(1000).status()));
}

// GetLog keeps one cursor per reader, renewed for the next reader: each
// reader still sees its own snapshot, in any order of reads.
TEST_F(StoreTest, GetLogThroughAReusedCursorSeesEachReadersSnapshot) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(SubmitAndWait(*store, 1, Records(1, 500)).ok());
  {
    auto reader = store->NewReader();
    ASSERT_TRUE(reader.ok());
    for (SeqNo seq : {SeqNo{1}, SeqNo{2}, SeqNo{300}, SeqNo{299}, SeqNo{500}, SeqNo{7}}) {
      auto bytes = reader->GetLog(seq);
      ASSERT_TRUE(bytes.ok()) << seq;
      EXPECT_EQ(*bytes, std::string(200, static_cast<char>('a' + seq % 26))) << seq;
    }
    EXPECT_TRUE(absl::IsNotFound(reader->GetLog(501).status()));
    EXPECT_TRUE(reader->GetLog(250).ok()) << "a miss leaves the cursor usable";
  }
  ASSERT_TRUE(SubmitAndWait(*store, 1, Records(501, 10)).ok());
  auto reader = store->NewReader();
  ASSERT_TRUE(reader.ok());
  auto bytes = reader->GetLog(505);
  ASSERT_TRUE(bytes.ok()) << "the renewed cursor reads the new snapshot";
  EXPECT_EQ(*bytes, std::string(200, static_cast<char>('a' + 505 % 26)));
  ASSERT_TRUE(reader->GetLog(3).ok());
}

TEST_F(StoreTest, CompletionsRunInSubmissionOrderAndGroup) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<int> order;
  const int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) {
    store->Submit(1, Records(1 + i * 10, 10), [&order, i](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      order.push_back(i);
    });
  }
  ASSERT_TRUE(queue_.RunUntil([&] { return order.size() == kBatches; }));
  for (int i = 0; i < kBatches; ++i) EXPECT_EQ(order[i], i);
  StoreStats stats = store->stats();
  EXPECT_EQ(stats.batches_committed, static_cast<uint64_t>(kBatches));
  EXPECT_EQ(stats.records_appended, static_cast<uint64_t>(kBatches * 10));
  EXPECT_LE(stats.commits, stats.batches_committed);
  EXPECT_EQ(stats.log_entries, static_cast<uint64_t>(kBatches * 10));
}

TEST_F(StoreTest, StateAndRangeDeleteAndNextSeqSurviveEmptyLog) {
  {
    auto store = Open();
    auto b = Records(1, 10);
    b->PutState("tenant/1", "paris");
    ASSERT_TRUE(SubmitAndWait(*store, 1, b).ok());
    auto del = std::make_shared<WriteBatch>();
    del->DeleteLogRange(1, 11);
    del->DeleteState("missing");
    ASSERT_TRUE(SubmitAndWait(*store, 1, del).ok());
    EXPECT_EQ(store->stats().log_entries, 0u);
  }
  auto store = Open();
  // The log is empty, yet sequence numbers are never reused.
  EXPECT_EQ(store->next_seq_at_open(), 11u);
  auto reader = store->NewReader();
  auto v = reader->GetState("tenant/1");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "paris");
  EXPECT_FALSE(reader->GetState("tenant/2")->has_value());
}

TEST_F(StoreTest, StateRangeDeleteRemovesExactlyItsKeysAcrossManyPages) {
  auto store = Open();
  auto key = [](int i) {
    std::string k = "r/";
    for (int s = 24; s >= 0; s -= 8) k.push_back(static_cast<char>(i >> s));
    return k;
  };
  auto b = std::make_shared<WriteBatch>();
  b->PutState("a/before", "x");
  for (int i = 0; i < 5000; ++i) b->PutState(key(i), std::string(100, 'v'));
  b->PutState("s/after", "y");
  ASSERT_TRUE(SubmitAndWait(*store, 1, b).ok());
  auto del = std::make_shared<WriteBatch>();
  del->DeleteStateRange(key(1000), key(4000));  // a few hundred pages
  del->DeleteStateRange(key(4990), "r0");       // to the end of the prefix
  del->DeleteStateRange("q", "q0");             // nothing there
  ASSERT_TRUE(SubmitAndWait(*store, 1, del).ok());
  auto reader = store->NewReader();
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> left;
  ASSERT_TRUE(reader->ScanState("", [&](std::string_view k, std::string_view) {
                      left.emplace_back(k);
                      return true;
                    }).ok());
  std::vector<std::string> want{"a/before"};
  for (int i = 0; i < 1000; ++i) want.push_back(key(i));
  for (int i = 4000; i < 4990; ++i) want.push_back(key(i));
  want.push_back("s/after");
  EXPECT_EQ(left, want);
}

TEST_F(StoreTest, StateCopyTakesTheValueAtWriteTimeAndAMissingSourceRefusesOnlyItsGroup) {
  auto store = Open();
  auto put = std::make_shared<WriteBatch>();
  put->PutState("pa/1", "old");
  ASSERT_TRUE(SubmitAndWait(*store, 1, put).ok());
  // A later batch rewrites the source before the copy runs: the copy takes
  // the value as it is then.
  auto rewrite = std::make_shared<WriteBatch>();
  rewrite->PutState("pa/1", "new");
  bool first = false, second = false;
  store->Submit(1, rewrite, [&](absl::Status st) { first = st.ok(); });
  store->Submit(1, CopyState("pa/2", "pa/1"), [&](absl::Status st) { second = st.ok(); });
  ASSERT_TRUE(queue_.RunUntil([&] { return first && second; }));
  EXPECT_EQ(StateOf(*store, "pa/2"), "new");
  // The source is not there but the fallback is: the fallback is copied.
  ASSERT_TRUE(SubmitAndWait(*store, 1, CopyState("pa/5", "pa/8", "pa/1")).ok());
  EXPECT_EQ(StateOf(*store, "pa/5"), "new");
  // A copy from a key that is not there (nor its fallback) is a caller's
  // bug: its group is refused, the store goes on.
  absl::Status st = SubmitAndWait(*store, 1, CopyState("pa/3", "pa/9", "pa/7"));
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  auto after = std::make_shared<WriteBatch>();
  after->PutState("pa/4", "fine");
  EXPECT_TRUE(SubmitAndWait(*store, 2, after).ok());
  auto reader = store->NewReader();
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE(reader->GetState("pa/3")->has_value());
  EXPECT_EQ(reader->GetState("pa/4")->value_or(""), "fine");
}

TEST_F(StoreTest, SchemaVersionMismatchIsAClearError) {
  { ASSERT_NE(Open(), nullptr); }
  // Rewrite the version as a future build would have.
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, dir_.Sub("db").c_str(), 0, 0644), 0);
  MDB_txn* txn;
  MDB_dbi meta;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  std::string key = "schema_version";
  std::string value(8, '\0');
  value[0] = 99;
  MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
  ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);

  StoreOptions options;
  options.path = dir_.Sub("db");
  auto store = Store::Open(options, queue_.Poster());
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store.status()));
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos)
      << store.status();
}

TEST_F(StoreTest, SecondOpenOfTheSameStoreIsRefused) {
  auto first = Open();
  ASSERT_NE(first, nullptr);
  StoreOptions options;
  options.path = dir_.Sub("db");
  auto second = Store::Open(options, queue_.Poster());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST_F(StoreTest, MapGrowsByItself) {
  StoreOptions options;
  options.initial_map_bytes = 1 << 20;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(SubmitAndWait(*store, 1, Records(1 + i * 1000, 1000)).ok());
  }
  StoreStats stats = store->stats();
  EXPECT_GT(stats.map_grows, 0u);
  EXPECT_GT(stats.map_bytes, uint64_t{1} << 20);
  EXPECT_EQ(stats.log_entries, 40'000u);
}

TEST_F(StoreTest, MapAtItsMaximumRefusesWritesKeepsDataAndRecoversWithRoom) {
  StoreOptions options;
  options.initial_map_bytes = 1 << 20;
  options.max_map_bytes = 4 << 20;
  SeqNo next = 1;
  uint64_t acknowledged = 0;
  {
    auto store = Open(options);
    ASSERT_NE(store, nullptr);
    absl::Status st;
    while ((st = SubmitAndWait(*store, 1, Records(next, 500))).ok()) {
      next += 500;
      acknowledged += 500;
      ASSERT_LT(next, 1'000'000u) << "the map never filled";
    }
    EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
    EXPECT_NE(st.message().find("store full"), std::string::npos) << st;
    // Queued behind the failure with the same epoch: refused too.
    st = SubmitAndWait(*store, 1, Records(next + 500, 1));
    EXPECT_TRUE(absl::IsAborted(st)) << st;
    // Reads go on.
    auto reader = store->NewReader();
    ASSERT_TRUE(reader.ok());
    EXPECT_TRUE(reader->GetLog(1).ok());
  }
  // With room (a larger maximum), the same store takes writes again and has
  // lost nothing that was acknowledged.
  options.max_map_bytes = 64 << 20;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->stats().log_entries, acknowledged);
  EXPECT_TRUE(SubmitAndWait(*store, 2, Records(store->next_seq_at_open(), 500)).ok());
}

TEST_F(StoreTest, FullDiskIsAClearErrorAndWritesResumeOnceSpaceIsFreed) {
  std::string mnt = dir_.Sub("tmpfs");
  std::filesystem::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=6m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs CAP_SYS_ADMIN)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  // Take part of the space with a file the "operator" deletes later.
  {
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    std::string mb(1 << 20, 'x');
    for (int i = 0; i < 2; ++i) filler << mb;
  }
  StoreOptions options;
  options.path = mnt + "/db";
  options.initial_map_bytes = 64 << 20;  // larger than the disk: the disk fills first
  SeqNo next = 1;
  uint64_t epoch = 1;
  uint64_t acknowledged = 0;
  {
    auto store = Open(options);
    ASSERT_NE(store, nullptr);
    absl::Status st;
    while ((st = SubmitAndWait(*store, epoch, Records(next, 200))).ok()) {
      next += 200;
      acknowledged += 200;
      ASSERT_LT(next, 1'000'000u);
    }
    EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
    EXPECT_NE(st.message().find("disk full"), std::string::npos) << st;
    next += 200;
    std::filesystem::remove(mnt + "/filler");
    ++epoch;  // the owner has seen the failure
    EXPECT_TRUE(SubmitAndWait(*store, epoch, Records(next, 200)).ok());
    acknowledged += 200;
  }
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->stats().log_entries, acknowledged);
}

TEST_F(StoreTest, HotBackupIsACompactedReadableCopy) {
  auto store = Open();
  ASSERT_TRUE(SubmitAndWait(*store, 1, Records(1, 1000)).ok());
  auto del = std::make_shared<WriteBatch>();
  del->DeleteLogRange(1, 501);
  ASSERT_TRUE(SubmitAndWait(*store, 1, del).ok());
  std::string backup = dir_.Sub("backup");
  std::filesystem::create_directories(backup);
  ASSERT_TRUE(store->Backup(backup).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store->Backup(backup)));

  StoreOptions options;
  options.path = backup;
  auto copy = Store::Open(options, queue_.Poster());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ((*copy)->next_seq_at_open(), 1001u);
  EXPECT_EQ((*copy)->stats().log_entries, 500u);
  auto reader = (*copy)->NewReader();
  auto rec = reader->GetLog(777);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(*rec, std::string(200, 'a' + 777 % 26));
}

}  // namespace
}  // namespace rappel::server
