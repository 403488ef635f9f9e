// AsyncClient against an in-process rappeld: pipelining, worker handlers,
// reconnect with re-subscription, deadlines, final errors.
#include "rappel/async_client.h"

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "gtest/gtest.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/temp_dir.h"

namespace rappel::client {
namespace {

using namespace std::chrono_literals;
using server::SystemNowMs;

// rappeld on its own io thread; can be stopped and started again on the
// same port and store.
class TestServer {
 public:
  explicit TestServer(std::string db) : db_(std::move(db)) {}
  ~TestServer() { Stop(); }

  void Start(uint16_t port = 0) {
    server::RappeldOptions options;
    options.engine.store.path = db_;
    options.server.port = port;
    options.handler.tokens = {server::MakeCredential("p", protocol::wire::Role::Producer),
                              server::MakeCredential("w", protocol::wire::Role::Worker),
                              server::MakeCredential("a", protocol::wire::Role::Admin)};
    io_ = std::make_unique<asio::io_context>();
    auto d = server::Rappeld::Start(*io_, options);
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = std::move(*d);
    port_ = server_->port();
    thread_ = std::thread([this] { io_->run(); });
  }
  void Stop() {
    if (!server_) return;
    asio::post(*io_, [this] { server_->Shutdown([this] { io_->stop(); }); });
    thread_.join();
    server_.reset();
    io_.reset();
  }
  uint16_t port() const { return port_; }

 private:
  std::string db_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<server::Rappeld> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

class AsyncClientTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(); }

  Options For(const std::string& token) {
    Options o;
    o.port = server_.port();
    o.token = token;
    o.timeout = 5s;
    o.reconnect.initial = 20ms;
    o.reconnect.max = 200ms;
    return o;
  }

  // Runs the client side until `done` holds; false after `limit`.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    io_.restart();
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io_.run_for(5ms);
      io_.restart();
    }
    return true;
  }

  static Reminder Due(std::string key, int64_t due_ms) {
    return Reminder{7, std::move(key), Channel::kSms, "+33600000000", due_ms, 0, "hello"};
  }

  rappel::testing::TempDir dir_;
  TestServer server_{dir_.Sub("db")};
  asio::io_context io_;
};

TEST_F(AsyncClientTest, ManyRequestsInFlightAreAnsweredEachToItsCaller) {
  AsyncClient c(io_, For("p"));
  absl::Status started = absl::UnknownError("pending");
  c.Start([&](absl::Status st) { started = st; });
  ASSERT_TRUE(RunUntil([&] { return !absl::IsUnknown(started); }));
  ASSERT_TRUE(started.ok()) << started;

  constexpr int kRequests = 300;
  int64_t later = SystemNowMs() + 3'600'000;
  std::vector<int> order;
  std::vector<std::vector<absl::StatusOr<ScheduleOutcome>>> results(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    // Request i holds i % 3 + 1 reminders; every third one repeats the first
    // key of request 0 with the same content, so it answers Unchanged.
    std::vector<Reminder> batch;
    for (int j = 0; j <= i % 3; ++j) batch.push_back(Due("k" + std::to_string(i * 3 + j), later));
    if (i % 3 == 2) batch.back() = Due("k0", later);
    c.Schedule(batch, [&, i](absl::StatusOr<AsyncClient::ScheduleResults> r) {
      ASSERT_TRUE(r.ok()) << r.status();
      results[i] = *r;
      order.push_back(i);
    });
  }
  EXPECT_EQ(c.outstanding(), static_cast<size_t>(kRequests));
  ASSERT_TRUE(RunUntil([&] { return order.size() == kRequests; }));
  EXPECT_EQ(c.outstanding(), 0u);
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(order[i], i);
    ASSERT_EQ(results[i].size(), static_cast<size_t>(i % 3 + 1)) << i;
    ScheduleOutcome last = *results[i].back();
    EXPECT_EQ(last, i % 3 == 2 ? ScheduleOutcome::kUnchanged : ScheduleOutcome::kCreated) << i;
  }
  // A bad item fails alone.
  std::optional<absl::StatusOr<AsyncClient::ScheduleResults>> mixed;
  Reminder bad = Due("", later);
  c.Schedule({Due("fine", later), bad}, [&](auto r) { mixed = r; });
  ASSERT_TRUE(RunUntil([&] { return mixed.has_value(); }));
  ASSERT_TRUE(mixed->ok());
  EXPECT_TRUE((**mixed)[0].ok());
  EXPECT_TRUE(absl::IsInvalidArgument((**mixed)[1].status()));
}

