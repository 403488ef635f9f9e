// Dispatcher over a real engine and store: attempt counts and dead letters
// are durable (they survive a reopen, and compaction), replay is durable.
#include "server/dispatch/dispatcher.h"

#include <map>
#include <memory>
#include <set>

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::FakeClock;
using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

// What the worker got, owned (LeasedMessage only points into the dispatcher).
struct Delivered {
  std::string message_id;
  uint64_t lease_id = 0;
  uint32_t attempt = 0;
  ReminderSpec reminder;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_options_.store.path = dir_.Sub("db");
    dispatch_options_.max_attempts = 3;
    dispatch_options_.backoff_base_ms = 1000;
    dispatch_options_.lease_timeout_ms = 60'000;
    Open();
  }
  void TearDown() override { Close(); }

  void Open() {
    engine_options_.clock = clock_.AsFunction();
    auto engine = Engine::Open(engine_options_, queue_.Poster());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    dispatcher_ = std::make_unique<Dispatcher>(engine_.get(), filter_for_open_, dispatch_options_,
                                               clock_.AsFunction(), [this] { ++wakes_; });
    ASSERT_TRUE(dispatcher_->Recover().ok());
    queue_.RunUntil([&] { return engine_->idle(); });
    worker_ = AddWorker();
  }
  // A worker of SMS (100 in flight, 100 a batch unless `o` says) whose
  // deliveries go to delivered_.
  uint64_t AddWorker(WorkerOptions o = {}) {
    if (o.channels.empty()) o.channels = {Channel::kSms};
    if (o.max_in_flight == 0) o.max_in_flight = 100;
    if (o.batch_size == 0) o.batch_size = 100;
    absl::StatusOr<uint64_t> id =
        dispatcher_->AddWorker(std::move(o), [this](const std::vector<LeasedMessage>& b) {
          // The messages point into the dispatcher: copy them.
          for (const auto& m : b) {
            delivered_.push_back(
                Delivered{std::string(m.message_id), m.lease_id, m.attempt, *m.reminder});
          }
        });
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(0);
  }
  void Close() {
    if (!engine_) return;
    queue_.RunUntil([&] { return engine_->idle(); });
    engine_.reset();
    queue_.RunPending();
    dispatcher_.reset();
    delivered_.clear();
  }
  void Reopen() {
    Close();
    Open();
  }

  void Schedule(const std::string& key, int64_t due_in_ms, uint32_t tenant = 1) {
    ReminderSpec r;
    r.tenant = TenantId{tenant};
    r.key = key;
    r.channel = Channel::kSms;
    r.recipient = "+33600000000";
    r.due_ms = clock_.now_ms() + due_in_ms;
    r.payload = "hello " + key;
    bool done = false;
    engine_->Schedule({r}, [&](auto results) {
      EXPECT_TRUE(results[0].ok()) << results[0].status();
      done = true;
    });
    ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  }
  void Poll() {
    while (!engine_->Poll(clock_.now_ms(), *dispatcher_, 1 << 16)) {
    }
    queue_.RunPending();
  }
  // Polls and returns what the worker got since the last call.
  std::vector<Delivered> Deliveries() {
    Poll();
    std::vector<Delivered> out = std::move(delivered_);
    delivered_.clear();
    return out;
  }
  absl::Status Ack(const Delivered& m, AckOutcome outcome, const std::string& detail = "") {
    absl::Status out = absl::UnknownError("not answered");
    bool done = false;
    dispatcher_->Ack(worker_, m.lease_id, outcome, detail, [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return out;
  }
  absl::Status Replay(const std::string& key, uint32_t tenant = 1) {
    absl::Status out = absl::UnknownError("not answered");
    bool done = false;
    dispatcher_->ReplayDeadLetter({TenantId{tenant}, key}, [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return out;
  }
  std::vector<DeadLetter> DeadLetters(std::optional<TenantId> tenant = std::nullopt,
                                      size_t limit = 100) {
    auto letters = dispatcher_->ListDeadLetters(tenant, limit);
    EXPECT_TRUE(letters.ok()) << letters.status();
    return letters.ok() ? *letters : std::vector<DeadLetter>{};
  }
  bool Live(const std::string& key, uint32_t tenant = 1) {
    auto s = engine_->Inspect({TenantId{tenant}, key});
    EXPECT_TRUE(s.ok());
    return s.ok() && s->has_value();
  }
  // Makes `key` a dead letter through a permanent failure.
  void KillIt(const std::string& key, uint32_t tenant = 1, const std::string& detail = "no such number") {
    Schedule(key, 0, tenant);
    auto got = Deliveries();
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedPermanent, detail).ok());
  }

  TempDir dir_;
  FakeClock clock_;
  TaskQueue queue_;
  EngineOptions engine_options_;
  DispatchOptions dispatch_options_;
  MessageFilter* filter_for_open_ = nullptr;  // given to the dispatcher by Open
  int wakes_ = 0;  // the owner was asked to re-arm its timer
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Engine> engine_;
  uint64_t worker_ = 0;
  std::vector<Delivered> delivered_;
};

TEST_F(DispatcherTest, DeadLetterSurvivesReopen) {
  int64_t at = clock_.now_ms();
  KillIt("a", 1, "invalid number");
  EXPECT_FALSE(Live("a"));
  ASSERT_EQ(DeadLetters().size(), 1u);
  Reopen();
  auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reminder.key, "a");
  EXPECT_EQ(letters[0].reminder.payload, "hello a");
  EXPECT_EQ(letters[0].attempts, 1u);
  EXPECT_EQ(letters[0].last_detail, "invalid number");
  EXPECT_EQ(letters[0].dead_at_ms, at);
  EXPECT_EQ(dispatcher_->stats().dead_letters, 1u);
  EXPECT_EQ(dispatcher_->dead_letters_of(TenantId{1}), 1u);
  EXPECT_FALSE(Live("a"));
  EXPECT_TRUE(Deliveries().empty()) << "a dead letter must not be delivered again";
}

