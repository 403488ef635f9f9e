#include "server/engine/engine.h"

#include <map>
#include <random>
#include <set>

#include "gtest/gtest.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::TempDir;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<EngineHarness>(dir_.Sub("db"));
    ASSERT_TRUE(h_->Open().ok());
  }
  void Reopen() {
    h_->Close();
    ASSERT_TRUE(h_->Open().ok());
  }
  std::vector<std::string> FiredKeys() const {
    std::vector<std::string> keys;
    for (const auto& r : h_->sink.fired) keys.push_back(r.reminder.key);
    return keys;
  }
  // Schedules "a" (payload "va") and "b" ("vb") due now and polls: where
  // each is in sink.fired and sink.refs.
  struct AAndB {
    size_t a;
    size_t b;
  };
  AAndB FireAAndB() {
    EXPECT_TRUE(h_->ScheduleOne(h_->Reminder("a", 0, "va")).ok());
    EXPECT_TRUE(h_->ScheduleOne(h_->Reminder("b", 0, "vb")).ok());
    h_->PollNow();
    EXPECT_EQ(h_->sink.fired.size(), 2u);
    EXPECT_EQ(h_->sink.refs.size(), 2u);
    bool a_first = h_->sink.fired[0].reminder.key == "a";
    return AAndB{a_first ? 0u : 1u, a_first ? 1u : 0u};
  }

  TempDir dir_;
  std::unique_ptr<EngineHarness> h_;
};