TEST_F(AsyncClientTest, ManyConnectionsPipelineAtOnce) {
  constexpr int kConnections = 16;
  constexpr int kRequests = 40;
  constexpr int kPerRequest = 25;
  std::vector<std::unique_ptr<AsyncClient>> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.push_back(std::make_unique<AsyncClient>(io_, For("p")));
    clients.back()->Start([](absl::Status st) { ASSERT_TRUE(st.ok()) << st; });
  }
  int64_t later = SystemNowMs() + 3'600'000;
  int created = 0;
  int answered = 0;
  for (int c = 0; c < kConnections; ++c) {
    for (int r = 0; r < kRequests; ++r) {
      std::vector<Reminder> batch;
      for (int i = 0; i < kPerRequest; ++i) {
        batch.push_back(Due("c" + std::to_string(c) + "-" + std::to_string(r * kPerRequest + i),
                            later));
      }
      clients[c]->Schedule(batch, [&](absl::StatusOr<AsyncClient::ScheduleResults> res) {
        ++answered;
        ASSERT_TRUE(res.ok()) << res.status();
        for (const auto& item : *res) created += item.ok() && *item == ScheduleOutcome::kCreated;
      });
    }
  }
  ASSERT_TRUE(RunUntil([&] { return answered == kConnections * kRequests; }));
  EXPECT_EQ(created, kConnections * kRequests * kPerRequest);
  AsyncClient admin(io_, For("a"));
  admin.Start([](absl::Status) {});
  std::optional<absl::StatusOr<ServerStats>> stats;
  admin.Stats([&](auto r) { stats = r; });
  ASSERT_TRUE(RunUntil([&] { return stats.has_value(); }));
  ASSERT_TRUE(stats->ok()) << stats->status();
  EXPECT_EQ((*stats)->pending, static_cast<uint64_t>(kConnections * kRequests * kPerRequest));
}

TEST_F(AsyncClientTest, ServeAcksEachMessageWithTheHandlersOutcome) {
  AsyncClient producer(io_, For("p"));
  AsyncClient worker(io_, For("w"));
  producer.Start([](absl::Status) {});
  worker.Start([](absl::Status) {});
  std::vector<std::string> seen;
  std::atomic<int> acked{0};
  absl::Status subscribed = absl::UnknownError("pending");
  worker.Serve(
      Subscription{{Channel::kSms}, 16, 4},
      [&](const Message& m) {
        seen.push_back(m.reminder.key);
        return AckOutcome::kDelivered;
      },
      [&](absl::Status st) { subscribed = st; },
      [&](absl::StatusOr<AsyncClient::ItemStatuses> r) {
        ASSERT_TRUE(r.ok()) << r.status();
        for (const absl::Status& st : *r) {
          EXPECT_TRUE(st.ok()) << st;
          ++acked;
        }
      });
  ASSERT_TRUE(RunUntil([&] { return !absl::IsUnknown(subscribed); }));
  ASSERT_TRUE(subscribed.ok()) << subscribed;
  std::vector<Reminder> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Due("m" + std::to_string(i), SystemNowMs() + 50));
  bool scheduled = false;
  producer.Schedule(batch, [&](auto r) {
    ASSERT_TRUE(r.ok());
    scheduled = true;
  });
  ASSERT_TRUE(RunUntil([&] { return acked == 10; })) << acked;
  EXPECT_TRUE(scheduled);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
  // Acked as delivered: gone.
  AsyncClient admin(io_, For("a"));
  admin.Start([](absl::Status) {});
  std::optional<absl::StatusOr<ServerStats>> stats;
  admin.Stats([&](auto r) { stats = r; });
  ASSERT_TRUE(RunUntil([&] { return stats.has_value(); }));
  ASSERT_TRUE(stats->ok()) << stats->status();
  EXPECT_EQ((*stats)->pending, 0u);
  EXPECT_EQ((*stats)->leased, 0u);
}

