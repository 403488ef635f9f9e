// A primary's committed groups, captured by its commit hook, encoded,
// decoded and applied on a standby with SubmitGroup, leave the standby with
// the same log, state and position.
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/replication/batch_codec.h"
#include "server/store/store.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

// Encodes every committed group and answers at once.
class ShippingHook : public CommitHook {
 public:
  explicit ShippingHook(TaskQueue* queue) : queue_(queue) {}
  ReplPos NextPosition() override { return {7, last_.index + 1}; }
  void Committed(ReplPos pos, std::vector<std::shared_ptr<const WriteBatch>> group,
                 CommitCompletions dones) override {
    {
      std::lock_guard lock(mu_);
      shipped_.push_back(EncodeGroup({last_, pos, 0, std::move(group)}));
    }
    last_ = pos;
    Post(std::move(dones));
  }
  void Refused(CommitCompletions dones) override { Post(std::move(dones)); }
  std::vector<std::string> shipped() {
    std::lock_guard lock(mu_);
    return shipped_;
  }

 private:
  void Post(CommitCompletions dones) {
    auto held = std::make_shared<CommitCompletions>(std::move(dones));
    queue_->Post([held] { RunCompletions(*held); });
  }
  TaskQueue* queue_;
  ReplPos last_;  // writer thread
  std::mutex mu_;
  std::vector<std::string> shipped_;
};

struct Contents {
  std::vector<std::pair<SeqNo, std::string>> log;
  std::vector<std::pair<std::string, std::string>> state;
  ReplPos pos;
};
Contents Read(Store& store) {
  Contents c;
  auto reader = store.NewReader();
  EXPECT_TRUE(reader.ok());
  EXPECT_TRUE(reader
                  ->ScanLog(0,
                            [&](SeqNo s, std::string_view b) {
                              c.log.emplace_back(s, std::string(b));
                              return true;
                            })
                  .ok());
  EXPECT_TRUE(reader
                  ->ScanState("",
                              [&](std::string_view k, std::string_view v) {
                                c.state.emplace_back(std::string(k), std::string(v));
                                return true;
                              })
                  .ok());
  c.pos = *reader->GetReplPos();
  return c;
}

TEST(ShipGroupsTest, AStandbyApplyingTheShippedGroupsHoldsWhatThePrimaryHolds) {
  TempDir dir;
  TaskQueue queue;
  ShippingHook hook(&queue);
  StoreOptions primary_options;
  primary_options.path = dir.Sub("primary");
  primary_options.hook = &hook;
  primary_options.max_records_per_commit = 40;
  auto primary = Store::Open(primary_options, queue.Poster());
  ASSERT_TRUE(primary.ok()) << primary.status();
  std::mt19937_64 rng(3);
  SeqNo seq = 1;
  int answered = 0;
  constexpr int kBatches = 300;
  for (int i = 0; i < kBatches; ++i) {
    auto b = std::make_shared<WriteBatch>();
    for (int r = 0, n = static_cast<int>(rng() % 8); r < n; ++r) {
      b->Append(seq++, std::string(1 + rng() % 200, 'a' + rng() % 26));
    }
    if (i % 17 == 16) b->DeleteLogRange(seq - 40, seq - 20);
    std::string key = "k" + std::to_string(rng() % 30);
    switch (i % 4) {
      case 0:
        b->PutState(key, std::to_string(i));
        break;
      case 1:
        b->DeleteState(key);
        break;
      case 2: {
        WriteBatch::StateOp copy{"copy" + std::to_string(i % 5), "", false};
        copy.copy_from = key;
        copy.copy_fallback = "base";
        b->PutState("base", "b" + std::to_string(i));
        b->AddStateOps({copy});
        break;
      }
      default:
        b->DeleteStateRange("k1", "k2");
    }
    (*primary)->Submit(1, b, [&](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      ++answered;
    });
  }
  ASSERT_TRUE(queue.RunUntil([&] { return answered == kBatches; }));
  Contents expected = Read(**primary);
  std::vector<std::string> shipped = hook.shipped();
  ASSERT_GT(shipped.size(), 3u);
  EXPECT_EQ(expected.pos, (ReplPos{7, shipped.size()}));

  StoreOptions standby_options;
  standby_options.path = dir.Sub("standby");
  auto standby = Store::Open(standby_options, queue.Poster());
  ASSERT_TRUE(standby.ok()) << standby.status();
  ReplPos last;
  int applied = 0;
  for (const std::string& bytes : shipped) {
    auto group = DecodeGroup(bytes);
    ASSERT_TRUE(group.ok()) << group.status();
    ASSERT_EQ(group->prev, last);  // no gap
    last = group->pos;
    (*standby)->SubmitGroup(1, std::move(group->batches), group->pos, [&](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      ++applied;
    });
  }
  ASSERT_TRUE(queue.RunUntil([&] { return applied == static_cast<int>(shipped.size()); }));
  Contents got = Read(**standby);
  EXPECT_EQ(got.pos, expected.pos);
  EXPECT_EQ(got.log, expected.log);
  EXPECT_EQ(got.state, expected.state);
  EXPECT_GT(expected.state.size(), 3u);
}

}  // namespace
}  // namespace rappel::server
