// The dispatcher with rate limits, over a real engine and store and a fake
// clock: limits are durable, a spike is spread at the rate and wakes the
// owner when the next token is due, tenants are served fairly, messages
// that cannot make their deadline are reported (and dropped once expired),
// and removing the limits gives the plain FIFO back.
#include <map>
#include <memory>

#include "gtest/gtest.h"
#include "server/dispatch/dispatcher.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::FakeClock;
using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

struct Got {
  uint32_t tenant;
  std::string key;
  int64_t at_ms;
  uint64_t lease_id;
};

class RateLimitedDispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_options_.store.path = dir_.Sub("db");
    options_.rate.log = [this](const std::string& line) { log_.push_back(line); };
    Open();
  }
  void TearDown() override { Close(); }

  void Open() {
    engine_options_.clock = clock_.AsFunction();
    auto engine = Engine::Open(engine_options_, queue_.Poster());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    dispatcher_ = std::make_unique<Dispatcher>(engine_.get(), nullptr, options_, clock_.AsFunction());
    ASSERT_TRUE(dispatcher_->Recover().ok());
    queue_.RunUntil([&] { return engine_->idle(); });
    worker_ = AddWorker(WorkerOptions::kMaxMaxInFlight);
  }
  uint64_t AddWorker(uint32_t max_in_flight,
                     std::optional<std::vector<TenantId>> tenants = std::nullopt) {
    auto id = dispatcher_->AddWorker(
        WorkerOptions{{Channel::kSms, Channel::kEmail}, max_in_flight, 1000, tenants, {}},
        [this](const std::vector<LeasedMessage>& b) {
          for (const auto& m : b) {
            got_.push_back(
                Got{m.reminder->tenant.value, m.reminder->key, clock_.now_ms(), m.lease_id});
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
    got_.clear();
  }

  absl::Status SetLimits(std::vector<RateLimit> limits) {
    absl::Status out = absl::UnknownError("not answered");
    bool done = false;
    dispatcher_->SetRateLimits(std::move(limits), [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return out;
  }
  void Schedule(uint32_t tenant, int n, Channel channel = Channel::kSms, int64_t expiry_in_ms = 0,
                const std::string& prefix = "m") {
    std::vector<ReminderSpec> batch;
    for (int i = 0; i < n; ++i) {
      ReminderSpec r;
      r.tenant = TenantId{tenant};
      r.key = prefix + std::to_string(i);
      r.channel = channel;
      r.recipient = "+33600000000";
      r.due_ms = clock_.now_ms();
      r.expiry_ms = expiry_in_ms == 0 ? 0 : clock_.now_ms() + expiry_in_ms;
      batch.push_back(r);
    }
    bool done = false;
    engine_->Schedule(batch, [&](auto results) {
      for (auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
      done = true;
    });
    ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  }
  // What the owner's timer does: poll the wheel, then ExpireLeases.
  void Tick() {
    while (!engine_->Poll(clock_.now_ms(), *dispatcher_, 1 << 16)) {
    }
    dispatcher_->ExpireLeases(clock_.now_ms());
    queue_.RunPending();
  }
  // Ticks at every wake the dispatcher asks for until `until_ms`.
  void RunUntil(int64_t until_ms) {
    Tick();
    while (true) {
      std::optional<int64_t> next = dispatcher_->NextDeadlineMs();
      if (!next || *next > until_ms) break;
      ASSERT_GT(*next, clock_.now_ms()) << "a wake in the past: the owner would spin";
      clock_.Set(std::max(*next, clock_.now_ms()));
      Tick();
    }
    clock_.Set(until_ms);
    Tick();
  }
  RateLimit Limit(Channel c, std::optional<uint32_t> tenant, uint32_t count, uint32_t burst) {
    RateLimit l;
    l.channel = c;
    if (tenant) l.tenant = TenantId{*tenant};
    l.count = count;
    l.burst = burst;
    return l;
  }

  TempDir dir_;
  FakeClock clock_;
  TaskQueue queue_;
  EngineOptions engine_options_;
  DispatchOptions options_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Engine> engine_;
  uint64_t worker_ = 0;
  std::vector<Got> got_;
  std::vector<std::string> log_;
};

TEST_F(RateLimitedDispatchTest, LimitsAreDurableAndValidated) {
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 50, 100),
                         Limit(Channel::kSms, 7, 5, 0)})
                  .ok());
  EXPECT_FALSE(SetLimits({Limit(Channel::kSms, 8, 5, 0), Limit(static_cast<Channel>(9), 1, 1, 1)})
                   .ok());
  Close();
  Open();
  std::vector<RateLimit> limits = dispatcher_->RateLimits();
  ASSERT_EQ(limits.size(), 2u);  // tenant 8's was in the refused request
  EXPECT_EQ(ToString(limits[0]), "sms 50/s burst 100");
  EXPECT_EQ(ToString(limits[1]), "tenant 7 sms 5/s burst 5");
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, 7, 0, 0)}).ok());  // removed
  Close();
  Open();
  EXPECT_EQ(dispatcher_->RateLimits().size(), 1u);
}