TEST_F(EngineTest, FiresAtItsDueTimeWithItsContentAndNeverEarly) {
  ReminderSpec r = h_->Reminder("appt-1/24h", 60'000, "see you tomorrow");
  r.channel = Channel::kEmail;
  r.recipient = "a@example.org";
  ASSERT_EQ(*h_->ScheduleOne(r), ScheduleResult::kCreated);
  h_->clock.Advance(59'999);
  h_->PollNow();
  EXPECT_TRUE(h_->sink.fired.empty());
  h_->clock.Advance(1);
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  EXPECT_EQ(h_->sink.fired[0].reminder, r);
  EXPECT_EQ(h_->engine().stats().fired, 1u);
}

TEST_F(EngineTest, NothingFiresBeforeItsWriteIsDurable) {
  bool acked = false;
  h_->engine().Schedule({h_->Reminder("past", -5'000)}, [&](auto) { acked = true; });
  // The commit has not been applied (its completion has not run): the wheel
  // does not hold the reminder yet.
  h_->engine().Poll(h_->clock.now_ms(), h_->sink);
  EXPECT_TRUE(h_->sink.fired.empty());
  ASSERT_TRUE(h_->queue.RunUntil([&] { return acked; }));
  h_->PollNow();
  EXPECT_EQ(FiredKeys(), std::vector<std::string>{"past"});
}

TEST_F(EngineTest, SameContentIsANoOpOtherContentReplaces) {
  ReminderSpec r = h_->Reminder("k", 1'000, "v1");
  EXPECT_EQ(*h_->ScheduleOne(r), ScheduleResult::kCreated);
  EXPECT_EQ(*h_->ScheduleOne(r), ScheduleResult::kUnchanged);
  uint64_t records = h_->engine().stats().log_records;
  EXPECT_EQ(*h_->ScheduleOne(r), ScheduleResult::kUnchanged);
  EXPECT_EQ(h_->engine().stats().log_records, records) << "an unchanged schedule wrote";
  r.payload = "v2";
  r.due_ms += 500;
  EXPECT_EQ(*h_->ScheduleOne(r), ScheduleResult::kReplaced);
  h_->clock.Advance(1'000);
  h_->PollNow();
  EXPECT_TRUE(h_->sink.fired.empty()) << "the old due time fired";
  h_->clock.Advance(500);
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  EXPECT_EQ(h_->sink.fired[0].reminder.payload, "v2");
}

TEST_F(EngineTest, SameKeyInOtherTenantIsAnotherReminder) {
  EXPECT_EQ(*h_->ScheduleOne(h_->Reminder("k", 10, "a", 1)), ScheduleResult::kCreated);
  EXPECT_EQ(*h_->ScheduleOne(h_->Reminder("k", 10, "b", 2)), ScheduleResult::kCreated);
  EXPECT_EQ(h_->engine().stats().live, 2u);
}

TEST_F(EngineTest, BadItemsGetClearErrorsAndTheRestOfTheBatchGoesOn) {
  auto beyond = h_->Reminder("beyond", 0);
  beyond.due_ms = h_->clock.now_ms() + h_->options().horizon_ms + 1;
  auto empty_key = h_->Reminder("", 10);
  auto big = h_->Reminder("big", 10, std::string(64 * 1024 + 1, 'x'));
  auto expiry = h_->Reminder("expiry", 10);
  expiry.expiry_ms = expiry.due_ms - 1;
  auto bad_channel = h_->Reminder("channel", 10);
  bad_channel.channel = static_cast<Channel>(9);
  auto two_years = h_->Reminder("two-years", int64_t{2} * 366 * 24 * 3600 * 1000);
  auto results = h_->Schedule({beyond, empty_key, h_->Reminder("ok", 10), big, expiry,
                               bad_channel, two_years});
  ASSERT_EQ(results.size(), 7u);
  EXPECT_TRUE(absl::IsOutOfRange(results[0].status())) << results[0].status();
  EXPECT_NE(results[0].status().message().find("horizon"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(results[1].status()));
  EXPECT_EQ(*results[2], ScheduleResult::kCreated);
  EXPECT_TRUE(absl::IsInvalidArgument(results[3].status()));
  EXPECT_NE(results[3].status().message().find("payload"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(results[4].status()));
  EXPECT_TRUE(absl::IsInvalidArgument(results[5].status()));
  EXPECT_EQ(*results[6], ScheduleResult::kCreated);
  EXPECT_EQ(h_->engine().stats().live, 2u);
}

TEST_F(EngineTest, CancelDropsAndUnknownKeysAreNotFound) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("a", 100)).ok());
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("b", 100)).ok());
  auto results = h_->Cancel({{TenantId{1}, "a"}, {TenantId{1}, "nope"}, {TenantId{2}, "b"}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(absl::IsNotFound(results[1]));
  EXPECT_TRUE(absl::IsNotFound(results[2]));
  h_->clock.Advance(100);
  h_->PollNow();
  EXPECT_EQ(FiredKeys(), std::vector<std::string>{"b"});
  EXPECT_EQ(h_->engine().stats().cancelled, 1u);
}

TEST_F(EngineTest, CancelInFlightWinsOverAConcurrentFiring) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("a", 0)).ok());
  bool cancelled = false;
  h_->engine().Cancel({{TenantId{1}, "a"}}, [&](auto r) { cancelled = r[0].ok(); });
  // The reminder is due but its cancel is in flight: it must not go out.
  h_->engine().Poll(h_->clock.now_ms(), h_->sink);
  EXPECT_TRUE(h_->sink.fired.empty());
  ASSERT_TRUE(h_->queue.RunUntil([&] { return cancelled; }));
  h_->clock.Advance(10);
  h_->PollNow();
  EXPECT_TRUE(h_->sink.fired.empty());
}

TEST_F(EngineTest, MutateDropsAndSchedulesInOneCommitWithItsStateWrites) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("old-24h", 1'000, "v1")).ok());
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("kept", 1'000, "v1")).ok());
  // A re-plan: "old-24h" goes, "kept" is replaced, "new-2h" comes, a key
  // that is not live is skipped, and the state write lands with them.
  ASSERT_TRUE(h_->Mutate({h_->Reminder("kept", 2'000, "v2"), h_->Reminder("new-2h", 3'000, "v2")},
                         {{TenantId{1}, "old-24h"}, {TenantId{1}, "never-was"}, {TenantId{1}, "kept"}},
                         {{"pa/x", "appointment v2", false}})
                  .ok());
  EXPECT_FALSE(h_->Inspect(1, "old-24h").has_value());
  ASSERT_TRUE(h_->Inspect(1, "kept").has_value());
  EXPECT_EQ(h_->Inspect(1, "kept")->spec.payload, "v2");  // scheduled wins over dropped
  // The replaced and dropped versions left the counters (their shapes are
  // taken from memory, not read back).
  EXPECT_EQ(h_->engine().stats().live, 2u);
  {
    auto reader = h_->engine().store().NewReader();
    ASSERT_TRUE(reader.ok());
    auto state = reader->GetState("pa/x");
    ASSERT_TRUE(state.ok() && state->has_value());
    EXPECT_EQ(**state, "appointment v2");
  }
  h_->clock.Advance(3'000);
  h_->PollNow();
  EXPECT_EQ(FiredKeys(), (std::vector<std::string>{"kept", "new-2h"}));
  EXPECT_EQ(h_->engine().stats().cancelled, 1u);
}

TEST_F(EngineTest, MutateWritesEveryScheduledItemAsANewVersion) {
  // Unlike Schedule, Mutate does not compare with the live version: its
  // caller sends only what changed. An identical item is one more version,
  // and still one reminder.
  ASSERT_TRUE(h_->Mutate({h_->Reminder("same", 1'000, "v1")}, {}, {}).ok());
  uint64_t records = h_->engine().stats().log_records;
  ASSERT_TRUE(h_->Mutate({h_->Reminder("same", 1'000, "v1")}, {}, {}).ok());
  EXPECT_EQ(h_->engine().stats().log_records, records + 1);
  EXPECT_EQ(h_->engine().stats().live, 1u);
  h_->clock.Advance(1'000);
  h_->PollNow();
  EXPECT_EQ(FiredKeys(), (std::vector<std::string>{"same"}));
}

TEST_F(EngineTest, MutateWithAnInvalidItemWritesNothing) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("a", 1'000)).ok());
  ReminderSpec bad = h_->Reminder("far", 0);
  bad.due_ms = h_->clock.now_ms() + int64_t{60} * 366 * 24 * 3600 * 1000;  // beyond the horizon
  absl::Status st = h_->Mutate({h_->Reminder("b", 1'000), bad}, {{TenantId{1}, "a"}},
                               {{"pa/y", "nope", false}});
  EXPECT_TRUE(absl::IsOutOfRange(st)) << st;
  EXPECT_NE(st.message().find("far"), absl::string_view::npos) << st;
  EXPECT_TRUE(h_->Inspect(1, "a").has_value());
  EXPECT_FALSE(h_->Inspect(1, "b").has_value());
  auto reader = h_->engine().store().NewReader();
  ASSERT_TRUE(reader.ok());
  auto state = reader->GetState("pa/y");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->has_value());
}

TEST_F(EngineTest, IsCurrentTurnsFalseAsSoonAsAReplaceOrCancelIsSubmitted) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("a", 0, "v1")).ok());
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  SeqNo handed = h_->sink.fired[0].seq;
  EXPECT_TRUE(h_->engine().IsCurrent({TenantId{1}, "a"}, handed));
  bool done = false;
  h_->engine().Schedule({h_->Reminder("a", 5'000, "v2")}, [&](auto) { done = true; });
  // Not yet durable, but already not current: a stale version is never leased.
  EXPECT_FALSE(h_->engine().IsCurrent({TenantId{1}, "a"}, handed));
  ASSERT_TRUE(h_->queue.RunUntil([&] { return done; }));
  EXPECT_FALSE(h_->engine().IsCurrent({TenantId{1}, "a"}, handed));
  EXPECT_FALSE(h_->engine().IsCurrent({TenantId{1}, "nope"}, handed));
}

// Poll hands out references; the content is read from the log when asked:
// the version handed out, wherever compaction moved it, until it is no
// longer current.
TEST_F(EngineTest, ReadDueReadsTheVersionHandedOutUntilItIsReplaced) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("later", 3'600'000, "vl")).ok());
  const AAndB at = FireAAndB();
  const DueRef a = h_->sink.refs[at.a];
  const DueRef b = h_->sink.refs[at.b];
  bool compacted = false;
  absl::StatusOr<CompactionResult> result;
  h_->engine().CompactNow([&](absl::StatusOr<CompactionResult> r) {
    result = std::move(r);
    compacted = true;
  });
  ASSERT_TRUE(h_->queue.RunUntil([&] { return compacted; }));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->relocated, 3u) << "a, b and later moved to new numbers";
  std::optional<Store::Reader> reader;
  DueReminder d;
  d.reminder.payload = std::string(1000, 'x');  // the content replaces what was there
  ASSERT_TRUE(h_->engine().ReadDue(a, &reader, &d).ok());
  EXPECT_EQ(d.seq, a.seq) << "the number handed out, not the one compaction gave";
  EXPECT_EQ(d.reminder.key, "a");
  EXPECT_EQ(d.reminder.payload, "va");
  EXPECT_EQ(*d.hash, a.hash);
  ASSERT_TRUE(h_->engine().ReadDue(b, &reader, &d).ok());
  EXPECT_EQ(d.reminder.key, "b");
  EXPECT_EQ(d.reminder.payload, "vb");
  reader.reset();
  // Cancelled (even before it is durable): no content, NotFound.
  bool done = false;
  h_->engine().Cancel({{TenantId{1}, "a"}}, [&](auto) { done = true; });
  EXPECT_TRUE(absl::IsNotFound(h_->engine().ReadDue(a, &reader, &d)));
  ASSERT_TRUE(h_->queue.RunUntil([&] { return done; }));
  EXPECT_TRUE(absl::IsNotFound(h_->engine().ReadDue(a, &reader, &d)));
  // Replaced: the old reference reads nothing.
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("b", 0, "vb2")).ok());
  EXPECT_TRUE(absl::IsNotFound(h_->engine().ReadDue(b, &reader, &d)));
}

// A sink that cannot use a due reminder now hands it back: it falls due
// again after retry_after_failure_ms, once; a stale one is not revived.
TEST_F(EngineTest, ReturnDuePutsAHandedOutReminderBackInTheWheel) {
  const AAndB at = FireAAndB();
  const DueRef a = h_->sink.refs[at.a];
  const DueRef b = h_->sink.refs[at.b];
  ASSERT_TRUE(h_->Cancel({{TenantId{1}, "b"}})[0].ok());
  h_->engine().ReturnDue(a);
  h_->engine().ReturnDue(a);  // twice: still once in the wheel
  h_->engine().ReturnDue(b);  // cancelled: stays gone
  h_->sink.fired.clear();
  h_->clock.Advance(h_->options().retry_after_failure_ms - 1);
  h_->PollNow();
  EXPECT_TRUE(h_->sink.fired.empty()) << "handed back before its retry time";
  h_->clock.Advance(1);
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  EXPECT_EQ(h_->sink.fired[0].reminder.key, "a");
  EXPECT_EQ(h_->sink.fired[0].seq, a.seq);
  EXPECT_EQ(h_->engine().stats().live, 1u);
}

// The slot a due reminder carries only spares a lookup: a wrong, stale or
// out-of-range one gives the same answers as none.
TEST_F(EngineTest, IsCurrentAndCompleteIgnoreAWrongSlot) {
  const AAndB at = FireAAndB();
  const DueReminder a = h_->sink.fired[at.a];
  const DueReminder b = h_->sink.fired[at.b];
  ASSERT_NE(a.slot, kNoSlot);
  ASSERT_NE(a.slot, b.slot);
  for (uint32_t slot : {a.slot, b.slot, kNoSlot, uint32_t{1} << 30}) {
    EXPECT_TRUE(h_->engine().IsCurrent({TenantId{1}, "a"}, a.seq, slot)) << slot;
    EXPECT_FALSE(h_->engine().IsCurrent({TenantId{1}, "a"}, b.seq, slot)) << slot;
  }
  // b's version completed through a's slot: b ends, a stays.
  ASSERT_TRUE(h_->Complete({CompletionRef{{TenantId{1}, "b"}, b.seq, a.slot}}).ok());
  EXPECT_EQ(h_->engine().stats().live, 1u);
  EXPECT_FALSE(h_->engine().IsCurrent(b));
  // A new key may take b's freed slot: b's old version is still not current.
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("c", 0, "vc")).ok());
  EXPECT_FALSE(h_->engine().IsCurrent(b));
  ASSERT_TRUE(h_->Complete({CompletionRef::Of(b)}).ok());
  EXPECT_EQ(h_->engine().stats().live, 2u) << "a stale ref through a reused slot ended c";
  ASSERT_TRUE(h_->Complete({CompletionRef::Of(a)}).ok());
  EXPECT_EQ(h_->engine().stats().live, 1u);
}

TEST_F(EngineTest, RescheduleMovesTheDueTime) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("a", 1'000, "x")).ok());
  EXPECT_TRUE(h_->Reschedule({TenantId{1}, "a"}, h_->clock.now_ms() + 5'000).ok());
  EXPECT_TRUE(absl::IsNotFound(h_->Reschedule({TenantId{1}, "zz"}, h_->clock.now_ms())));
  EXPECT_TRUE(absl::IsOutOfRange(
      h_->Reschedule({TenantId{1}, "a"}, h_->clock.now_ms() + h_->options().horizon_ms + 10)));
  h_->clock.Advance(4'999);
  h_->PollNow();
  EXPECT_TRUE(h_->sink.fired.empty());
  h_->clock.Advance(1);
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  EXPECT_EQ(h_->sink.fired[0].reminder.payload, "x");
}

TEST_F(EngineTest, ExpiredRemindersAreDroppedNotSent) {
  auto r = h_->Reminder("late", 100);
  r.expiry_ms = r.due_ms + 50;
  ASSERT_TRUE(h_->ScheduleOne(r).ok());
  h_->clock.Advance(1'000);  // the process was busy (or down) past the expiry
  h_->PollNow();
  EXPECT_TRUE(h_->sink.fired.empty());
  ASSERT_TRUE(h_->queue.RunUntil([&] { return h_->engine().idle(); }));
  EXPECT_EQ(h_->engine().stats().expired, 1u);
  EXPECT_EQ(h_->engine().stats().live, 0u);
  Reopen();
  EXPECT_FALSE(h_->Inspect(1, "late").has_value());
}

TEST_F(EngineTest, CompleteRemovesOnlyTheVersionHandedOut) {
  const AAndB at = FireAAndB();
  const DueReminder a = h_->sink.fired[at.a];
  const DueReminder b = h_->sink.fired[at.b];
  // "a" changes after it was handed out: the old handout's completion must
  // not remove the new version.
  ASSERT_EQ(*h_->ScheduleOne(h_->Reminder("a", 100, "v2")), ScheduleResult::kReplaced);
  ASSERT_TRUE(h_->Complete({{{TenantId{1}, "a"}, a.seq}, {{TenantId{1}, "b"}, b.seq}}).ok());
  EXPECT_FALSE(h_->Inspect(1, "b").has_value());
  auto state = h_->Inspect(1, "a");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->spec.payload, "v2");
  EXPECT_TRUE(state->in_wheel);
  EXPECT_EQ(h_->engine().stats().completed, 1u);
}

// While a cancel of a durable reminder is in flight, every reader sees the
// reminder gone, and writes queued behind it build on that.
TEST_F(EngineTest, ACancelInFlightHidesTheReminderFromEveryReader) {
  ASSERT_TRUE(h_->ScheduleOne(h_->Reminder("a", 0, "v1")).ok());
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 1u);
  DueReminder handed = h_->sink.fired[0];
  const ReminderKey key{TenantId{1}, "a"};
  std::optional<absl::Status> first, second, completed;
  std::optional<absl::StatusOr<ScheduleResult>> rescheduled;
  h_->engine().Cancel({key}, [&](auto r) { first = r[0]; });
  EXPECT_FALSE(h_->engine().IsCurrent(handed));
  EXPECT_FALSE(h_->engine().IsLive(HashKey(key.tenant, key.key)));
  EXPECT_FALSE(h_->Inspect(1, "a").has_value());
  h_->engine().Cancel({key}, [&](auto r) { second = r[0]; });
  h_->engine().Complete({{key, handed.seq, handed.slot}}, [&](absl::Status st) { completed = st; });
  h_->engine().Schedule({h_->Reminder("a", 100, "v2")}, [&](auto r) { rescheduled = r[0]; });
  ASSERT_TRUE(h_->queue.RunUntil([&] { return first && second && completed && rescheduled; }));
  EXPECT_TRUE(first->ok()) << *first;
  EXPECT_TRUE(absl::IsNotFound(*second)) << *second;
  EXPECT_TRUE(completed->ok()) << *completed;
  ASSERT_TRUE(rescheduled->ok());
  EXPECT_EQ(**rescheduled, ScheduleResult::kCreated);
  EngineStats stats = h_->engine().stats();
  EXPECT_EQ(stats.cancelled, 1u);
  EXPECT_EQ(stats.completed, 0u);
  EXPECT_EQ(stats.live, 1u);
  auto state = h_->Inspect(1, "a");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->spec.payload, "v2");
  EXPECT_FALSE(h_->engine().IsCurrent(handed));
}

TEST_F(EngineTest, AnswersComeInRequestOrderEvenWhenNothingIsWritten) {
  std::vector<int> order;
  ReminderSpec r = h_->Reminder("k", 100);
  h_->engine().Schedule({r}, [&](auto) { order.push_back(1); });
  h_->engine().Schedule({r}, [&](auto res) {
    EXPECT_EQ(*res[0], ScheduleResult::kUnchanged);
    order.push_back(2);
  });
  h_->engine().Cancel({{TenantId{1}, "none"}}, [&](auto) { order.push_back(3); });
  ASSERT_TRUE(h_->queue.RunUntil([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(EngineTest, RestartRebuildsTheSameStateAndFiresPastDueOldestFirst) {
  std::vector<ReminderSpec> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back(h_->Reminder("r" + std::to_string(i), 1'000 + (i * 7919) % 50'000,
                                 "p" + std::to_string(i)));
  }
  for (auto& res : h_->Schedule(batch)) ASSERT_TRUE(res.ok());
  ASSERT_TRUE(h_->Cancel({{TenantId{1}, "r3"}, {TenantId{1}, "r4"}})[0].ok());
  ASSERT_TRUE(h_->Reschedule({TenantId{1}, "r5"}, h_->clock.now_ms() + 70'000).ok());
  Reopen();
  EXPECT_EQ(h_->engine().stats().live, 48u);
  auto r5 = h_->Inspect(1, "r5");
  ASSERT_TRUE(r5.has_value());
  EXPECT_EQ(r5->spec.due_ms, h_->clock.now_ms() + 70'000);
  EXPECT_FALSE(h_->Inspect(1, "r3").has_value());
  // The server was down for a minute and a half: everything is past due and
  // must fire at once, oldest first.
  h_->clock.Advance(90'000);
  Reopen();
  h_->PollNow();
  ASSERT_EQ(h_->sink.fired.size(), 48u);
  for (size_t i = 1; i < h_->sink.fired.size(); ++i) {
    EXPECT_LE(h_->sink.fired[i - 1].reminder.due_ms, h_->sink.fired[i].reminder.due_ms);
  }
  EXPECT_EQ(h_->sink.fired.back().reminder.key, "r5");
}

// Schedules, cancels and completions of fired versions submitted without
// waiting for one another, with polls in between, against a model of what
// each write sees when it is submitted (read-your-writes): every answer is
// the model's, and the state after the writes land, and after a reopen, is
// the model's. In-flight cancels mark handles or add overlay entries
// depending on what came before them; this mixes both.
TEST(EngineModelTest, PipelinedWritesSeeEachOtherAndLandAsSubmitted) {
  TempDir dir;
  EngineHarness h(dir.Sub("db"));
  ASSERT_TRUE(h.Open().ok());
  struct Live {
    std::string payload;
    int64_t due_ms = 0;
    SeqNo fired_seq = 0;  // the version handed out, while it is the latest
  };
  std::map<std::string, Live> model;
  std::mt19937 rng(11);
  size_t fired_seen = 0;
  int mismatches = 0;
  uint64_t answers = 0, submitted = 0;
  const int64_t now = h.clock.now_ms();
  for (int round = 0; round < 150; ++round) {
    for (int i = 0; i < 40; ++i) {
      std::string key = "k" + std::to_string(rng() % 50);
      unsigned what = rng() % 10;
      if (what < 5) {
        // Due now (fires at the next poll once durable) or in an hour; two
        // payloads, so that some writes are unchanged.
        int64_t due_in = rng() % 2 == 0 ? 0 : 3'600'000;
        std::string payload = "v" + std::to_string(rng() % 2);
        ScheduleResult expected = ScheduleResult::kCreated;
        auto it = model.find(key);
        if (it != model.end()) {
          expected = it->second.payload == payload && it->second.due_ms == now + due_in
                         ? ScheduleResult::kUnchanged
                         : ScheduleResult::kReplaced;
        }
        if (expected != ScheduleResult::kUnchanged) model[key] = Live{payload, now + due_in, 0};
        ++submitted;
        h.engine().Schedule({h.Reminder(key, due_in, payload)}, [&, expected, key](auto r) {
          ++answers;
          if (!r[0].ok() || *r[0] != expected) {
            ++mismatches;
            ADD_FAILURE() << "schedule " << key << ": " << r[0].status();
          }
        });
      } else if (what < 8) {
        bool expected = model.erase(key) != 0;
        ++submitted;
        h.engine().Cancel({{TenantId{1}, key}}, [&, expected, key](auto r) {
          ++answers;
          if (r[0].ok() != expected || (!expected && !absl::IsNotFound(r[0]))) {
            ++mismatches;
            ADD_FAILURE() << "cancel " << key << ": " << r[0];
          }
        });
      } else if (fired_seen > 0) {
        const DueReminder& d = h.sink.fired[rng() % fired_seen];
        auto it = model.find(d.reminder.key);
        if (it != model.end() && it->second.fired_seq == d.seq) model.erase(it);
        ++submitted;
        h.engine().Complete({CompletionRef::Of(d)}, [&](absl::Status st) {
          ++answers;
          if (!st.ok()) ++mismatches;
        });
      }
      if (rng() % 8 == 0) {
        // Fires what is due and durable; nothing for a key with a write in
        // flight, so a fired version is the model's latest for its key.
        h.engine().Poll(now, h.sink, 1 << 16);
        for (; fired_seen < h.sink.fired.size(); ++fired_seen) {
          const DueReminder& d = h.sink.fired[fired_seen];
          auto it = model.find(d.reminder.key);
          ASSERT_NE(it, model.end()) << d.reminder.key;
          EXPECT_EQ(it->second.payload, d.reminder.payload);
          it->second.fired_seq = d.seq;
        }
      }
    }
    ASSERT_TRUE(h.queue.RunUntil([&] { return answers == submitted && h.engine().idle(); }));
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(h.engine().stats().cancelled, 100u);
  EXPECT_GT(h.engine().stats().completed, 50u);
  auto expect_model = [&] {
    EXPECT_EQ(h.engine().stats().live, model.size());
    for (int k = 0; k < 50; ++k) {
      std::string key = "k" + std::to_string(k);
      auto state = h.Inspect(1, key);
      auto it = model.find(key);
      ASSERT_EQ(state.has_value(), it != model.end()) << key;
      if (state) {
        EXPECT_EQ(state->spec.payload, it->second.payload) << key;
      }
    }
  };
  expect_model();
  h.Close();
  ASSERT_TRUE(h.Open().ok());
  expect_model();
}

// A store that refuses writes after ~5 000 reminders of 500 bytes.
EngineOptions SmallStore() {
  EngineOptions options;
  options.store.initial_map_bytes = 1 << 20;
  options.store.max_map_bytes = 3 << 20;
  return options;
}

TEST(EngineFullStoreTest, RefusesWritesClearlyKeepsAcknowledgedAndResumesWithRoom) {
  TempDir dir;
  EngineHarness h(dir.Sub("db"), SmallStore());
  ASSERT_TRUE(h.Open().ok());
  std::map<std::string, ReminderSpec> acked;
  absl::Status failure;
  for (int i = 0; i < 100'000 && failure.ok(); ++i) {
    auto r = h.Reminder("key-" + std::to_string(i), 60'000, std::string(500, 'p'));
    auto res = h.ScheduleOne(r);
    if (res.ok()) {
      acked[r.key] = r;
    } else {
      failure = res.status();
    }
  }
  ASSERT_TRUE(absl::IsResourceExhausted(failure)) << failure;
  // Reads, cancels of nothing and firing go on.
  EXPECT_TRUE(h.Inspect(1, "key-0").has_value());
  h.clock.Advance(60'000);
  h.PollNow();
  EXPECT_EQ(h.sink.fired.size(), acked.size());
  // Restart with a larger maximum: every acknowledged reminder is there and
  // writes work again.
  h.Close();
  h.options().store.max_map_bytes = 64 << 20;
  ASSERT_TRUE(h.Open().ok());
  EXPECT_EQ(h.engine().stats().live, acked.size());
  for (const auto& [key, spec] : acked) {
    auto state = h.Inspect(1, key);
    ASSERT_TRUE(state.has_value()) << key;
    EXPECT_EQ(state->spec, spec);
  }
  EXPECT_TRUE(h.ScheduleOne(h.Reminder("after", 10)).ok());
}

// A cancel of a durable reminder marks its handle instead of writing an
// overlay entry. When the store refuses the cancel (and the one pipelined
// behind it), both reminders must be live again for every reader: a second
// cancel is refused for the same reason (not "no reminder"), and they fire.
TEST(EngineFullStoreTest, RefusedCancelsLeaveTheirRemindersLive) {
  TempDir dir;
  EngineHarness h(dir.Sub("db"), SmallStore());
  ASSERT_TRUE(h.Open().ok());
  int scheduled = 0;
  for (; scheduled < 100'000; ++scheduled) {
    auto r = h.Reminder("key-" + std::to_string(scheduled), 60'000, std::string(500, 'p'));
    if (!h.ScheduleOne(r).ok()) break;
  }
  ASSERT_LT(scheduled, 100'000);
  // A tombstone is small: a few may still fit. Two cancels in flight at a
  // time until both are refused.
  std::string a, b;
  int cancelled = 0;
  for (int i = 0; i + 1 < scheduled; i += 2) {
    std::optional<absl::Status> ra, rb;
    std::string ka = "key-" + std::to_string(i), kb = "key-" + std::to_string(i + 1);
    h.engine().Cancel({{TenantId{1}, ka}}, [&](auto r) { ra = r[0]; });
    h.engine().Cancel({{TenantId{1}, kb}}, [&](auto r) { rb = r[0]; });
    ASSERT_TRUE(h.queue.RunUntil([&] { return ra && rb; }));
    cancelled += ra->ok() + rb->ok();
    if (!ra->ok() && !rb->ok()) {
      EXPECT_TRUE(absl::IsResourceExhausted(*ra)) << *ra;
      // In the same commit, the same error; in the next one, refused
      // because the write before it failed.
      EXPECT_TRUE(absl::IsResourceExhausted(*rb) || absl::IsAborted(*rb)) << *rb;
      a = ka;
      b = kb;
      break;
    }
  }
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(h.Inspect(1, a).has_value());
  EXPECT_TRUE(h.Inspect(1, b).has_value());
  EXPECT_TRUE(h.engine().IsLive(HashKey(TenantId{1}, b)));
  auto again = h.Cancel({{TenantId{1}, b}});
  EXPECT_TRUE(absl::IsResourceExhausted(again[0])) << again[0];
  h.clock.Advance(60'000);
  h.PollNow();
  std::set<std::string> fired;
  for (const auto& d : h.sink.fired) fired.insert(d.reminder.key);
  EXPECT_EQ(fired.size(), static_cast<size_t>(scheduled - cancelled));
  EXPECT_TRUE(fired.contains(a));
  EXPECT_TRUE(fired.contains(b));
}

}  // namespace
}  // namespace rappel::server