TEST_F(AsyncClientTest, ReconnectsAndRenewsTheSubscriptionAfterTheServerRestarts) {
  AsyncClient producer(io_, For("p"));
  AsyncClient worker(io_, For("w"));
  std::vector<absl::Status> worker_events;
  worker.set_connection_handler([&](absl::Status st) { worker_events.push_back(st); });
  producer.Start([](absl::Status) {});
  worker.Start([](absl::Status) {});
  std::vector<std::string> seen;
  bool subscribed = false;
  worker.Serve(Subscription{{Channel::kSms}, 16, 4}, [&](const Message& m) {
    seen.push_back(m.reminder.key);
    return AckOutcome::kSent;
  }, [&](absl::Status st) {
    ASSERT_TRUE(st.ok()) << st;
    subscribed = true;
  });
  // Only an accepted subscription is renewed after a reconnect: one still in
  // flight when the server stops fails with Unavailable instead.
  ASSERT_TRUE(RunUntil([&] { return producer.connected() && subscribed; }));

  uint16_t port = server_.port();
  server_.Stop();
  ASSERT_TRUE(RunUntil([&] { return !producer.connected() && !worker.connected(); }));
  ASSERT_EQ(worker_events.size(), 2u);  // up, then down
  EXPECT_TRUE(worker_events[0].ok());
  EXPECT_TRUE(absl::IsUnavailable(worker_events[1])) << worker_events[1];

  // Made while the server is down: waits for the new connection.
  std::optional<absl::StatusOr<AsyncClient::ScheduleResults>> result;
  producer.Schedule({Due("after-restart", SystemNowMs() + 100)}, [&](auto r) { result = r; });
  io_.run_for(100ms);
  EXPECT_FALSE(result.has_value());
  server_.Start(port);
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ(*(**result)[0], ScheduleOutcome::kCreated);
  // The worker re-subscribed by itself.
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 1; }));
  EXPECT_EQ(seen[0], "after-restart");
  EXPECT_TRUE(worker.connected());
}

TEST_F(AsyncClientTest, RequestsWaitingForAConnectionTimeOut) {
  uint16_t port = server_.port();
  server_.Stop();
  Options o = For("p");
  o.port = port;
  o.timeout = 200ms;
  AsyncClient c(io_, o);
  absl::Status started = absl::UnknownError("pending");
  c.Start([&](absl::Status st) { started = st; });
  std::optional<absl::Status> ping;
  c.Ping([&](absl::Status st) { ping = st; });
  ASSERT_TRUE(RunUntil([&] { return ping.has_value(); }));
  EXPECT_TRUE(absl::IsUnavailable(started)) << started;
  EXPECT_TRUE(absl::IsDeadlineExceeded(*ping)) << *ping;
}

TEST_F(AsyncClientTest, AServerThatDoesNotAnswerGivesDeadlineExceeded) {
  // A listener that accepts and never says anything.
  asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket peer(io_);
  silent.async_accept(peer, [](asio::error_code) {});
  Options o = For("p");
  o.port = silent.local_endpoint().port();
  o.timeout = 200ms;
  o.reconnect.enabled = false;
  AsyncClient c(io_, o);
  std::optional<absl::Status> started;
  c.Start([&](absl::Status st) { started = st; });
  ASSERT_TRUE(RunUntil([&] { return started.has_value(); }));
  EXPECT_TRUE(absl::IsDeadlineExceeded(*started)) << *started;
  EXPECT_FALSE(c.connected());
}

TEST_F(AsyncClientTest, ABadTokenIsFinal) {
  AsyncClient c(io_, For("wrong"));
  std::optional<absl::Status> started;
  c.Start([&](absl::Status st) { started = st; });
  ASSERT_TRUE(RunUntil([&] { return started.has_value(); }));
  EXPECT_TRUE(absl::IsUnauthenticated(*started)) << *started;
  std::optional<absl::Status> ping;
  c.Ping([&](absl::Status st) { ping = st; });
  ASSERT_TRUE(RunUntil([&] { return ping.has_value(); }, 2s));
  EXPECT_TRUE(absl::IsUnauthenticated(*ping)) << *ping;
}

TEST_F(AsyncClientTest, ABatchAboveTheFrameLimitFailsLocally) {
  AsyncClient c(io_, For("p"));
  c.Start([](absl::Status) {});
  ASSERT_TRUE(RunUntil([&] { return c.connected(); }));
  std::vector<Reminder> huge;
  for (int i = 0; i < 300; ++i) {
    Reminder r = Due("big" + std::to_string(i), SystemNowMs() + 60'000);
    r.payload.assign(64 << 10, 'x');
    huge.push_back(r);
  }
  std::optional<absl::StatusOr<AsyncClient::ScheduleResults>> result;
  c.Schedule(huge, [&](auto r) { result = r; });
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }));
  EXPECT_TRUE(absl::IsInvalidArgument(result->status())) << result->status();
  // The connection is still good.
  std::optional<absl::Status> ping;
  c.Ping([&](absl::Status st) { ping = st; });
  ASSERT_TRUE(RunUntil([&] { return ping.has_value(); }));
  EXPECT_TRUE(ping->ok()) << *ping;
}

TEST_F(AsyncClientTest, CloseFailsWhatIsPendingWithCancelled) {
  AsyncClient c(io_, For("p"));
  c.Start([](absl::Status) {});
  std::optional<absl::Status> ping;
  c.Ping([&](absl::Status st) { ping = st; });
  c.Close();
  ASSERT_TRUE(ping.has_value());
  EXPECT_TRUE(absl::IsCancelled(*ping)) << *ping;
}

}  // namespace
}  // namespace rappel::client
