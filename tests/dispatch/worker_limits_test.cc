// What a worker may receive and when, over a real engine and store: workers
// scoped to tenants (both lanes, and through WorkerRequests), no leases to a
// worker whose output is backed up, the caps of Subscribe, and lease
// expiries counted towards max_attempts (durably).
#include <map>
#include <memory>

#include "gtest/gtest.h"
#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/net/worker_requests.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::FakeClock;
using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

struct Got {
  uint32_t tenant = 0;
  std::string key;
  uint64_t lease_id = 0;
  uint32_t attempt = 0;
};

class WorkerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_options_.store.path = dir_.Sub("db");
    options_.max_attempts = 3;
    options_.lease_timeout_ms = 10'000;
    options_.max_unsent_bytes = 1000;
    Open();
  }
  void TearDown() override { Close(); }

  void Open() {
    engine_options_.clock = clock_.AsFunction();
    auto engine = Engine::Open(engine_options_, queue_.Poster());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    dispatcher_ =
        std::make_unique<Dispatcher>(engine_.get(), nullptr, options_, clock_.AsFunction());
    ASSERT_TRUE(dispatcher_->Recover().ok());
    queue_.RunUntil([&] { return engine_->idle(); });
  }
  void Close() {
    if (!engine_) return;
    queue_.RunUntil([&] { return engine_->idle(); });
    engine_.reset();
    queue_.RunPending();
    dispatcher_.reset();
    got_.clear();
  }

  // A worker whose deliveries go to got_[its id].
  absl::StatusOr<uint64_t> TryAdd(WorkerOptions o) {
    auto id = std::make_shared<uint64_t>(0);
    auto added =
        dispatcher_->AddWorker(std::move(o), [this, id](const std::vector<LeasedMessage>& b) {
          for (const auto& m : b) {
            got_[*id].push_back(
                Got{m.reminder->tenant.value, m.reminder->key, m.lease_id, m.attempt});
          }
        });
    // AddWorker pumps before it returns the id: what it got then is the
    // worker's too.
    if (added.ok()) {
      *id = *added;
      got_[*added] = std::move(got_[0]);
      got_.erase(0);
    }
    return added;
  }
  uint64_t Add(std::optional<std::vector<TenantId>> tenants = std::nullopt,
               std::function<size_t()> unsent = {}, uint32_t max_in_flight = 1000,
               uint32_t batch_size = 1000) {
    auto id = TryAdd(WorkerOptions{{Channel::kSms}, max_in_flight, batch_size, std::move(tenants),
                                   std::move(unsent)});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(0);
  }
  std::vector<Got> Take(uint64_t worker) {
    std::vector<Got> out = std::move(got_[worker]);
    got_[worker].clear();
    return out;
  }

  void Schedule(uint32_t tenant, const std::string& key, int64_t due_in_ms = 0) {
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
  void SetSmsLimit(uint32_t count) {
    bool done = false;
    RateLimit limit;
    limit.channel = Channel::kSms;
    limit.count = count;
    limit.period_ms = 1000;
    dispatcher_->SetRateLimits({limit}, [&](absl::Status st) {
      EXPECT_TRUE(st.ok()) << st;
      done = true;
    });
    ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  }
  // Lets every lease out expire, and runs what that commits.
  void ExpireAll() {
    clock_.Advance(options_.lease_timeout_ms);
    dispatcher_->ExpireLeases(clock_.now_ms());
    queue_.RunUntil([&] { return engine_->idle(); });
  }
  static std::map<uint32_t, int> ByTenant(const std::vector<Got>& got) {
    std::map<uint32_t, int> out;
    for (const Got& g : got) ++out[g.tenant];
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  TaskQueue queue_;
  EngineOptions engine_options_;
  DispatchOptions options_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Engine> engine_;
  std::map<uint64_t, std::vector<Got>> got_;
};

TEST_F(WorkerLimitsTest, AScopedWorkerReceivesOnlyItsTenantsAndTheOthersWait) {
  for (uint32_t t = 1; t <= 3; ++t) {
    for (int i = 0; i < 5; ++i) Schedule(t, "k" + std::to_string(i));
  }
  Poll();
  uint64_t two = Add(std::vector<TenantId>{TenantId{2}});
  EXPECT_EQ(ByTenant(Take(two)), (std::map<uint32_t, int>{{2, 5}}));
  EXPECT_EQ(dispatcher_->stats().ready, 10u) << "tenants 1 and 3 have no worker: they wait";
  uint64_t one_three = Add(std::vector<TenantId>{TenantId{1}, TenantId{3}});
  EXPECT_EQ(ByTenant(Take(one_three)), (std::map<uint32_t, int>{{1, 5}, {3, 5}}));
  // Later messages go the same way, whichever worker the round robin tries first.
  for (uint32_t t = 1; t <= 3; ++t) Schedule(t, "later");
  Poll();
  EXPECT_EQ(ByTenant(Take(two)), (std::map<uint32_t, int>{{2, 1}}));
  EXPECT_EQ(ByTenant(Take(one_three)), (std::map<uint32_t, int>{{1, 1}, {3, 1}}));
}

TEST_F(WorkerLimitsTest, AScopedWorkerReceivesOnlyItsTenantsFromTheRateLimitedLane) {
  SetSmsLimit(1000);
  for (uint32_t t = 1; t <= 3; ++t) {
    for (int i = 0; i < 5; ++i) Schedule(t, "k" + std::to_string(i));
  }
  Poll();
  EXPECT_EQ(dispatcher_->stats().rate_waiting, 15u);
  uint64_t two = Add(std::vector<TenantId>{TenantId{2}});
  EXPECT_EQ(ByTenant(Take(two)), (std::map<uint32_t, int>{{2, 5}}));
  EXPECT_EQ(dispatcher_->stats().rate_waiting, 10u);
  ASSERT_TRUE(dispatcher_->NextDeadlineMs().has_value());
  EXPECT_EQ(*dispatcher_->NextDeadlineMs(), clock_.now_ms() + options_.lease_timeout_ms)
      << "the others' messages wait for a worker, not a token: no wake before the leases'";
  uint64_t all = Add();
  EXPECT_EQ(ByTenant(Take(all)), (std::map<uint32_t, int>{{1, 5}, {3, 5}}));
  EXPECT_TRUE(Take(two).empty());
}

TEST_F(WorkerLimitsTest, ScopedWorkerHeldBackByTokensWakesForItsOwnTenantOnly) {
  SetSmsLimit(2);  // burst 2
  for (int i = 0; i < 4; ++i) Schedule(1, "k" + std::to_string(i));
  Poll();
  uint64_t one = Add(std::vector<TenantId>{TenantId{1}});
  EXPECT_EQ(Take(one).size(), 2u);
  ASSERT_TRUE(dispatcher_->NextDeadlineMs().has_value()) << "tokens hold its tenant back";
  clock_.Advance(1000);
  dispatcher_->ExpireLeases(clock_.now_ms());
  EXPECT_EQ(Take(one).size(), 2u);
}

TEST_F(WorkerLimitsTest, AnUnscopedWorkerTakesTenantsInTurn) {
  for (int i = 0; i < 100; ++i) Schedule(1, "burst" + std::to_string(i));
  for (int i = 0; i < 5; ++i) Schedule(2, "small" + std::to_string(i));
  Poll();
  uint64_t w = Add(std::nullopt, {}, 1000, 10);
  std::vector<Got> first = Take(w);
  ASSERT_GE(first.size(), 10u);
  first.resize(10);
  EXPECT_EQ(ByTenant(first), (std::map<uint32_t, int>{{1, 5}, {2, 5}}))
      << "tenant 2's five go within the first ten, not after tenant 1's hundred";
}

TEST_F(WorkerLimitsTest, ABackedUpWorkerGetsNoLeasesUntilItDrains) {
  size_t unsent = 5000;  // over max_unsent_bytes (1000)
  uint64_t w = Add(std::nullopt, [&] { return unsent; });
  for (int i = 0; i < 3; ++i) Schedule(1, "k" + std::to_string(i));
  Poll();
  EXPECT_TRUE(Take(w).empty());
  EXPECT_EQ(dispatcher_->stats().ready, 3u);
  unsent = 0;
  Poll();
  EXPECT_TRUE(Take(w).empty()) << "held back until its connection says it drained";
  dispatcher_->Drained(w);
  EXPECT_EQ(Take(w).size(), 3u);
  // Below the threshold it is served as usual.
  unsent = 999;
  Schedule(1, "more");
  Poll();
  EXPECT_EQ(Take(w).size(), 1u);
}

TEST_F(WorkerLimitsTest, AnExpiredLeaseIsNotHandedAgainToTheConnectionThatLetItExpireUnsent) {
  size_t unsent = 100;  // under the threshold, but not written
  uint64_t stalled = Add(std::nullopt, [&] { return unsent; });
  Schedule(1, "a");
  Poll();
  ASSERT_EQ(Take(stalled).size(), 1u);
  ExpireAll();
  EXPECT_TRUE(Take(stalled).empty()) << "its earlier frame is still unsent";
  EXPECT_EQ(dispatcher_->stats().ready, 1u);
  Schedule(1, "b");
  Poll();
  EXPECT_TRUE(Take(stalled).empty()) << "its window stays shut while that push is unsent";
  uint64_t other = Add();
  std::vector<Got> got = Take(other);
  ASSERT_EQ(got.size(), 2u) << "another worker takes them";
  EXPECT_EQ(got[0].key, "a");
  EXPECT_EQ(got[0].attempt, 2u);
  dispatcher_->RemoveWorker(other);  // "a" and "b" back, to the stalled one once drained
  unsent = 0;
  dispatcher_->Drained(stalled);
  EXPECT_EQ(Take(stalled).size(), 2u);
}

TEST_F(WorkerLimitsTest, AWorkerThatWroteEverythingIsLeasedToAgainAfterAnExpiry) {
  size_t unsent = 0;
  uint64_t w = Add(std::nullopt, [&] { return unsent; });
  Schedule(1, "a");
  Poll();
  ASSERT_EQ(Take(w).size(), 1u);
  ExpireAll();
  std::vector<Got> again = Take(w);
  ASSERT_EQ(again.size(), 1u) << "it read the push and did not ack: at least once, to it again";
  EXPECT_EQ(again[0].attempt, 2u);
}

TEST_F(WorkerLimitsTest, CapsZeroMeansTheDefaultAndAboveTheCapIsRefused) {
  for (int i = 0; i < 300; ++i) Schedule(1, "k" + std::to_string(i));
  Poll();
  std::vector<size_t> batches;
  auto id = dispatcher_->AddWorker(WorkerOptions{{Channel::kSms}, 0, 0, std::nullopt, {}},
                                   [&](const std::vector<LeasedMessage>& b) {
                                     batches.push_back(b.size());
                                   });
  ASSERT_TRUE(id.ok()) << id.status();
  size_t total = 0;
  for (size_t n : batches) {
    EXPECT_LE(n, WorkerOptions::kDefaultBatchSize);
    total += n;
  }
  EXPECT_EQ(batches.front(), WorkerOptions::kDefaultBatchSize);
  EXPECT_EQ(total, WorkerOptions::kDefaultMaxInFlight);

  auto over = TryAdd(
      WorkerOptions{{Channel::kSms}, WorkerOptions::kMaxMaxInFlight + 1, 1, std::nullopt, {}});
  EXPECT_TRUE(absl::IsInvalidArgument(over.status())) << over.status();
  EXPECT_NE(over.status().message().find("max_in_flight"), std::string::npos);
  over = TryAdd(
      WorkerOptions{{Channel::kSms}, 1, WorkerOptions::kMaxBatchSize + 1, std::nullopt, {}});
  EXPECT_TRUE(absl::IsInvalidArgument(over.status())) << over.status();
  EXPECT_NE(over.status().message().find("batch_size"), std::string::npos);
  over = TryAdd(WorkerOptions{{}, 1, 1, std::nullopt, {}});
  EXPECT_TRUE(absl::IsInvalidArgument(over.status())) << "no channels";
  EXPECT_TRUE(TryAdd(WorkerOptions{{Channel::kSms}, WorkerOptions::kMaxMaxInFlight,
                                   WorkerOptions::kMaxBatchSize, std::nullopt, {}})
                  .ok());
  EXPECT_EQ(dispatcher_->stats().workers, 2u) << "refused ones are not workers";
}

TEST_F(WorkerLimitsTest, LeaseExpiriesCountTowardsMaxAttemptsDurably) {
  uint64_t w = Add();
  Schedule(1, "a");
  Poll();
  ASSERT_EQ(Take(w).size(), 1u);
  ExpireAll();
  std::vector<Got> got = Take(w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
  EXPECT_EQ(dispatcher_->stats().retrying, 1u);
  // A restart keeps the count: the message comes back as attempt 2.
  Close();
  Open();
  EXPECT_EQ(dispatcher_->stats().retrying, 1u);
  w = Add();
  Poll();
  got = Take(w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
  ExpireAll();
  got = Take(w);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 3u);
  ExpireAll();  // the third expiry: max_attempts
  EXPECT_TRUE(Take(w).empty());
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  Close();
  Open();
  auto letters = dispatcher_->ListDeadLetters(std::nullopt, 10);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].reminder.key, "a");
  EXPECT_EQ((*letters)[0].attempts, 3u);
  EXPECT_NE((*letters)[0].last_detail.find("lease expired"), std::string::npos)
      << (*letters)[0].last_detail;
  EXPECT_EQ(dispatcher_->stats().retrying, 0u);
  EXPECT_FALSE(engine_->Inspect({TenantId{1}, "a"})->has_value()) << "no longer live";
  w = Add();
  Poll();
  EXPECT_TRUE(Take(w).empty());
}

