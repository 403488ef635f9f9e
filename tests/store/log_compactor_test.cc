#include "server/store/log_compactor.h"

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

// A numbered log of "name=value" records over a real store, as the engine
// keeps its log (the `log` database, appended copies) or as the book keeps
// its records (`r/<number>` in `state`, copies made by the writer). The live
// version of a name is the number it last wrote.
class TestLog final : public NumberedLog {
 public:
  TestLog(Store* store, TaskQueue* queue, bool in_state)
      : store_(store), queue_(queue), in_state_(in_state), next_(store->next_seq_at_open()) {}

  size_t step_records = 3;
  bool refuse_delete = false;  // CommitDelete refuses (the range must stay)
  bool break_copies = false;   // CommitCopies copies from a number not there
  int prepared = 0;
  int commits = 0;

  uint64_t next() const { return next_; }
  // Leaves n numbers unused (as a compacted log does below its floor).
  void Skip(uint64_t n) { next_ += n; }

  absl::Status Write(const std::string& name, const std::string& value) {
    auto batch = std::make_shared<WriteBatch>();
    uint64_t seq = next_++;
    if (in_state_) {
      batch->PutState(Key(seq), name + "=" + value);
    } else {
      batch->Append(seq, name + "=" + value);
    }
    absl::Status st = SubmitAndWait(batch);
    if (st.ok()) live_[name] = seq;
    return st;
  }

  // Every record in the store: number -> "name=value".
  std::map<uint64_t, std::string> Records() const {
    std::map<uint64_t, std::string> out;
    auto reader = store_->NewReader();
    EXPECT_TRUE(reader.ok());
    Scan(*reader, 0, [&](uint64_t seq, std::string_view bytes) {
      out[seq] = std::string(bytes);
      return true;
    });
    return out;
  }
  // name -> value of the live versions, read from the store.
  std::map<std::string, std::string> LiveValues() const {
    std::map<std::string, std::string> out;
    auto records = Records();
    for (const auto& [name, seq] : live_) {
      const std::string& r = records[seq];
      out[name] = r.substr(r.find('=') + 1);
    }
    return out;
  }

  bool HasGarbage() const override { return Records().size() > live_.size(); }

  absl::StatusOr<Step> PrepareStep(uint64_t lo, uint64_t bound) override {
    ++prepared;
    copies_.clear();
    auto reader = store_->NewReader();
    if (!reader.ok()) return reader.status();
    size_t scanned = 0;
    uint64_t hi = lo;
    Scan(*reader, lo, [&](uint64_t seq, std::string_view bytes) {
      if (scanned >= step_records || seq >= bound) return false;
      ++scanned;
      hi = seq + 1;
      std::string name(bytes.substr(0, bytes.find('=')));
      if (live_[name] == seq) copies_.push_back(Copy{name, seq, std::string(bytes)});
      return true;
    });
    return Step{hi, scanned == 0};
  }

