// Clients follow the leader: a primary and a static standby in this
// process. The standby's client port says Hello (shard role Standby, the
// primary's client address), answers Ping and Stats (its position), and
// refuses the rest with Unavailable naming the leader; the client library
// goes to the leader at Hello or on a refusal, tries its endpoints in
// turn (at connect and after a drop, re-subscribing), and does not spin
// between two nodes that name each other.
#include <fstream>
#include <future>

#include "gtest/gtest.h"
#include "protocol/framing.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wire_client.h"

namespace rappel::server {
namespace {

using client::BlockingClient;
using client::FollowLeader;
using client::ShardRole;
using testing::RappeldThread;
namespace wire = protocol::wire;

template <typename Fn>
auto OnIo(RappeldThread& t, Fn fn) {
  std::promise<decltype(fn())> p;
  asio::post(t.io(), [&] { p.set_value(fn()); });
  return p.get_future().get();
}

std::vector<Credential> Tokens() {
  return {MakeCredential("p", wire::Role::Producer), MakeCredential("w", wire::Role::Worker),
          MakeCredential("a", wire::Role::Admin), MakeCredential("r", wire::Role::Replica)};
}

class FollowLeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RappeldOptions p;
    p.engine.store.path = dir_.Sub("primary");
    p.server.port = 0;
    p.replication.port = 0;
    p.handler.tokens = Tokens();
    ASSERT_TRUE(primary_.Start(p).ok());
    std::ofstream(dir_.Sub("token")) << "r\n";
    leader_ = absl::StrCat("127.0.0.1:", primary_.port());
    ASSERT_TRUE(StartStandby(standby_, "standby", primary_.rappeld().replication_port()).ok());
    ASSERT_TRUE(Streaming(standby_));
  }
  absl::Status StartStandby(RappeldThread& t, const std::string& name, uint16_t primary) {
    RappeldOptions s;
    s.engine.store.path = dir_.Sub(name);
    s.server.port = 0;
    s.handler.tokens = Tokens();
    s.replication.replica_of = absl::StrCat("127.0.0.1:", primary);
    s.replication.token_file = dir_.Sub("token");
    s.replication.node = name;
    return t.Start(s);
  }
  // Bounded: the standby streams and names the leader.
  bool Streaming(RappeldThread& t) {
    for (int i = 0; i < 500; ++i) {
      bool ok = OnIo(t, [&] {
        return t.rappeld().applier()->status().streaming &&
               !t.rappeld().standby_handler()->leader().empty();
      });
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  client::Options To(uint16_t port, const std::string& token,
                     FollowLeader follow = FollowLeader::kAlways) {
    client::Options o;
    o.endpoints = {{"127.0.0.1", port}};
    o.token = token;
    o.follow_leader = follow;
    o.timeout = std::chrono::milliseconds(5'000);
    return o;
  }
  std::vector<client::Reminder> Batch(const std::string& key, int64_t due) {
    return {{1, key, client::Channel::kSms, "+33600000001", due, 0, "payload"}};
  }

  rappel::testing::TempDir dir_;
  RappeldThread primary_;
  RappeldThread standby_;
  std::string leader_;
};

TEST_F(FollowLeaderTest, TheStandbySaysHelloAsAStandbyAndRefusesWritesNamingTheLeader) {
  testing::WireClient c(standby_.port());
  const wire::Frame* hello = c.Hello("p");
  ASSERT_NE(hello, nullptr);
  ASSERT_EQ(hello->body_type(), wire::Body::HelloReply);
  EXPECT_EQ(hello->body_as_HelloReply()->role(), wire::Role::Producer);
  EXPECT_EQ(hello->body_as_HelloReply()->shard_role(), wire::ShardRole::Standby);
  ASSERT_NE(hello->body_as_HelloReply()->leader(), nullptr);
  EXPECT_EQ(hello->body_as_HelloReply()->leader()->str(), leader_);

  flatbuffers::FlatBufferBuilder b;
  auto ping = wire::CreatePing(b);
  c.Send(b, 2, wire::Body::Ping, ping.Union());
  const wire::Frame* pong = c.ReadReply();
  ASSERT_NE(pong, nullptr);
  EXPECT_EQ(pong->body_type(), wire::Body::Pong);

  flatbuffers::FlatBufferBuilder s;
  auto sub = wire::CreateSubscribe(s);
  c.Send(s, 3, wire::Body::Subscribe, sub.Union());
  const wire::Frame* refused = c.ReadReply();
  ASSERT_NE(refused, nullptr);
  ASSERT_EQ(refused->body_type(), wire::Body::Error);
  EXPECT_EQ(refused->request_id(), 3u);
  const wire::Status* st = refused->body_as_Error()->status();
  EXPECT_EQ(st->code(), wire::ErrorCode::Unavailable);
  ASSERT_NE(st->leader(), nullptr);
  EXPECT_EQ(st->leader()->str(), leader_);
  EXPECT_EQ(st->message()->str(), "not the leader; the leader is at " + leader_);

  // A producer may not read Stats, on a standby as on a primary.
  flatbuffers::FlatBufferBuilder t;
  auto stats = wire::CreateStats(t);
  c.Send(t, 4, wire::Body::Stats, stats.Union());
  const wire::Frame* denied = c.ReadReply();
  ASSERT_NE(denied, nullptr);
  ASSERT_EQ(denied->body_type(), wire::Body::Error);
  EXPECT_EQ(denied->body_as_Error()->status()->code(), wire::ErrorCode::PermissionDenied);

  // The primary says it leads; an unknown token is refused on both.
  testing::WireClient pc(primary_.port());
  const wire::Frame* ph = pc.Hello("p");
  ASSERT_NE(ph, nullptr);
  EXPECT_EQ(ph->body_as_HelloReply()->shard_role(), wire::ShardRole::Leader);
  testing::WireClient bad(standby_.port());
  const wire::Frame* no = bad.Hello("nope");
  ASSERT_NE(no, nullptr);
  ASSERT_EQ(no->body_type(), wire::Body::Error);
  EXPECT_EQ(no->body_as_Error()->status()->code(), wire::ErrorCode::Unauthenticated);
}

TEST_F(FollowLeaderTest, AProducerGivenTheStandbyIsSentToThePrimaryAndSchedules) {
  auto c = BlockingClient::Connect(To(standby_.port(), "p"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->endpoint(), leader_);
  EXPECT_EQ((*c)->shard_role(), ShardRole::kLeader);
  auto r = (*c)->Schedule(Batch("k1", SystemNowMs() + 3'600'000));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_TRUE((*r)[0].ok()) << (*r)[0].status();
  EXPECT_EQ(*(*r)[0], client::ScheduleOutcome::kCreated);
}

TEST_F(FollowLeaderTest, WithoutFollowingAWriteToTheStandbyIsUnavailableNamingTheLeader) {
  auto c = BlockingClient::Connect(To(standby_.port(), "p", FollowLeader::kNever));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->shard_role(), ShardRole::kStandby);
  auto r = (*c)->Schedule(Batch("k1", SystemNowMs() + 3'600'000));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_EQ(r.status().message(), "not the leader; the leader is at " + leader_);
  EXPECT_TRUE((*c)->Ping().ok());  // still connected to the standby
}

TEST_F(FollowLeaderTest, AnAdminReadsTheStandbysPositionThenItsWriteFollowsTheLeader) {
  auto producer = BlockingClient::Connect(To(primary_.port(), "p"));
  ASSERT_TRUE(producer.ok());
  auto r = (*producer)->Schedule(Batch("k1", SystemNowMs() + 3'600'000));
  ASSERT_TRUE(r.ok()) << r.status();
  // The hook publishes its position beside the answer, not before it.
  ReplPos primary;
  for (int i = 0; i < 200 && primary.index == 0; ++i) {
    primary = primary_.rappeld().replication_position();
    if (primary.index == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(primary.index, 0u);

  auto admin = BlockingClient::Connect(To(standby_.port(), "a", FollowLeader::kOnRefusal));
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ((*admin)->shard_role(), ShardRole::kStandby);
  // Bounded: the standby makes the group durable.
  client::ServerStats stats;
  for (int i = 0; i < 500; ++i) {
    auto s = (*admin)->Stats();
    ASSERT_TRUE(s.ok()) << s.status();
    stats = *s;
    if (stats.replication.index >= primary.index) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(stats.replication.role, ShardRole::kStandby);
  EXPECT_EQ(stats.replication.leader, leader_);
  EXPECT_EQ(stats.replication.index, primary.index);
  EXPECT_EQ(stats.replication.term, primary.term);
  EXPECT_TRUE(stats.replication.streaming);
  EXPECT_GT(stats.replication.commit_ms, 0);
  EXPECT_EQ(stats.pending, 0u);  // no engine on a standby

  // The primary's Stats: it leads, and its standby acked that position.
  auto primary_admin = BlockingClient::Connect(To(primary_.port(), "a"));
  ASSERT_TRUE(primary_admin.ok());
  auto ps = (*primary_admin)->Stats();
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->replication.role, ShardRole::kLeader);
  EXPECT_EQ(ps->replication.index, primary.index);
  EXPECT_EQ(ps->pending, 1u);
  ASSERT_EQ(ps->replication.standbys.size(), 1u);
  EXPECT_EQ(ps->replication.standbys[0].node, "standby");

  // A write from the admin on the standby is refused there, sent again to
  // the leader, and applied once.
  auto w = (*admin)->Schedule(Batch("k2", SystemNowMs() + 3'600'000));
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)[0].ok()) << (*w)[0].status();
  EXPECT_EQ(*(*w)[0], client::ScheduleOutcome::kCreated);
  EXPECT_EQ((*admin)->endpoint(), leader_);
  auto after = (*primary_admin)->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->pending, 2u);
}

TEST_F(FollowLeaderTest, AWorkerSubscribedThroughTheStandbyIsServedByThePrimary) {
  auto worker = BlockingClient::Connect(To(standby_.port(), "w"));
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE((*worker)->Subscribe({client::Channel::kSms}, 10, 10).ok());
  EXPECT_EQ((*worker)->endpoint(), leader_);
  // Through the refusal path too: a worker that stays on the standby until
  // its Subscribe is refused.
  auto late = BlockingClient::Connect(To(standby_.port(), "w", FollowLeader::kOnRefusal));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ((*late)->endpoint(), absl::StrCat("127.0.0.1:", standby_.port()));
  ASSERT_TRUE((*late)->Subscribe({client::Channel::kEmail}, 10, 10).ok());
  EXPECT_EQ((*late)->endpoint(), leader_);

  auto producer = BlockingClient::Connect(To(primary_.port(), "p"));
  ASSERT_TRUE(producer.ok());
  auto r = (*producer)->Schedule(
      {{1, "due-sms", client::Channel::kSms, "+33600000001", SystemNowMs(), 0, "x"},
       {1, "due-mail", client::Channel::kEmail, "a@example.org", SystemNowMs(), 0, "y"}});
  ASSERT_TRUE(r.ok()) << r.status();
  auto wait_for = [](BlockingClient& c, const std::string& key) {
    for (int i = 0; i < 100; ++i) {
      auto m = c.Receive(std::chrono::milliseconds(50));
      if (!m.ok()) return false;
      for (const client::Message& msg : *m) {
        if (msg.reminder.key == key) return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(wait_for(**worker, "due-sms"));
  EXPECT_TRUE(wait_for(**late, "due-mail"));
}

TEST_F(FollowLeaderTest, ConnectsToTheFirstEndpointThatAnswers) {
  // A port nobody listens on: bound, then closed.
  uint16_t dead = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    dead = a.local_endpoint().port();
  }
  client::Options o = To(dead, "p");
  o.endpoints.push_back({"127.0.0.1", primary_.port()});
  o.reconnect.initial = std::chrono::milliseconds(5'000);  // a wait would show
  auto start = std::chrono::steady_clock::now();
  auto c = BlockingClient::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ((*c)->endpoint(), leader_);
  EXPECT_TRUE((*c)->Ping().ok());
}

TEST_F(FollowLeaderTest, TwoStandbysNamingEachOtherAreNotFollowedForever) {
  RappeldThread other;
  ASSERT_TRUE(StartStandby(other, "other", primary_.rappeld().replication_port()).ok());
  ASSERT_TRUE(Streaming(other));
  std::string a = absl::StrCat("127.0.0.1:", standby_.port());
  std::string b = absl::StrCat("127.0.0.1:", other.port());
  // As during a failover seen from two stale nodes. (The applier would set
  // the real leader again only on its next stream start.)
  OnIo(standby_, [&] {
    standby_.rappeld().standby_handler()->SetLeader(b);
    return 0;
  });
  OnIo(other, [&] {
    other.rappeld().standby_handler()->SetLeader(a);
    return 0;
  });
  client::Options o = To(standby_.port(), "p");
  o.max_redirects = 3;
  auto start = std::chrono::steady_clock::now();
  auto c = BlockingClient::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
  EXPECT_NE(c.status().message().find("after 3 leaders followed in a row"), std::string::npos)
      << c.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  other.Stop();
}

TEST_F(FollowLeaderTest, ADroppedConnectionGoesOnToTheNextEndpointAndResubscribes) {
  // A single node first in the list, the primary second.
  RappeldThread first;
  RappeldOptions o;
  o.engine.store.path = dir_.Sub("first");
  o.server.port = 0;
  o.handler.tokens = Tokens();
  ASSERT_TRUE(first.Start(o).ok());
  client::Options w = To(first.port(), "w");
  w.endpoints.push_back({"127.0.0.1", primary_.port()});
  w.reconnect.initial = std::chrono::milliseconds(20);
  auto worker = BlockingClient::Connect(w);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ((*worker)->endpoint(), absl::StrCat("127.0.0.1:", first.port()));
  EXPECT_EQ((*worker)->shard_role(), ShardRole::kSingle);
  ASSERT_TRUE((*worker)->Subscribe({client::Channel::kSms}, 10, 10).ok());
  first.Stop();

  auto producer = BlockingClient::Connect(To(primary_.port(), "p"));
  ASSERT_TRUE(producer.ok());
  auto r = (*producer)->Schedule(
      {{1, "after-drop", client::Channel::kSms, "+33600000001", SystemNowMs(), 0, "x"}});
  ASSERT_TRUE(r.ok()) << r.status();
  bool got = false;
  for (int i = 0; i < 100 && !got; ++i) {
    auto m = (*worker)->Receive(std::chrono::milliseconds(50));
    ASSERT_TRUE(m.ok()) << m.status();
    for (const client::Message& msg : *m) got = got || msg.reminder.key == "after-drop";
  }
  EXPECT_TRUE(got);
  EXPECT_EQ((*worker)->endpoint(), leader_);
}

TEST(ParseEndpointsTest, ListsWithAndWithoutPortsAndBadEntries) {
  auto e = client::ParseEndpoints("a.example:7000, b.example,[::1]:7412", 7411);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].host, "a.example");
  EXPECT_EQ((*e)[0].port, 7000);
  EXPECT_EQ((*e)[1].host, "b.example");
  EXPECT_EQ((*e)[1].port, 7411);
  EXPECT_EQ((*e)[2].host, "::1");
  EXPECT_EQ((*e)[2].port, 7412);
  for (const char* bad : {"", "a:0", "a:70000", "a:x", ":7411", "a,,b", "::1:7411", "[::1"}) {
    auto r = client::ParseEndpoints(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad;
  }
}

}  // namespace
}  // namespace rappel::server