TEST_F(WorkerLimitsTest, TheExpiriesOfOnePassAreOneCommit) {
  // Its pushes unsent: nothing is leased to it again at once.
  uint64_t w = Add(std::nullopt, [] { return size_t{1}; });
  for (int i = 0; i < 50; ++i) Schedule(1, "k" + std::to_string(i));
  Poll();
  ASSERT_EQ(Take(w).size(), 50u);
  uint64_t before = engine_->store().stats().commits;
  ExpireAll();
  EXPECT_EQ(engine_->store().stats().commits, before + 1);
  EXPECT_EQ(dispatcher_->stats().retrying, 50u);
}

// Through WorkerRequests: a connection whose token is scoped to tenant 2
// subscribes with a Subscribe frame and gets Delivery pushes of tenant 2
// only.
TEST_F(WorkerLimitsTest, AConnectionWithTenantsReceivesOnlyItsTenantsThroughWorkerRequests) {
  for (uint32_t t = 1; t <= 3; ++t) {
    for (int i = 0; i < 4; ++i) Schedule(t, "k" + std::to_string(i));
  }
  Poll();
  WorkerRequests requests(dispatcher_.get());
  Connection conn;
  conn.greeted = true;
  conn.role = protocol::wire::Role::Worker;
  conn.tenants = std::vector<TenantId>{TenantId{2}};
  std::vector<FrameBytes> pushed;
  conn.push = [&](FrameBytes bytes) { pushed.push_back(std::move(bytes)); };
  flatbuffers::FlatBufferBuilder b;
  std::vector<protocol::wire::Channel> channels{
      static_cast<protocol::wire::Channel>(Channel::kSms)};
  // max_in_flight and batch_size 0: the defaults.
  auto body = protocol::wire::CreateSubscribe(b, b.CreateVector(channels), 0, 0);
  FrameBytes frame = Finish(b, 7, protocol::wire::Body::Subscribe, body.Union());
  auto verified = protocol::VerifyFrame(frame.data(), frame.size(), protocol::FrameLimits{});
  ASSERT_TRUE(verified.ok()) << verified.status();
  bool replied = false;
  requests.Handle(conn, **verified, [&](FrameBytes, bool) { replied = true; });
  ASSERT_TRUE(replied);
  ASSERT_NE(conn.worker_id, 0u);
  std::map<uint32_t, int> tenants;
  for (const FrameBytes& p : pushed) {
    auto f = protocol::VerifyFrame(p.data(), p.size(), protocol::FrameLimits{});
    ASSERT_TRUE(f.ok()) << f.status();
    const auto* delivery = (*f)->body_as_Delivery();
    ASSERT_NE(delivery, nullptr);
    for (const auto* m : *delivery->messages()) ++tenants[m->reminder()->tenant()];
  }
  EXPECT_EQ(tenants, (std::map<uint32_t, int>{{2, 4}}));
  EXPECT_EQ(dispatcher_->stats().ready, 8u);
  requests.OnClose(conn);
}

}  // namespace
}  // namespace rappel::server