TEST_F(DispatcherTest, AttemptsSurviveReopen) {
  Schedule("r", 0);
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 1u);
  std::string id = got[0].message_id;
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable, "busy").ok());
  EXPECT_EQ(dispatcher_->stats().retrying, 1u);
  Reopen();  // a crash between attempts: the count holds
  EXPECT_EQ(dispatcher_->stats().retrying, 1u);
  clock_.Advance(1000);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
  EXPECT_EQ(got[0].message_id, id) << "the message id is stable across restarts";
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable, "busy").ok());
  Reopen();
  clock_.Advance(2000);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 3u);
  // The third failure reaches max_attempts = 3: dead letter, even though
  // two restarts came in between.
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable, "still busy").ok());
  Reopen();
  auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].attempts, 3u);
  EXPECT_EQ(letters[0].last_detail, "still busy");
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  EXPECT_FALSE(Live("r"));
}

TEST_F(DispatcherTest, SuccessAfterRetryForgetsAttempts) {
  Schedule("r", 0);
  auto got = Deliveries();
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable).ok());
  clock_.Advance(1000);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(Ack(got[0], AckOutcome::kDelivered).ok());
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  Reopen();
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  // Scheduled again under the same key: a new message, attempt 1.
  Schedule("r", 0);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 1u);
}

TEST_F(DispatcherTest, CancelForgetsAttempts) {
  Schedule("r", 0);
  auto got = Deliveries();
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable).ok());
  bool done = false;
  dispatcher_->Cancel({{TenantId{1}, "r"}}, [&](std::vector<absl::Status> results) {
    EXPECT_TRUE(results[0].ok());
    done = true;
  });
  ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  Reopen();
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
}

TEST_F(DispatcherTest, ReplaySurvivesReopen) {
  KillIt("a");
  ASSERT_TRUE(Replay("a").ok());
  EXPECT_TRUE(DeadLetters().empty());
  EXPECT_TRUE(absl::IsNotFound(Replay("a")));
  Reopen();
  EXPECT_TRUE(DeadLetters().empty());
  EXPECT_EQ(dispatcher_->stats().dead_letters, 0u);
  ASSERT_TRUE(Live("a"));
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reminder.key, "a");
  EXPECT_EQ(got[0].attempt, 1u);
  EXPECT_EQ(got[0].reminder.payload, "hello a");
}

TEST_F(DispatcherTest, ReplayOfUnknownKeyIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(Replay("nothing")));
}