TEST_F(RateLimitedDispatchTest, ASpikeIsSpreadAtTheRateAndWakesForTheNextToken) {
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 10, 5)}).ok());
  const int64_t t0 = clock_.now_ms();
  Schedule(1, 25);
  Schedule(1, 3, Channel::kEmail, 0, "e");  // another channel: not limited
  Tick();
  EXPECT_EQ(got_.size(), 5u + 3u);  // the burst, and every e-mail
  DispatchStats s = dispatcher_->stats();
  EXPECT_EQ(s.rate_waiting, 20u);
  EXPECT_EQ(s.rate_waiting_by_channel[static_cast<int>(Channel::kSms)], 20u);
  EXPECT_EQ(s.ready, 0u);
  EXPECT_EQ(dispatcher_->NextDeadlineMs(), t0 + 100);
  RunUntil(t0 + 2000);
  ASSERT_EQ(got_.size(), 28u);
  // One every 100 ms after the burst.
  std::vector<int64_t> sms_at;
  for (const Got& g : got_) {
    if (g.key[0] == 'm') sms_at.push_back(g.at_ms - t0);
  }
  ASSERT_EQ(sms_at.size(), 25u);
  for (size_t i = 5; i < sms_at.size(); ++i) EXPECT_EQ(sms_at[i], static_cast<int64_t>(i - 4) * 100);
  // Only the leases' deadline is left to wake for.
  EXPECT_EQ(dispatcher_->NextDeadlineMs(), t0 + options_.lease_timeout_ms);
  EXPECT_EQ(dispatcher_->stats().rate_late, 0u);  // 2 s: well within ten minutes
}

TEST_F(RateLimitedDispatchTest, WhenWorkersAreFullOnlyAcksPumpNoTimerSpin) {
  dispatcher_->RemoveWorker(worker_);
  worker_ = AddWorker(1);
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 10, 1)}).ok());
  const int64_t t0 = clock_.now_ms();
  Schedule(1, 3);
  Tick();
  ASSERT_EQ(got_.size(), 1u);
  // The worker is full: no wake for tokens, only the lease's deadline.
  EXPECT_EQ(dispatcher_->NextDeadlineMs(), t0 + options_.lease_timeout_ms);
  clock_.Advance(500);
  Tick();
  EXPECT_EQ(got_.size(), 1u);
  bool acked = false;
  dispatcher_->Ack(worker_, got_[0].lease_id, AckOutcome::kSent, "", [&](absl::Status st) {
    EXPECT_TRUE(st.ok()) << st;
    acked = true;
  });
  ASSERT_TRUE(queue_.RunUntil([&] { return acked; }));
  EXPECT_EQ(got_.size(), 2u);  // the token that came meanwhile
  RunUntil(clock_.now_ms() + 1000);
  EXPECT_EQ(got_.size(), 2u);  // full again
}