  void CommitCopies(uint64_t lo, uint64_t hi, bool and_delete, Done done) override {
    auto batch = std::make_shared<WriteBatch>();
    std::vector<std::pair<std::string, uint64_t>> moved;
    for (const Copy& c : copies_) {
      uint64_t seq = next_++;
      if (in_state_) {
        WriteBatch::StateOp op{Key(seq), "", false};
        op.copy_from = break_copies ? Key(999'999) : Key(c.seq);
        batch->AddStateOps({op});
      } else {
        batch->Append(seq, c.bytes);
      }
      moved.emplace_back(c.name, seq);
    }
    if (and_delete) Delete(batch.get(), lo, hi);
    if (batch->empty()) return done(absl::OkStatus());
    Submit(batch, [this, moved, done = std::move(done)](absl::Status st) {
      if (st.ok()) {
        for (const auto& [name, seq] : moved) live_[name] = seq;
      }
      done(st);
    });
  }

  void CommitDelete(uint64_t lo, uint64_t hi, Done done) override {
    if (refuse_delete) return done(absl::AbortedError("not yet"));
    auto batch = std::make_shared<WriteBatch>();
    Delete(batch.get(), lo, hi);
    Submit(batch, std::move(done));
  }

 private:
  struct Copy {
    std::string name;
    uint64_t seq;
    std::string bytes;
  };
  static std::string Key(uint64_t seq) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "r/%020llu", static_cast<unsigned long long>(seq));
    return buf;
  }
  template <typename Fn>
  void Scan(const Store::Reader& reader, uint64_t from, Fn fn) const {
    absl::Status st;
    if (in_state_) {
      st = reader.ScanState(Key(from), [&](std::string_view key, std::string_view value) {
        if (key.substr(0, 2) != "r/") return false;
        return fn(std::stoull(std::string(key.substr(2))), value);
      });
    } else {
      st = reader.ScanLog(from, fn);
    }
    EXPECT_TRUE(st.ok()) << st;
  }
  void Delete(WriteBatch* batch, uint64_t lo, uint64_t hi) {
    if (in_state_) {
      batch->DeleteStateRange(Key(lo), Key(hi));
    } else {
      batch->DeleteLogRange(lo, hi);
    }
  }
  void Submit(std::shared_ptr<WriteBatch> batch, Done done) {
    ++commits;
    store_->Submit(epoch_, std::move(batch), [this, done = std::move(done)](absl::Status st) {
      if (!st.ok()) ++epoch_;  // what failed is seen: writes work again
      done(st);
    });
  }
  absl::Status SubmitAndWait(std::shared_ptr<WriteBatch> batch) {
    absl::Status result = absl::UnknownError("not run");
    bool finished = false;
    Submit(std::move(batch), [&](absl::Status st) {
      result = st;
      finished = true;
    });
    EXPECT_TRUE(queue_->RunUntil([&] { return finished; }));
    return result;
  }

  Store* store_;
  TaskQueue* queue_;
  bool in_state_;
  uint64_t next_;
  uint64_t epoch_ = 1;
  std::map<std::string, uint64_t> live_;
  std::vector<Copy> copies_;
};

class LogCompactorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open() {
    StoreOptions options;
    options.path = dir_.Sub("db");
    auto store = Store::Open(options, queue_.Poster());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Writes a=1 b=1 c=1 a=2 c=2 d=1 (numbers 1 to 6): live a@4 b@2 c@5 d@6.
  static void WriteSix(TestLog& log) {
    for (auto [name, value] : std::vector<std::pair<const char*, const char*>>{
             {"a", "1"}, {"b", "1"}, {"c", "1"}, {"a", "2"}, {"c", "2"}, {"d", "1"}}) {
      ASSERT_TRUE(log.Write(name, value).ok());
    }
  }
  // Forces a pass below `until` and waits for its answer.
  absl::Status CompactBelow(LogCompactor& compactor, uint64_t until) {
    absl::Status result = absl::UnknownError("not answered");
    bool answered = false;
    compactor.Force(until, [&](absl::Status st) {
      result = st;
      answered = true;
    });
    compactor.Run();
    EXPECT_TRUE(queue_.RunUntil([&] { return answered; }));
    return result;
  }

  const std::map<std::string, std::string> kLive = {{"a", "2"}, {"b", "1"}, {"c", "2"}, {"d", "1"}};
  TempDir dir_;
  TaskQueue queue_;
};

TEST_F(LogCompactorTest, CopiesTheLiveRecordsThenDeletesTheRangeBelowInTwoCommitsAStep) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    TestLog log(store.get(), &queue_, /*in_state=*/false);
    WriteSix(log);
    LogCompactor compactor(&log, 1, {});
    int commits_before = log.commits;
    ASSERT_TRUE(CompactBelow(compactor, log.next()).ok());
    // [1, 4) copies b; then, the garbage gone, the pass goes on to its bound
    // 7: [4, 7) copies a, c and d. Everything below 7 is deleted.
    EXPECT_EQ(compactor.floor(), 7u);
    EXPECT_EQ(log.commits - commits_before, 4);  // two steps, two commits each
    auto records = log.Records();
    ASSERT_EQ(records.size(), 4u);
    EXPECT_EQ(records.begin()->first, 7u);
    EXPECT_EQ(log.LiveValues(), kLive);
    EXPECT_FALSE(compactor.running());
  }
  // Durable: a reopened store holds exactly the copies.
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->stats().log_entries, 4u);
  EXPECT_EQ(store->next_seq_at_open(), 11u);
}