TEST_F(DispatcherTest, ListsByTenantOldestFirstWithLimit) {
  KillIt("t1-a", 1);
  clock_.Advance(10);
  KillIt("t2-a", 2);
  clock_.Advance(10);
  KillIt("t1-b", 1);
  clock_.Advance(10);
  KillIt("t1-c", 1);
  Reopen();
  auto all = DeadLetters();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].reminder.key, "t1-a");
  EXPECT_EQ(all[1].reminder.key, "t2-a");
  EXPECT_EQ(all[2].reminder.key, "t1-b");
  EXPECT_EQ(all[3].reminder.key, "t1-c");
  auto t1 = DeadLetters(TenantId{1}, 2);
  ASSERT_EQ(t1.size(), 2u);
  EXPECT_EQ(t1[0].reminder.key, "t1-a");
  EXPECT_EQ(t1[1].reminder.key, "t1-b");
  auto t2 = DeadLetters(TenantId{2});
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_EQ(t2[0].reminder.tenant.value, 2u);
  EXPECT_TRUE(DeadLetters(TenantId{3}).empty());
  EXPECT_EQ(DeadLetters(std::nullopt, 1).size(), 1u);
}

TEST_F(DispatcherTest, MaxDeadLettersDropsTheOldestDurably) {
  Close();
  dispatch_options_.max_dead_letters = 2;
  Open();
  KillIt("a");
  clock_.Advance(10);
  KillIt("b");
  clock_.Advance(10);
  KillIt("c");
  EXPECT_EQ(dispatcher_->stats().dead_letters_dropped, 1u);
  Reopen();
  auto all = DeadLetters();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].reminder.key, "b");
  EXPECT_EQ(all[1].reminder.key, "c");
}

TEST_F(DispatcherTest, DeadAgainReplacesTheOlderDeadLetter) {
  KillIt("a", 1, "first");
  clock_.Advance(10);
  KillIt("a", 1, "second");
  auto all = DeadLetters();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].last_detail, "second");
  Reopen();
  all = DeadLetters();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].last_detail, "second");
}

TEST_F(DispatcherTest, CompactionKeepsDeadLettersAndAttempts) {
  KillIt("dead");
  Schedule("retry", 0);
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable).ok());
  // Garbage: versions replaced many times.
  for (int i = 0; i < 50; ++i) Schedule("churn", 3'600'000 + i);
  bool done = false;
  absl::StatusOr<CompactionResult> result;
  engine_->CompactNow([&](absl::StatusOr<CompactionResult> r) {
    result = r;
    done = true;
  });
  ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(result->log_records_after, result->log_records_before);
  EXPECT_EQ(result->log_records_after, 2u) << "retry and churn are the only live records";
  Reopen();
  ASSERT_EQ(DeadLetters().size(), 1u);
  EXPECT_EQ(dispatcher_->stats().retrying, 1u);
  clock_.Advance(1000);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reminder.key, "retry");
  EXPECT_EQ(got[0].attempt, 2u);
}

}  // namespace
}  // namespace rappel::server

