#include "rappel/client.h"

#include <thread>

#include "gtest/gtest.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"

namespace rappel::client {
namespace {

using server::SystemNowMs;

class BlockingClientTest : public ::testing::Test {
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
  Options For(const std::string& token) {
    Options o;
    o.port = server_.port();
    o.token = token;
    return o;
  }

  rappel::testing::TempDir dir_;
  rappel::testing::RappeldThread server_;
};

TEST_F(BlockingClientTest, ProducerAndWorkerRoundTrip) {
  auto producer = BlockingClient::Connect(For("p-secret"));
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto worker = BlockingClient::Connect(For("w-secret"));
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE((*worker)->Subscribe({Channel::kEmail}, 10, 10).ok());

  Reminder r{1, "visit-9", Channel::kEmail, "a@example.org", SystemNowMs() + 50, 0, "bonjour"};
  auto results = (*producer)->Schedule({r, r});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(*(*results)[0], ScheduleOutcome::kCreated);
  EXPECT_EQ(*(*results)[1], ScheduleOutcome::kUnchanged);
  EXPECT_TRUE((*producer)->Ping().ok());

  std::vector<Message> got;
  for (int i = 0; i < 50 && got.empty(); ++i) {
    auto m = (*worker)->Receive(std::chrono::milliseconds(100));
    ASSERT_TRUE(m.ok()) << m.status();
    got = *m;
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reminder.key, "visit-9");
  EXPECT_EQ(got[0].reminder.payload, "bonjour");
  auto acks = (*worker)->Ack({{got[0].lease_id, AckOutcome::kDelivered, ""}});
  ASSERT_TRUE(acks.ok());
  EXPECT_TRUE((*acks)[0].ok());

  auto cancelled = (*producer)->Cancel({{1, "visit-9"}});
  ASSERT_TRUE(cancelled.ok());
  EXPECT_TRUE(absl::IsNotFound((*cancelled)[0])) << (*cancelled)[0];
}

TEST_F(BlockingClientTest, AdminViewsStatsDeadLettersCompact) {
  auto producer = BlockingClient::Connect(For("p-secret"));
  auto worker = BlockingClient::Connect(For("w-secret"));
  auto admin = BlockingClient::Connect(For("a-secret"));
  ASSERT_TRUE(producer.ok() && worker.ok() && admin.ok());
  ASSERT_TRUE((*worker)->Subscribe({Channel::kSms}, 10, 10).ok());
  int64_t now = SystemNowMs();
  auto results = (*producer)->Schedule({{1, "a", Channel::kSms, "+33600000000", now, 0, "x"},
                                        {1, "b", Channel::kEmail, "b@example.org", now + 3'600'000 * 2, 0, "y"},
                                        {2, "c", Channel::kEmail, "c@example.org", now + 600'000, 0, "z"}});
  ASSERT_TRUE(results.ok());
  std::vector<Message> got;
  for (int i = 0; i < 50 && got.empty(); ++i) got = *(*worker)->Receive(std::chrono::milliseconds(100));
  ASSERT_EQ(got.size(), 1u);
  auto acks = (*worker)->Ack({{got[0].lease_id, AckOutcome::kFailedPermanent, "unknown number"}});
  ASSERT_TRUE(acks.ok() && (*acks)[0].ok());

  auto stats = (*admin)->Stats(1);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->dead_letters, 1u);
  EXPECT_EQ(stats->tenants, 2u);
  ASSERT_EQ(stats->by_tenant.size(), 1u) << "at most the one tenant asked for";
  EXPECT_EQ(stats->live_by_channel[static_cast<int>(Channel::kEmail)], 2u);
  EXPECT_EQ(stats->live_by_channel[static_cast<int>(Channel::kSms)], 0u);
  EXPECT_EQ(stats->live_records, 2u);
  EXPECT_EQ(stats->due_next_hour, 1u);
  EXPECT_EQ(stats->due_next_day, 2u);
  EXPECT_GT(stats->log_records, stats->live_records);
  EXPECT_GT(stats->records_appended, 0u);
  EXPECT_GE(stats->max_batches_per_commit, 1u);

  auto letters = (*admin)->ListDeadLetters(1, 10);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].reminder.key, "a");
  EXPECT_EQ((*letters)[0].last_detail, "unknown number");
  EXPECT_GE((*letters)[0].dead_at_ms, now);

  auto compacted = (*admin)->Compact();
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_EQ(compacted->log_records_after, 2u);
  EXPECT_LT(compacted->log_records_after, compacted->log_records_before);
  EXPECT_EQ(compacted->live_records, 2u);
  EXPECT_TRUE(absl::IsPermissionDenied((*producer)->Compact().status()));
}

TEST_F(BlockingClientTest, RolesAndTokensAreEnforced) {
  auto stranger = BlockingClient::Connect(For("nope"));
  EXPECT_TRUE(absl::IsUnauthenticated(stranger.status())) << stranger.status();
  auto producer = BlockingClient::Connect(For("p-secret"));
  ASSERT_TRUE(producer.ok());
  EXPECT_TRUE(absl::IsPermissionDenied((*producer)->Subscribe({Channel::kSms}, 1, 1)));
  auto worker = BlockingClient::Connect(For("w-secret"));
  ASSERT_TRUE(worker.ok());
  auto refused = (*worker)->Schedule({Reminder{1, "k", Channel::kSms, "x", SystemNowMs(), 0, ""}});
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
}

TEST(BlockingClientConnectTest, NoServerIsUnavailable) {
  Options o;
  o.port = 1;  // nothing listens on port 1 here
  auto c = BlockingClient::Connect(o);
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
}

}  // namespace
}  // namespace rappel::client
