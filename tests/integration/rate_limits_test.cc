// Rate limits end to end over loopback: an admin sets them with the client
// library, a producer's spike is delivered to a worker at the rate (the
// server's own timer waking for each token), the rates view and the stats
// show what waits, and only admins may set them.
#include <algorithm>
#include <thread>

#include "gtest/gtest.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"

namespace rappel::client {
namespace {

using server::SystemNowMs;

class RateLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::RappeldOptions options;
    options.engine.store.path = dir_.Sub("db");
    options.server.port = 0;
    options.handler.tokens = {server::MakeCredential("p-secret", protocol::wire::Role::Producer),
                              server::MakeCredential("w-secret", protocol::wire::Role::Worker),
                              server::MakeCredential("a-secret", protocol::wire::Role::Admin)};
    absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override {
    server_.Stop();
  }
  std::unique_ptr<BlockingClient> Connect(const std::string& token) {
    Options o;
    o.port = server_.port();
    o.token = token;
    auto c = BlockingClient::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  rappel::testing::TempDir dir_;
  rappel::testing::RappeldThread server_;
};

TEST_F(RateLimitsTest, ASpikeGoesAtTheRateSetOverTheProtocol) {
  auto admin = Connect("a-secret");
  auto producer = Connect("p-secret");
  auto worker = Connect("w-secret");
  ASSERT_TRUE(admin && producer && worker);

  RateLimit sms{Channel::kSms, true, 0, 20, 1000, 5};   // sms: 20/s burst 5
  RateLimit own{Channel::kSms, false, 2, 5, 1000, 1};   // tenant 2: 5/s burst 1
  EXPECT_TRUE(absl::IsPermissionDenied(producer->SetRateLimits({sms})));
  EXPECT_TRUE(absl::IsPermissionDenied(producer->Rates().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      admin->SetRateLimits({RateLimit{Channel::kSms, true, 0, 5, 0, 1}})));  // period 0
  ASSERT_TRUE(admin->SetRateLimits({sms, own}).ok());

  ASSERT_TRUE(worker->Subscribe({Channel::kSms}, 1000, 100).ok());
  std::vector<Reminder> spike;
  int64_t now = SystemNowMs();
  for (int i = 0; i < 40; ++i) {
    spike.push_back({1, "a" + std::to_string(i), Channel::kSms, "+33600000001", now, 0, "x"});
  }
  for (int i = 0; i < 10; ++i) {
    spike.push_back({2, "b" + std::to_string(i), Channel::kSms, "+33600000002", now, 0, "x"});
  }
  auto scheduled = producer->Schedule(spike);
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  const auto start = std::chrono::steady_clock::now();

  std::vector<std::pair<uint32_t, double>> got;  // tenant, seconds since the schedule
  bool saw_waiting = false;
  while (got.size() < spike.size() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    auto m = worker->Receive(std::chrono::milliseconds(50));
    ASSERT_TRUE(m.ok()) << m.status();
    double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const Message& msg : *m) got.emplace_back(msg.reminder.tenant, at);
    if (!saw_waiting && got.size() < 30) {
      auto stats = admin->Stats();
      ASSERT_TRUE(stats.ok()) << stats.status();
      if (stats->rate_waiting > 0) {
        saw_waiting = true;
        EXPECT_EQ(stats->rate_waiting, stats->rate_waiting_by_channel[1]);
        auto rates = admin->Rates();
        ASSERT_TRUE(rates.ok()) << rates.status();
        ASSERT_GE(rates->rows.size(), 2u);
        EXPECT_TRUE(rates->rows[0].limit.all_tenants);
        EXPECT_EQ(rates->rows[0].limit.count, 20u);
        EXPECT_GT(rates->rows[0].waiting, 0u);
      }
    }
  }
  ASSERT_EQ(got.size(), spike.size()) << "not all delivered in 10 s";
  EXPECT_TRUE(saw_waiting);
  // 50 at 20/s after a burst of 5: about 2.25 s; far from the instant an
  // unlimited server takes. Generous bounds: the machine is shared.
  double last = got.back().second;
  EXPECT_GE(last, 1.8);
  EXPECT_LE(last, 8.0);
  // Tenant 2 at its own 5/s: its 10 take about 1.8 s.
  std::vector<double> b;
  for (const auto& [tenant, at] : got) {
    if (tenant == 2) b.push_back(at);
  }
  ASSERT_EQ(b.size(), 10u);
  EXPECT_GE(b.back() - b.front(), 1.4);

  auto rates = admin->Rates();
  ASSERT_TRUE(rates.ok()) << rates.status();
  ASSERT_EQ(rates->rows.size(), 2u);
  EXPECT_EQ(rates->rows[1].limit.tenant, 2u);
  EXPECT_EQ(rates->rows[1].limit.burst, 1u);
  for (const RateState& row : rates->rows) {
    EXPECT_EQ(row.waiting, 0u);
    EXPECT_EQ(row.late, 0u);
    EXPECT_LE(row.tokens, row.limit.burst);
  }
  // Cleared: the view is empty and a new spike goes at once.
  ASSERT_TRUE(admin->SetRateLimits({RateLimit{Channel::kSms, true, 0, 0, 1000, 0},
                                    RateLimit{Channel::kSms, false, 2, 0, 1000, 0}})
                  .ok());
  rates = admin->Rates();
  ASSERT_TRUE(rates.ok());
  EXPECT_TRUE(rates->rows.empty());
}

}  // namespace
}  // namespace rappel::client
