// The Engine over a store whose commit hook holds completions (a primary
// waiting for its standbys): nothing written is answered, applied or due
// until the hook releases it.
#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/recording_commit_hook.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::RecordingHook;
using rappel::testing::TempDir;

TEST(EngineCommitHookTest, AWriteIsAnsweredAndDueOnlyOnceTheHookReleasesIt) {
  TempDir dir;
  EngineHarness h(dir.Sub("db"));
  RecordingHook hook(&h.queue, 1, 1, /*release_at_once=*/false);
  h.options().store.hook = &hook;
  ASSERT_TRUE(h.Open().ok());
  bool answered = false;
  h.engine().Schedule({h.Reminder("a", 0, "va")}, [&](auto results) {
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(results[0].ok()) << results[0].status();
    answered = true;
  });
  // Committed locally (the hook has the batch) but held.
  for (int i = 0; i < 3000 && hook.batches().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(hook.batches().size(), 1u);
  EXPECT_FALSE(h.queue.RunUntil([&] { return answered; }, std::chrono::milliseconds(200)));
  h.PollNow();
  EXPECT_TRUE(h.sink.fired.empty());  // not durable on the sync set: not due
  hook.Release();
  ASSERT_TRUE(h.queue.RunUntil([&] { return answered; }));
  h.PollNow();
  ASSERT_EQ(h.sink.fired.size(), 1u);
  EXPECT_EQ(h.sink.fired[0].reminder.key, "a");
  // Close waits for every write in flight: let the hook answer from now on.
  hook.ReleaseFromNowOn();
}

}  // namespace
}  // namespace rappel::server