TEST_F(RateLimitedDispatchTest, ATenantsBurstDoesNotDelayAnotherTenant) {
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 50, 10)}).ok());
  const int64_t t0 = clock_.now_ms();
  Schedule(1, 2000, Channel::kSms, 0, "a");
  Tick();
  Schedule(2, 50, Channel::kSms, 0, "b");
  RunUntil(t0 + 3000);
  int64_t b_last = 0;
  int b = 0;
  for (const Got& g : got_) {
    if (g.tenant == 2) {
      ++b;
      b_last = g.at_ms - t0;
    }
  }
  EXPECT_EQ(b, 50);
  // Half of 50/s: 50 messages in about 2 s, not after tenant 1's 40 s.
  EXPECT_LE(b_last, 2'100);
  EXPECT_GE(got_.size(), 140u);
  EXPECT_LE(got_.size(), 161u);
}

TEST_F(RateLimitedDispatchTest, MessagesThatCannotMakeTheirDeadlineAreReported) {
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 1, 1)}).ok());
  const int64_t t0 = clock_.now_ms();
  // Five due now, each expiring in 2.5 s, at one per second: three make it.
  Schedule(3, 5, Channel::kSms, 2'500);
  Tick();
  EXPECT_EQ(got_.size(), 1u);
  DispatchStats s = dispatcher_->stats();
  EXPECT_EQ(s.rate_late, 2u);  // reported at once, not when they expire
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("tenant 3 sms"), std::string::npos) << log_[0];
  // A waiting message holds only a reference: the key is read from the log.
  EXPECT_NE(log_[0].find("(e.g. key m3,"), std::string::npos) << log_[0];
  RunUntil(t0 + 10'000);
  EXPECT_EQ(got_.size(), 3u);
  s = dispatcher_->stats();
  EXPECT_EQ(s.rate_late, 2u);
  EXPECT_EQ(s.rate_expired, 2u);
  EXPECT_EQ(s.rate_waiting, 0u);
  queue_.RunUntil([&] { return engine_->idle(); });
  EXPECT_EQ(engine_->stats().live, 3u);  // the two dropped are gone; three leased
  std::vector<RateRow> rows = dispatcher_->RateRows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows[0].tenant.has_value());
  EXPECT_EQ(rows[0].late, 2u);
  EXPECT_EQ(rows[1].tenant->value, 3u);
  EXPECT_EQ(rows[1].late, 2u);
  EXPECT_EQ(rows[1].expired, 2u);
}

TEST_F(RateLimitedDispatchTest, EarliestDeadlineFirstInASpike) {
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 10, 1)}).ok());
  Schedule(1, 1, Channel::kSms, 0, "first");
  Tick();  // takes the only token
  Schedule(1, 3, Channel::kSms, 600'000, "late");
  Schedule(1, 3, Channel::kSms, 1'000, "soon");
  RunUntil(clock_.now_ms() + 1000);
  ASSERT_EQ(got_.size(), 7u);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(got_[i].key.substr(0, 4), "soon");
  EXPECT_EQ(dispatcher_->stats().rate_late, 0u);
}

TEST_F(RateLimitedDispatchTest, RemovingTheLimitsGivesTheQueueBack) {
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 1, 2),
                         Limit(Channel::kSms, 4, 1, 1)})
                  .ok());
  Schedule(4, 10);
  Tick();
  EXPECT_EQ(got_.size(), 1u);
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, std::nullopt, 0, 0)}).ok());
  EXPECT_EQ(got_.size(), 1u);  // tenant 4's own limit still holds
  ASSERT_TRUE(SetLimits({Limit(Channel::kSms, 4, 0, 0)}).ok());
  EXPECT_EQ(got_.size(), 10u);
  EXPECT_EQ(dispatcher_->stats().rate_waiting, 0u);
  EXPECT_TRUE(dispatcher_->RateLimits().empty());
}

}  // namespace
}  // namespace rappel::server
