// The engine's log compaction (engine_compaction.h) under churn: the log
// keeps exactly the live records and stays bounded, and recovers to the same
// reminders. The compactor itself is tested in tests/store/; CompactNow's
// report in engine_stats_test.cc.
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::TempDir;

// Churn with small compaction thresholds, against a model of what is live.
TEST(EngineCompactionTest, KeepsExactlyTheLiveRecordsAndBoundsTheLog) {
  TempDir dir;
  EngineOptions options;
  options.compact_min_log_records = 200;
  options.compaction_step_records = 64;
  options.compact_log_to_live_ratio = 1.5;
  EngineHarness h(dir.Sub("db"), options);
  ASSERT_TRUE(h.Open().ok());
  std::map<std::string, ReminderSpec> model;
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::vector<ReminderSpec> batch;
    for (int i = 0; i < 20; ++i) {
      std::string key = "k" + std::to_string(rng() % 400);
      batch.push_back(h.Reminder(key, 3'600'000 + rng() % 1000, "v" + std::to_string(rng())));
      model[key] = batch.back();
    }
    for (auto& res : h.Schedule(batch)) ASSERT_TRUE(res.ok());
    std::vector<ReminderKey> cancels;
    for (int i = 0; i < 5; ++i) {
      std::string key = "k" + std::to_string(rng() % 400);
      if (model.erase(key) != 0) cancels.push_back({TenantId{1}, key});
    }
    for (auto& st : h.Cancel(cancels)) ASSERT_TRUE(st.ok()) << st;
    h.PollNow();  // compaction steps run from Poll
    h.queue.RunUntil([&] { return h.engine().idle(); });
  }
  EngineStats stats = h.engine().stats();
  EXPECT_GT(stats.compaction_steps, 10u);
  EXPECT_GT(stats.relocated, 0u);
  EXPECT_EQ(stats.live, model.size());
  EXPECT_EQ(stats.store.log_entries, stats.log_records);
  EXPECT_LE(stats.log_records, 2 * model.size() + options.compaction_step_records * 2)
      << "compaction did not keep up";
  for (const auto& [key, spec] : model) {
    auto state = h.Inspect(1, key);
    ASSERT_TRUE(state.has_value()) << key;
    EXPECT_EQ(state->spec, spec);
  }
  // Recovery from the compacted log gives exactly the same reminders.
  h.Close();
  ASSERT_TRUE(h.Open().ok());
  EXPECT_EQ(h.engine().stats().live, model.size());
  for (const auto& [key, spec] : model) {
    auto state = h.Inspect(1, key);
    ASSERT_TRUE(state.has_value()) << key;
    EXPECT_EQ(state->spec, spec);
  }
}

}  // namespace
}  // namespace rappel::server