namespace rappel::server {
namespace {

TEST_F(DispatcherTest, AVersionReplacedAfterFallingDueIsNeverHandedOut) {
  dispatcher_->RemoveWorker(worker_);
  Schedule("a", 0);
  Poll();  // due, waiting in the ready queue: no worker
  Schedule("a", 60'000);  // the platform moved it
  worker_ = AddWorker();
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_EQ(dispatcher_->stats().stale_dropped, 1u);
  clock_.Advance(60'000);
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);  // the new version, at its new time
  EXPECT_EQ(got[0].reminder.due_ms, clock_.now_ms());
}

// Claims "@a/..." keys: renders them, drops those whose payload says so.
class FakeFilter : public MessageFilter {
 public:
  bool Claims(const ReminderSpec& r) const override { return r.key.rfind("@a/", 0) == 0; }
  Prepared Prepare(const ReminderSpec& r) override {
    Prepared p;
    if (r.payload == "drop") {
      p.deliver = false;
      p.drop_reason = "status seen";
      p.writes.push_back({"audit/" + r.key, "suppressed", false});
      return p;
    }
    p.payload = "rendered(" + r.payload + ")";
    p.recipient = "+33611111111";
    return p;
  }
  void OnOutcome(const ReminderSpec& r, AckOutcome outcome, std::string_view detail,
                 Engine::StateWrites* writes) override {
    outcomes.emplace_back(r.key, outcome);
    writes->push_back({"audit/" + r.key, std::string("outcome ") + std::string(detail), false});
  }
  std::vector<std::pair<std::string, AckOutcome>> outcomes;
};

class FilteredDispatcherTest : public DispatcherTest {
 protected:
  void SetUp() override {
    filter_for_open_ = &filter_;
    DispatcherTest::SetUp();
  }
  std::optional<std::string> State(const std::string& key) {
    auto reader = engine_->store().NewReader();
    EXPECT_TRUE(reader.ok());
    auto v = reader->GetState(key);
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : std::nullopt;
  }
  void ScheduleWithPayload(const std::string& key, const std::string& payload) {
    ReminderSpec r;
    r.tenant = TenantId{1};
    r.key = key;
    r.channel = Channel::kSms;
    r.recipient = "+33600000000";
    r.due_ms = clock_.now_ms();
    r.payload = payload;
    bool done = false;
    engine_->Mutate({r}, {}, {}, [&](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      done = true;
    });
    ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  }
  FakeFilter filter_;
};

TEST_F(FilteredDispatcherTest, ClaimedMessagesAreRenderedAndKeepOneIdAcrossVersions) {
  ScheduleWithPayload("@a/appt-1/reminder/sms/86400", "r1");
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reminder.payload, "rendered(r1)");
  EXPECT_EQ(got[0].reminder.recipient, "+33611111111");
  EXPECT_EQ(got[0].message_id, "1:@a/appt-1/reminder/sms/86400");  // no version in it
  ASSERT_TRUE(Ack(got[0], AckOutcome::kSent, "provider id 42").ok());
  ASSERT_EQ(filter_.outcomes.size(), 1u);
  EXPECT_EQ(State("audit/@a/appt-1/reminder/sms/86400"), "outcome provider id 42");
  // A raw reminder is not the filter's: untouched, and its id names its version.
  Schedule("raw", 0);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reminder.payload, "hello raw");
  EXPECT_NE(got[0].message_id, "1:raw");
}

TEST_F(FilteredDispatcherTest, AMessageTheFilterDropsIsCompletedWithItsWrites) {
  ScheduleWithPayload("@a/appt-2/reminder/sms/86400", "drop");
  EXPECT_TRUE(Deliveries().empty());
  queue_.RunUntil([&] { return engine_->idle(); });
  EXPECT_FALSE(Live("@a/appt-2/reminder/sms/86400"));
  EXPECT_EQ(State("audit/@a/appt-2/reminder/sms/86400"), "suppressed");
  EXPECT_EQ(dispatcher_->stats().filter_dropped, 1u);
}

}  // namespace
}  // namespace rappel::server