TEST_F(LogCompactorTest, StepsFollowEachOtherWhileThereIsGarbage) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TestLog log(store.get(), &queue_, false);
  WriteSix(log);
  log.step_records = 2;
  LogCompactor compactor(&log, 1, {});
  compactor.Run();
  ASSERT_TRUE(queue_.RunUntil([&] { return !compactor.running(); }));
  // [1, 3) copies b; [3, 5) copies a; the garbage is then gone (c@5, d@6,
  // b@7, a@8 are all live) and the steps stop.
  EXPECT_EQ(compactor.floor(), 5u);
  EXPECT_EQ(log.Records().size(), 4u);
  EXPECT_EQ(log.LiveValues(), kLive);
  EXPECT_FALSE(log.HasGarbage());
}

TEST_F(LogCompactorTest, WithoutChainEachStepWaitsForRun) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TestLog log(store.get(), &queue_, false);
  WriteSix(log);
  log.step_records = 2;
  LogCompactor compactor(&log, 1, {LogCompactor::Commits::kCopyThenDelete, /*chain=*/false});
  compactor.Run();
  ASSERT_TRUE(queue_.RunUntil([&] { return !compactor.running(); }));
  EXPECT_EQ(compactor.floor(), 3u);
  EXPECT_EQ(log.prepared, 1);
  compactor.Run();
  ASSERT_TRUE(queue_.RunUntil([&] { return !compactor.running(); }));
  EXPECT_EQ(compactor.floor(), 5u);
  EXPECT_EQ(log.LiveValues(), kLive);
}

TEST_F(LogCompactorTest, ARefusedDeleteKeepsTheRangeAndALaterPassReclaimsIt) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TestLog log(store.get(), &queue_, false);
  WriteSix(log);
  LogCompactor compactor(&log, 1, {});
  log.refuse_delete = true;
  absl::Status st = CompactBelow(compactor, log.next());
  EXPECT_TRUE(absl::IsAborted(st)) << st;
  // The copies of [1, 4) landed (b@7), the range is still there.
  EXPECT_EQ(compactor.floor(), 1u);
  EXPECT_EQ(log.Records().size(), 7u);
  EXPECT_EQ(log.Records().begin()->first, 1u);
  EXPECT_EQ(log.LiveValues(), kLive);
  log.refuse_delete = false;
  ASSERT_TRUE(CompactBelow(compactor, log.next()).ok());
  EXPECT_EQ(log.Records().size(), 4u);
  EXPECT_EQ(log.LiveValues(), kLive);
}

TEST_F(LogCompactorTest, OneCommitAStepAndAFailedCommitLeavesTheOldRangeIntact) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TestLog log(store.get(), &queue_, /*in_state=*/true);
  WriteSix(log);
  LogCompactor compactor(&log, 1, {LogCompactor::Commits::kOneCommit, true});
  auto before = log.Records();
  log.break_copies = true;  // the store refuses the step's commit
  int commits_before = log.commits;
  absl::Status st = CompactBelow(compactor, log.next());
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(log.commits - commits_before, 1);
  EXPECT_EQ(compactor.floor(), 1u);
  EXPECT_EQ(log.Records(), before);  // neither a copy nor a delete landed
  EXPECT_FALSE(compactor.running());

  log.break_copies = false;
  commits_before = log.commits;
  ASSERT_TRUE(CompactBelow(compactor, log.next()).ok());
  EXPECT_EQ(log.commits - commits_before, 2);  // two steps, one commit each
  EXPECT_EQ(log.Records().size(), 4u);
  EXPECT_GE(log.Records().begin()->first, compactor.floor());
  EXPECT_EQ(log.LiveValues(), kLive);
}

TEST_F(LogCompactorTest, AForcedPassOverARangeWithNoRecordIsDoneWithoutACommit) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TestLog log(store.get(), &queue_, false);
  log.Skip(3);
  ASSERT_TRUE(log.Write("a", "1").ok());  // a@4, live: no garbage
  LogCompactor compactor(&log, 1, {});
  int commits_before = log.commits;
  ASSERT_TRUE(CompactBelow(compactor, 4).ok());  // nothing in [1, 4)
  EXPECT_EQ(log.commits, commits_before);
  EXPECT_EQ(compactor.floor(), 4u);
  EXPECT_EQ(log.Records().size(), 1u);
}

}  // namespace
}  // namespace rappel::server
