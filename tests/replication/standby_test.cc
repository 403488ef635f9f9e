// A primary and a static asynchronous standby, both rappeld in this
// process: under producer and worker load (with the standby stopped and
// restarted in the middle) the standby converges to the primary's store,
// key by key (log, state, repl_pos); a peer without a Replica token, and
// garbage on the replication port, are refused while the primary serves.
#include <fstream>
#include <future>

#include "gtest/gtest.h"
#include "protocol/framing.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using client::BlockingClient;
using testing::Dump;
using testing::OnIo;
using testing::RappeldThread;
using testing::StoreDump;

class StandbyTest : public ::testing::Test {
 protected:
  void SetUp() override { StartPrimary(uint64_t{256} << 20); }
  void StartPrimary(uint64_t backlog_bytes, uint32_t sync_standbys = 0) {
    RappeldOptions p;
    p.replication.backlog_bytes = backlog_bytes;
    p.replication.sync_standbys = sync_standbys;
    p.engine.store.path = dir_.Sub("primary");
    p.server.port = 0;
    p.replication.port = 0;
    p.handler.tokens = {MakeCredential("p", protocol::wire::Role::Producer),
                        MakeCredential("w", protocol::wire::Role::Worker),
                        MakeCredential("a", protocol::wire::Role::Admin),
                        MakeCredential("r", protocol::wire::Role::Replica)};
    ASSERT_TRUE(primary_.Start(p).ok());
    std::ofstream(dir_.Sub("token")) << "r\n";
  }
  absl::Status StartStandby(const std::string& token_file) {
    RappeldOptions s;
    s.engine.store.path = dir_.Sub("standby");
    s.server.port = 0;  // a standby listens for clients too
    s.replication.replica_of =
        absl::StrCat("127.0.0.1:", primary_.rappeld().replication_port());
    s.replication.token_file = token_file;
    s.replication.node = "standby-1";
    return standby_.Start(s);
  }
  ReplicaStatus StandbyStatus() {
    return OnIo(standby_, [&] { return standby_.rappeld().applier()->status(); });
  }
  // Waits (bounded) until the standby holds everything the primary did.
  bool CaughtUp() {
    for (int i = 0; i < 500; ++i) {
      ReplPos p = primary_.rappeld().replication_position();
      ReplicaStatus s = StandbyStatus();
      if (s.streaming && s.durable == p) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::unique_ptr<BlockingClient> Connect(const std::string& token) {
    client::Options o;
    o.port = primary_.port();
    o.token = token;
    auto c = BlockingClient::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  void Schedule(BlockingClient& producer, int from, int count, int64_t due) {
    std::vector<client::Reminder> batch;
    for (int i = from; i < from + count; ++i) {
      batch.push_back({1 + static_cast<uint32_t>(i % 3), "k" + std::to_string(i),
                       client::Channel::kSms, "+33600000001", due, 0, "payload"});
    }
    auto r = producer.Schedule(batch);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  rappel::testing::TempDir dir_;
  RappeldThread primary_;
  RappeldThread standby_;
};

TEST_F(StandbyTest, ConvergesUnderLoadAcrossAStandbyRestart) {
  ASSERT_TRUE(StartStandby(dir_.Sub("token")).ok());
  auto producer = Connect("p");
  auto worker = Connect("w");
  auto admin = Connect("a");
  ASSERT_TRUE(producer && worker && admin);
  // State writes too: a rate limit (high enough not to slow the test) and
  // the dead letters of the permanent failures below.
  ASSERT_TRUE(admin->SetRateLimits({client::RateLimit{client::Channel::kSms, true, 0, 100'000,
                                                      1000, 10'000}})
                  .ok());
  ASSERT_TRUE(worker->Subscribe({client::Channel::kSms}, 1000, 100).ok());
  const int64_t now = SystemNowMs();
  size_t acked = 0;
  auto ack_some = [&] {
    for (int round = 0; round < 50; ++round) {
      auto m = worker->Receive(std::chrono::milliseconds(20));
      ASSERT_TRUE(m.ok()) << m.status();
      if (m->empty()) return;
      std::vector<client::AckItem> items;
      for (const auto& msg : *m) {
        items.push_back({msg.lease_id,
                         items.size() % 10 == 0 ? client::AckOutcome::kFailedPermanent
                                                : client::AckOutcome::kSent,
                         "test"});
      }
      ASSERT_TRUE(worker->Ack(items).ok());
      acked += items.size();
    }
  };
  for (int round = 0; round < 10; ++round) {
    Schedule(*producer, round * 100, 50, now);                 // due: delivered and acked
    Schedule(*producer, round * 100 + 50, 50, now + 3'600'000);  // pending
    std::vector<client::Key> cancel;
    for (int i = 0; i < 10; ++i) cancel.push_back({1 + static_cast<uint32_t>((round * 100 + 50 + i) % 3), "k" + std::to_string(round * 100 + 50 + i)});
    ASSERT_TRUE(producer->Cancel(cancel).ok());
    ack_some();
    if (round == 3) standby_.Stop();  // the primary goes on without it
    if (round == 6) ASSERT_TRUE(StartStandby(dir_.Sub("token")).ok());  // resumes from the backlog
  }
  for (int i = 0; i < 100 && acked < 500; ++i) ack_some();
  EXPECT_EQ(acked, 500u);
  ASSERT_TRUE(CaughtUp()) << "primary at " << primary_.rappeld().replication_position().index
                          << ", standby at " << StandbyStatus().durable.index << " streaming "
                          << StandbyStatus().streaming << ": " << StandbyStatus().last_error;
  ReplicaStatus s = StandbyStatus();
  EXPECT_EQ(s.connects, 1u);  // one stream since the restart, none refused
  auto standbys = OnIo(primary_, [&] { return primary_.rappeld().replication()->standbys(); });
  ASSERT_EQ(standbys.size(), 1u);
  EXPECT_EQ(standbys[0].node, "standby-1");
  // The acks come after the standby's commits: wait for the last (bounded).
  for (int i = 0; i < 200 && standbys[0].acked != s.durable; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    standbys = OnIo(primary_, [&] { return primary_.rappeld().replication()->standbys(); });
  }
  EXPECT_EQ(standbys[0].acked, s.durable);

  producer.reset();
  worker.reset();
  admin.reset();
  standby_.Stop();
  primary_.Stop();
  StoreDump a = Dump(dir_.Sub("primary"));
  StoreDump b = Dump(dir_.Sub("standby"));
  EXPECT_GT(a.pos.index, 20u);
  EXPECT_EQ(a.pos, b.pos);
  EXPECT_GT(a.log.size(), 1000u);
  EXPECT_FALSE(a.state.empty());
  EXPECT_TRUE(a.log == b.log) << a.log.size() << " vs " << b.log.size();
  EXPECT_TRUE(a.state == b.state) << a.state.size() << " vs " << b.state.size();
}

// A standby past the backlog catches up from a snapshot: catchup_test.cc.

TEST_F(StandbyTest, ASyncStandbyHoldsTheAnswerUntilItHasTheWrite) {
  primary_.Stop();
  StartPrimary(uint64_t{256} << 20, 1);
  ASSERT_TRUE(StartStandby(dir_.Sub("token")).ok());
  auto producer = Connect("p");
  ASSERT_TRUE(producer);
  Schedule(*producer, 0, 10, SystemNowMs() + 3'600'000);  // answered: the standby has it
  ASSERT_TRUE(CaughtUp());
  standby_.Stop();
  // Without its standby the primary commits but does not answer.
  auto held = std::async(std::launch::async, [&] {
    std::vector<client::Reminder> batch = {
        {1, "held", client::Channel::kSms, "+33600000001", SystemNowMs() + 3'600'000, 0, "x"}};
    return producer->Schedule(batch).status();
  });
  // Committed and held (bounded wait for the commit), and still unanswered
  // a while later.
  for (int i = 0; i < 500 && primary_.rappeld().replication_answers().waiting_rounds == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  AnswerQueueStats s = primary_.rappeld().replication_answers();
  EXPECT_EQ(s.waiting_rounds, 1u);
  EXPECT_EQ(s.waiting_completions, 1u);
  EXPECT_GE(s.oldest_wait_ms, 250);
  ASSERT_TRUE(StartStandby(dir_.Sub("token")).ok());
  ASSERT_EQ(held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(held.get().ok());
  EXPECT_EQ(primary_.rappeld().replication_answers().waiting_rounds, 0u);
  EXPECT_TRUE(CaughtUp());

  // Stopping a primary with a write held for a missing standby does not hang.
  standby_.Stop();
  auto dropped = std::async(std::launch::async, [&] {
    std::vector<client::Reminder> batch = {
        {1, "dropped", client::Channel::kSms, "+33600000001", SystemNowMs() + 3'600'000, 0, "x"}};
    return producer->Schedule(batch).status();
  });
  EXPECT_EQ(dropped.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  primary_.Stop();
  ASSERT_EQ(dropped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(dropped.get().ok());  // its connection dropped: never acknowledged
}

// Sends raw bytes to the replication port and returns the first frame's
// body type in the answer, or nullopt when the primary just closes.
std::optional<protocol::wire::Body> Poke(uint16_t port, const std::string& bytes) {
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(sock, asio::buffer(bytes));
  std::vector<uint8_t> buf(4);
  asio::error_code ec;
  asio::read(sock, asio::buffer(buf), ec);
  if (ec) return std::nullopt;
  uint32_t n = buf[0] | buf[1] << 8 | buf[2] << 16 | uint32_t{buf[3]} << 24;
  buf.resize(4 + n);
  asio::read(sock, asio::buffer(buf.data() + 4, n), ec);
  if (ec) return std::nullopt;
  auto frame = protocol::VerifyFrame(buf.data(), buf.size(), {});
  if (!frame.ok()) return std::nullopt;
  return (*frame)->body_type();
}

std::string HelloFrame(const std::string& token) {
  flatbuffers::FlatBufferBuilder b;
  auto t = b.CreateString(token);
  auto hello = protocol::wire::CreateHello(b, protocol::kProtocolVersion, t, 0);
  protocol::FinishFrame(b, 1, protocol::wire::Body::Hello, hello.Union());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

TEST_F(StandbyTest, RefusesOtherTokensAndGarbageAndGoesOnServing) {
  uint16_t port = primary_.rappeld().replication_port();
  // A producer's token: an Error frame (Unauthenticated), then closed.
  EXPECT_EQ(Poke(port, HelloFrame("p")), protocol::wire::Body::Error);
  EXPECT_EQ(Poke(port, HelloFrame("nope")), protocol::wire::Body::Error);
  // A length far past the limit, and bytes that are no frame: closed.
  EXPECT_EQ(Poke(port, std::string("\xff\xff\xff\x7f garbage", 12)), std::nullopt);
  EXPECT_EQ(Poke(port, std::string("\x10\x00\x00\x00not a flatbuffer", 20)), std::nullopt);
  // A standby with the wrong token is refused and keeps retrying.
  std::ofstream(dir_.Sub("bad-token")) << "w\n";
  ASSERT_TRUE(StartStandby(dir_.Sub("bad-token")).ok());
  auto producer = Connect("p");
  ASSERT_TRUE(producer);
  Schedule(*producer, 0, 10, SystemNowMs() + 3'600'000);
  for (int i = 0; i < 100 && StandbyStatus().last_error.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(StandbyStatus().streaming);
  EXPECT_NE(StandbyStatus().last_error.find("role replica"), std::string::npos)
      << StandbyStatus().last_error;
  standby_.Stop();
  // The primary serves clients and a proper standby all along.
  // Groups it has not seen, and no commit after it connects: it must still get them.
  Schedule(*producer, 10, 10, SystemNowMs() + 3'600'000);
  ASSERT_TRUE(StartStandby(dir_.Sub("token")).ok());
  EXPECT_TRUE(CaughtUp()) << StandbyStatus().last_error;
  EXPECT_TRUE(producer->Ping().ok());
  // And the replica token opens nothing on the client port.
  client::Options o;
  o.port = primary_.port();
  o.token = "r";
  auto replica_on_client_port = BlockingClient::Connect(o);
  EXPECT_TRUE(absl::IsUnauthenticated(replica_on_client_port.status()))
      << replica_on_client_port.status();
}

}  // namespace
}  // namespace rappel::server