namespace rappel::server {
namespace {

// Compaction re-appends live records under new numbers. A record handed to a
// worker is live until its ack: the ack of the number handed out must still
// complete it, and a failure must still reschedule it, after the move.
void CompactAll(Engine* engine, TaskQueue* queue) {
  bool done = false;
  absl::StatusOr<CompactionResult> result;
  engine->CompactNow([&](absl::StatusOr<CompactionResult> r) {
    result = r;
    done = true;
  });
  ASSERT_TRUE(queue->RunUntil([&] { return done; }));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GE(result->relocated, 1u);
}

TEST_F(DispatcherTest, AnAckCompletesALeaseWhoseRecordCompactionMoved) {
  Schedule("leased", 0);
  Schedule("later", 3'600'000);
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  CompactAll(engine_.get(), &queue_);
  ASSERT_TRUE(Ack(got[0], AckOutcome::kDelivered).ok());
  EXPECT_EQ(engine_->stats().live, 1u) << "only 'later' is left";
  EXPECT_EQ(engine_->stats().completed, 1u);
  Reopen();
  EXPECT_EQ(engine_->stats().live, 1u);
  EXPECT_TRUE(Deliveries().empty()) << "the acked message came back after a restart";
}

TEST_F(DispatcherTest, AFailureReschedulesALeaseWhoseRecordCompactionMoved) {
  Schedule("leased", 0);
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  CompactAll(engine_.get(), &queue_);
  ASSERT_TRUE(Ack(got[0], AckOutcome::kFailedRetryable).ok());
  clock_.Advance(1000);
  got = Deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
  CompactAll(engine_.get(), &queue_);
  ASSERT_TRUE(Ack(got[0], AckOutcome::kSent).ok());
  EXPECT_EQ(engine_->stats().live, 0u);
}

TEST_F(DispatcherTest, ALeaseWhoseRecordCompactionMovedIsNotDeliveredTwice) {
  dispatcher_->RemoveWorker(worker_);
  Schedule("waiting", 0);
  Poll();  // due, in the ready queue: no worker yet
  CompactAll(engine_.get(), &queue_);
  worker_ = AddWorker();
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 1u) << "a moved record is the same message, not a stale one";
  EXPECT_EQ(dispatcher_->stats().stale_dropped, 0u);
  // A waiting message holds no content: it is read at lease time, from
  // where compaction moved it.
  EXPECT_EQ(got[0].reminder.key, "waiting");
  EXPECT_EQ(got[0].reminder.payload, "hello waiting");
  EXPECT_EQ(got[0].reminder.recipient, "+33600000000");
  ASSERT_TRUE(Ack(got[0], AckOutcome::kSent).ok());
  EXPECT_EQ(engine_->stats().live, 0u);
}

// A lease keeps only its reference and key once delivered: every later
// use of the message reads it again from the log, and must get all of it.
ReminderSpec ScheduleLong(Engine* engine, TaskQueue* queue, int64_t due_ms) {
  ReminderSpec r;
  r.tenant = TenantId{1};
  r.key = "a-key-longer-than-the-small-string-buffer";
  r.channel = Channel::kSms;
  r.recipient = "+33611223344 (a recipient past the small buffer)";
  r.due_ms = due_ms;
  r.payload = std::string(300, 'p') + "end";
  bool done = false;
  engine->Schedule({r}, [&](auto results) {
    EXPECT_TRUE(results[0].ok()) << results[0].status();
    done = true;
  });
  EXPECT_TRUE(queue->RunUntil([&] { return done; }));
  return r;
}

TEST_F(DispatcherTest, AMessageLeasedAgainCarriesTheContentOfItsFirstLease) {
  ReminderSpec r = ScheduleLong(engine_.get(), &queue_, clock_.now_ms());
  auto first = Deliveries();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].reminder, r);
  // Its lease expires: leased again (to the same worker, whose output is
  // not backed up).
  clock_.Advance(dispatch_options_.lease_timeout_ms + 1);
  dispatcher_->ExpireLeases(clock_.now_ms());
  auto again = Deliveries();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(again[0].reminder, r);
  EXPECT_EQ(again[0].message_id, first[0].message_id);
  // A retryable failure of a slim lease: rescheduled by its key, same id.
  ASSERT_TRUE(Ack(again[0], AckOutcome::kFailedRetryable).ok());
  clock_.Advance(60'000);
  auto third = Deliveries();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].attempt, 3u);
  EXPECT_EQ(third[0].reminder.payload, r.payload);
  EXPECT_EQ(third[0].reminder.recipient, r.recipient);
  EXPECT_EQ(third[0].message_id, first[0].message_id);
  // Its worker leaves: leased to another, whole again.
  uint64_t other = AddWorker();
  dispatcher_->RemoveWorker(worker_);
  worker_ = other;
  auto fourth = Deliveries();
  ASSERT_EQ(fourth.size(), 1u);
  EXPECT_EQ(fourth[0].reminder.payload, r.payload);
  EXPECT_EQ(fourth[0].reminder.recipient, r.recipient);
  EXPECT_EQ(fourth[0].message_id, first[0].message_id);
  ASSERT_TRUE(Ack(fourth[0], AckOutcome::kSent).ok());
  EXPECT_EQ(engine_->stats().live, 0u);
}

TEST_F(DispatcherTest, ADeadLetterOfExpiredLeasesKeepsAndReplaysTheWholeMessage) {
  ReminderSpec r = ScheduleLong(engine_.get(), &queue_, clock_.now_ms());
  std::string id;
  for (uint32_t attempt = 1; attempt <= dispatch_options_.max_attempts; ++attempt) {
    auto got = Deliveries();
    ASSERT_EQ(got.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(got[0].reminder, r);
    clock_.Advance(dispatch_options_.lease_timeout_ms + 1);
    dispatcher_->ExpireLeases(clock_.now_ms());
  }
  queue_.RunUntil([&] { return engine_->idle(); });
  EXPECT_FALSE(Live(r.key));
  auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reminder, r);
  EXPECT_EQ(letters[0].attempts, dispatch_options_.max_attempts);
  EXPECT_NE(letters[0].last_detail.find("lease expired"), std::string::npos);
  ASSERT_TRUE(Replay(r.key).ok());
  auto replayed = Deliveries();
  ASSERT_EQ(replayed.size(), 1u);
  ReminderSpec want = r;
  want.due_ms = replayed[0].reminder.due_ms;  // due again at the replay
  EXPECT_EQ(replayed[0].reminder, want);
  EXPECT_EQ(replayed[0].reminder.recipient, r.recipient);
  EXPECT_EQ(replayed[0].reminder.payload, r.payload);
}

