// AnswerQueue: held rounds are answered in order and only once released;
// rounds that committed nothing never pass those ahead; a closed gate parks
// everything for good. QuorumPosition: the N-th best position of distinct
// standbys.
#include "server/replication/answer_queue.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/replication/replication_server.h"
#include "tests/testing/task_queue.h"

namespace rappel::server {
namespace {

using rappel::testing::TaskQueue;

// One round of `n` completions that append "name.i" to `log`.
CommitCompletions Round(std::vector<std::string>* log, const std::string& name, int n = 1,
                        absl::Status st = absl::OkStatus()) {
  CommitCompletions dones;
  for (int i = 0; i < n; ++i) {
    dones.emplace_back(
        [log, tag = name + "." + std::to_string(i)](absl::Status s) {
          log->push_back(s.ok() ? tag : tag + "!");
        },
        st);
  }
  return dones;
}

TEST(AnswerQueueTest, HeldRoundsAreAnsweredInOrderOnlyOnceReleased) {
  TaskQueue q;
  std::vector<std::string> log;
  AnswerQueue answers(q.Poster(), /*hold=*/true);
  answers.AddBehind(Round(&log, "r0"));  // nothing ahead: at once
  answers.Add({3, 1}, Round(&log, "a", 2));
  answers.AddBehind(Round(&log, "r1", 1, absl::AbortedError("refused")));
  answers.Add({3, 2}, Round(&log, "b"));
  answers.AddBehind(Round(&log, "r2", 1, absl::AbortedError("refused")));
  answers.Add({3, 3}, Round(&log, "c"));
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"r0.0"}));
  AnswerQueueStats s = answers.stats();
  EXPECT_EQ(s.waiting_rounds, 5u);
  EXPECT_EQ(s.waiting_completions, 6u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(answers.stats().oldest_wait_ms, 20);

  answers.Release({3, 0});  // below every round
  q.RunPending();
  EXPECT_EQ(log.size(), 1u);
  answers.Release({3, 1});  // a, and the refused round behind it
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"r0.0", "a.0", "a.1", "r1.0!"}));
  answers.Release({2, 9});  // lower than before: nothing
  answers.Release({3, 3});  // b, r2, c
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"r0.0", "a.0", "a.1", "r1.0!", "b.0", "r2.0!", "c.0"}));
  s = answers.stats();
  EXPECT_EQ(s.waiting_rounds, 0u);
  EXPECT_EQ(s.waiting_completions, 0u);
  EXPECT_EQ(s.oldest_wait_ms, 0);
  EXPECT_EQ(s.released, (ReplPos{3, 3}));
  // A round already covered by a release (an ack that overtook it) goes at once.
  answers.Add({3, 3}, Round(&log, "late"));
  q.RunPending();
  EXPECT_EQ(log.back(), "late.0");
}

TEST(AnswerQueueTest, ATermBelowTheHeldOneReleasesNothing) {
  TaskQueue q;
  std::vector<std::string> log;
  AnswerQueue answers(q.Poster(), true);
  answers.Add({5, 10}, Round(&log, "a"));
  answers.Release({4, 12});  // another history, further on: not ours
  q.RunPending();
  EXPECT_TRUE(log.empty());
  answers.Release({5, 10});
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"a.0"}));
}

TEST(AnswerQueueTest, AsynchronousAnswersAtOnce) {
  TaskQueue q;
  std::vector<std::string> log;
  AnswerQueue answers(q.Poster(), /*hold=*/false);
  answers.Add({1, 1}, Round(&log, "a"));
  answers.AddBehind(Round(&log, "r", 1, absl::AbortedError("refused")));
  answers.Add({1, 2}, Round(&log, "b"));
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"a.0", "r.0!", "b.0"}));
  EXPECT_EQ(answers.stats().waiting_rounds, 0u);
}

TEST(AnswerQueueTest, AClosedGateParksEverythingForGood) {
  TaskQueue q;
  std::vector<std::string> log;
  bool open = true;
  int asked = 0;
  AnswerQueue answers(q.Poster(), true);
  answers.SetAnswerGate([&] {
    ++asked;
    return open;
  });
  answers.Add({1, 1}, Round(&log, "a"));
  answers.Add({1, 2}, Round(&log, "b", 2));
  answers.Add({1, 3}, Round(&log, "c"));
  answers.Release({1, 1});
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"a.0"}));
  EXPECT_EQ(asked, 1);
  open = false;
  answers.Release({1, 2});
  open = true;  // too late: b was parked, c may never pass it
  answers.Release({1, 3});
  answers.Add({1, 4}, Round(&log, "d"));
  answers.Release({1, 4});
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"a.0"}));
  AnswerQueueStats s = answers.stats();
  EXPECT_TRUE(s.fenced);
  EXPECT_EQ(s.parked_completions, 4u);
  EXPECT_EQ(s.waiting_rounds, 0u);
  EXPECT_EQ(asked, 2);  // not asked again once fenced
}

TEST(AnswerQueueTest, AClosedGateStopsAsynchronousAnswersToo) {
  TaskQueue q;
  std::vector<std::string> log;
  bool open = true;
  AnswerQueue answers(q.Poster(), false);
  answers.SetAnswerGate([&] { return open; });
  answers.Add({1, 1}, Round(&log, "a"));
  open = false;
  answers.Add({1, 2}, Round(&log, "b"));
  answers.AddBehind(Round(&log, "r"));
  q.RunPending();
  EXPECT_EQ(log, (std::vector<std::string>{"a.0"}));
  EXPECT_EQ(answers.stats().parked_completions, 2u);
}

TEST(QuorumPositionTest, TheNthBestOfDistinctStandbys) {
  std::vector<StandbyStatus> s = {{"a", {2, 10}}, {"b", {2, 7}}, {"c", {2, 12}}};
  EXPECT_EQ(QuorumPosition(s, 1), (ReplPos{2, 12}));
  EXPECT_EQ(QuorumPosition(s, 2), (ReplPos{2, 10}));
  EXPECT_EQ(QuorumPosition(s, 3), (ReplPos{2, 7}));
  EXPECT_EQ(QuorumPosition(s, 4), std::nullopt);
  // "c" twice (reconnected before its old link closed): counted once, at its best.
  s = {{"c", {2, 3}}, {"a", {2, 10}}, {"c", {2, 12}}};
  EXPECT_EQ(QuorumPosition(s, 2), (ReplPos{2, 10}));
  EXPECT_EQ(QuorumPosition(s, 3), std::nullopt);
  EXPECT_EQ(QuorumPosition({}, 1), std::nullopt);
  // Positions compare by term first.
  s = {{"a", {1, 50}}, {"b", {2, 4}}};
  EXPECT_EQ(QuorumPosition(s, 2), (ReplPos{1, 50}));
}

}  // namespace
}  // namespace rappel::server