TEST_F(DispatcherTest, ADeliveryStopsAtMaxBatchBytes) {
  Close();
  // ~130 bytes each short message (96 of frame overhead): 3 a batch.
  dispatch_options_.max_batch_bytes = 300;
  Open();
  dispatcher_->RemoveWorker(worker_);
  for (int i = 0; i < 10; ++i) Schedule("k" + std::to_string(i), 0);
  Poll();
  std::vector<size_t> batches;
  absl::StatusOr<uint64_t> id = dispatcher_->AddWorker(
      WorkerOptions{{Channel::kSms}, 100, 100, std::nullopt, {}},
      [&](const std::vector<LeasedMessage>& b) { batches.push_back(b.size()); });
  ASSERT_TRUE(id.ok());
  size_t total = 0;
  for (size_t n : batches) {
    EXPECT_LE(n, 3u) << "a batch stops past max_batch_bytes";
    total += n;
  }
  EXPECT_EQ(total, 10u);
  EXPECT_GE(batches.size(), 4u);
  // A message larger than the bound still goes, alone.
  batches.clear();
  ScheduleLong(engine_.get(), &queue_, clock_.now_ms());
  Poll();
  EXPECT_EQ(batches, std::vector<size_t>{1u});
}

// A worker subscribing to a backlog (outside any Poll or commit) is leased
// while no lease was held: the owner is woken to arm its timer for their
// deadline, else they would never expire; further leases need no wake.
TEST_F(DispatcherTest, FirstLeasesOutsideAPollWakeTheOwnerForTheirDeadline) {
  dispatcher_->RemoveWorker(worker_);
  for (int i = 0; i < 3; ++i) Schedule("b" + std::to_string(i), 0);
  Poll();
  ASSERT_EQ(dispatcher_->stats().ready, 3u);
  int before = wakes_;
  worker_ = AddWorker(WorkerOptions{{Channel::kSms}, 2, 2, std::nullopt, {}});
  EXPECT_EQ(wakes_, before + 1);
  ASSERT_EQ(dispatcher_->stats().leased, 2u);
  EXPECT_EQ(dispatcher_->NextDeadlineMs(), clock_.now_ms() + dispatch_options_.lease_timeout_ms);
  auto got = Deliveries();
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(Ack(got[0], AckOutcome::kSent).ok());  // leases the third; one was held
  EXPECT_EQ(dispatcher_->stats().leased, 2u);
  EXPECT_EQ(wakes_, before + 1);
}

// Leases that expire in one pass are settled a slice at a time, each slice
// once the previous one is durable: each message re-queued once, then
// dead-lettered once; an ack of a lease whose deadline the pass found
// passed is NotFound even while it waits for its slice, and a lease not
// yet expired is acked as usual meanwhile.
TEST_F(DispatcherTest, LeasesExpiringTogetherAreSettledInSlicesEachOnce) {
  Close();
  dispatch_options_.max_attempts = 2;
  dispatch_options_.expiry_slice_messages = 4;
  Open();
  constexpr int kCount = 30;
  for (int i = 0; i < kCount; ++i) Schedule("e" + std::to_string(i), 0);
  auto first = Deliveries();
  ASSERT_EQ(first.size(), static_cast<size_t>(kCount));
  clock_.Advance(dispatch_options_.lease_timeout_ms / 2);
  Schedule("later", 0);
  auto later = Deliveries();
  ASSERT_EQ(later.size(), 1u);
  clock_.Advance(dispatch_options_.lease_timeout_ms / 2 + 1);

  // First expiry: one slice submitted, the rest wait.
  dispatcher_->ExpireLeases(clock_.now_ms());
  EXPECT_EQ(dispatcher_->stats().expired_unsettled, static_cast<uint64_t>(kCount - 4));
  EXPECT_TRUE(absl::IsNotFound(Ack(first.back(), AckOutcome::kSent)))
      << "a lease whose deadline the pass found passed is expired, settled or not";
  ASSERT_TRUE(Ack(later[0], AckOutcome::kSent).ok()) << "not expired: acked as usual";
  ASSERT_TRUE(queue_.RunUntil([&] {
    return dispatcher_->stats().expired_unsettled == 0 && engine_->idle();
  }));
  std::map<std::string, uint32_t> again;
  for (const Delivered& d : Deliveries()) {
    EXPECT_EQ(d.attempt, 2u) << d.reminder.key;
    ++again[d.reminder.key];
  }
  ASSERT_EQ(again.size(), static_cast<size_t>(kCount));
  for (const auto& [key, times] : again) EXPECT_EQ(times, 1u) << key << " leased again once";
  EXPECT_EQ(dispatcher_->stats().retrying, static_cast<uint64_t>(kCount));

  // Second expiry, at max_attempts: dead letters, a slice at a time.
  clock_.Advance(dispatch_options_.lease_timeout_ms + 1);
  dispatcher_->ExpireLeases(clock_.now_ms());
  EXPECT_EQ(dispatcher_->stats().expired_unsettled, static_cast<uint64_t>(kCount - 4));
  EXPECT_EQ(dispatcher_->stats().dead_letters, 0u) << "none durable yet";
  ASSERT_TRUE(queue_.RunUntil([&] {
    return dispatcher_->stats().expired_unsettled == 0 && engine_->idle();
  }));
  EXPECT_TRUE(Deliveries().empty());
  std::vector<DeadLetter> letters = DeadLetters(std::nullopt, 1000);
  std::set<std::string> keys;
  for (const DeadLetter& l : letters) {
    EXPECT_EQ(l.attempts, 2u);
    EXPECT_EQ(l.reminder.payload, "hello " + l.reminder.key);
    keys.insert(l.reminder.key);
  }
  EXPECT_EQ(letters.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(keys.size(), static_cast<size_t>(kCount)) << "one dead letter each";
  EXPECT_FALSE(Live("later"));
  EXPECT_EQ(engine_->stats().live, 0u);
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  EXPECT_EQ(dispatcher_->stats().leased, 0u);
}

// Stopped while slices of dead letters are still to go (the engine closed
// with one slice in flight; what it had not been given is lost from
// memory): after a reopen every message is either live or a whole dead
// letter, never both, never neither.
TEST_F(DispatcherTest, StoppedMidExpiryEveryMessageIsLiveOrOneDeadLetter) {
  Close();
  dispatch_options_.max_attempts = 1;
  dispatch_options_.expiry_slice_messages = 3;
  Open();
  constexpr int kCount = 30;
  for (int i = 0; i < kCount; ++i) Schedule("x" + std::to_string(i), 0);
  ASSERT_EQ(Deliveries().size(), static_cast<size_t>(kCount));
  clock_.Advance(dispatch_options_.lease_timeout_ms + 1);
  dispatcher_->ExpireLeases(clock_.now_ms());
  ASSERT_TRUE(queue_.RunUntil([&] { return dispatcher_->stats().dead_letters >= 6; }));
  ASSERT_GT(dispatcher_->stats().expired_unsettled, 0u);
  engine_.reset();  // commits what it was given; later completions are dropped
  queue_.RunPending();
  dispatcher_.reset();
  delivered_.clear();
  Open();
  std::set<std::string> dead;
  for (const DeadLetter& l : DeadLetters(std::nullopt, 1000)) {
    EXPECT_EQ(l.reminder.payload, "hello " + l.reminder.key);
    EXPECT_TRUE(dead.insert(l.reminder.key).second) << l.reminder.key << " dead twice";
  }
  size_t live = 0;
  for (int i = 0; i < kCount; ++i) {
    std::string key = "x" + std::to_string(i);
    bool is_live = Live(key);
    EXPECT_NE(is_live, dead.count(key) == 1) << key << ": live xor a dead letter";
    live += is_live ? 1 : 0;
  }
  EXPECT_GE(dead.size(), 6u);
  EXPECT_GT(live, 0u) << "the slices still to go were not written";
  EXPECT_EQ(live + dead.size(), static_cast<size_t>(kCount));
}

}  // namespace
}  // namespace rappel::server
