// The shard's election against a real etcd (tests/testing/etcd_process.h):
// one leader among three, a crashed leader replaced under the next term
// after its lease runs out and never while its guard still holds, the most
// advanced candidate preferred, a graceful stop handing over at once. The
// lease guard alone on a fake clock.
#include "server/coord/election.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/coord/lease_guard.h"
#include "tests/testing/etcd_process.h"

namespace rappel::server::coord {
namespace {

using testing::EtcdProcess;

TEST(LeaseGuard, ValidUntilSendTimePlusTtlMinusMarginAndOnlyExtended) {
  int64_t now = 1000;
  LeaseGuard guard(400, [&] { return now; });
  EXPECT_FALSE(guard.Valid());  // no lease yet
  guard.Renewed(1000, 2000);    // sent at 1000, TTL 2 s: valid until 2600
  now = 2599;
  EXPECT_TRUE(guard.Valid());
  now = 2600;
  EXPECT_FALSE(guard.Valid());
  EXPECT_EQ(guard.remaining_ms(), 0);
  // An older answer arriving late does not shorten it; a newer one extends.
  guard.Renewed(3000, 2000);
  guard.Renewed(900, 2000);
  now = 4599;
  EXPECT_TRUE(guard.Valid());
  // A pause past the TTL: the next read of the clock says expired.
  now = 10'000;
  EXPECT_FALSE(guard.Valid());
  // The lease is gone: nothing is valid until a new grant.
  guard.Renewed(10'000, 2000);
  EXPECT_TRUE(guard.Valid());
  guard.Lost();
  EXPECT_FALSE(guard.Valid());
  EXPECT_EQ(LeaseGuard::DefaultMarginMs(2000), 500);
  EXPECT_EQ(LeaseGuard::DefaultMarginMs(1000), 400);
}

// One node of a test shard: its election and what its callbacks saw.
struct Node {
  Node(EtcdClient* etcd, std::string name, ShardPosition pos = {}) : position(pos) {
    ElectionOptions options;
    options.shard = "s1";
    options.node = name;
    options.client = name + ":7411";
    options.replication = name + ":7412";
    options.ttl_s = 2;
    options.poll_ms = 50;
    options.settle_ms = 100;
    ElectionCallbacks callbacks;
    callbacks.position = [this] {
      std::lock_guard lock(mu);
      return position;
    };
    callbacks.elected = [this](uint64_t term) {
      std::lock_guard lock(mu);
      elected_terms.push_back(term);
      elected_at_ms = BootTimeMs();
    };
    callbacks.deposed = [this](const std::string&) { deposed.fetch_add(1); };
    election = std::make_unique<Election>(etcd, options, callbacks);
  }
  std::vector<uint64_t> Terms() {
    std::lock_guard lock(mu);
    return elected_terms;
  }

  std::mutex mu;
  ShardPosition position;
  std::vector<uint64_t> elected_terms;
  int64_t elected_at_ms = 0;
  std::atomic<int> deposed{0};
  std::unique_ptr<Election> election;
};

// Waits (bounded) until exactly one of `nodes` leads; answers its index or -1.
int WaitForOneLeader(const std::vector<Node*>& nodes, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int leader = -1;
    int count = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i]->election->is_leader()) {
        leader = static_cast<int>(i);
        ++count;
      }
    }
    // Elected: is_leader() and its callback has run.
    if (count == 1 && !nodes[leader]->Terms().empty()) return leader;
    EXPECT_LE(count, 1) << "two leaders at once";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

class ElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.ok()) << etcd_.LogTail();
    client_ = std::make_unique<EtcdClient>(EtcdOptions{{etcd_.endpoint()}, 1000, 300});
  }
  EtcdProcess etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(ElectionTest, OneLeaderAmongThreeAndEveryoneKnowsIt) {
  Node a(client_.get(), "a"), b(client_.get(), "b"), c(client_.get(), "c");
  for (Node* n : {&a, &b, &c}) n->election->Start();
  int leader = WaitForOneLeader({&a, &b, &c}, 5000);
  ASSERT_GE(leader, 0);
  Node* nodes[] = {&a, &b, &c};
  Node& l = *nodes[leader];
  EXPECT_EQ(l.Terms(), std::vector<uint64_t>{1});
  EXPECT_EQ(l.election->term(), 1u);
  EXPECT_TRUE(l.election->guard().Valid());
  // Equal positions: the lowest name wins.
  EXPECT_EQ(l.election->leader().node, "a");
  for (Node* n : {&a, &b, &c}) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (n->election->leader().node != "a" && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(n->election->leader().node, "a");
    EXPECT_EQ(n->election->leader().client, "a:7411");
    EXPECT_EQ(n->election->leader().term, 1u);
  }
  // The term is in etcd for whoever comes next.
  auto term = client_->Range(a.election->TermKey());
  ASSERT_TRUE(term.ok()) << term.status();
  ASSERT_EQ(term->kvs.size(), 1u);
  EXPECT_EQ(term->kvs[0].value, "1");
}

TEST_F(ElectionTest, ACrashedLeaderIsReplacedUnderTheNextTermOnlyAfterItsGuardRanOut) {
  Node a(client_.get(), "a", {1, 50}), b(client_.get(), "b", {1, 40}),
      c(client_.get(), "c", {1, 30});
  for (Node* n : {&a, &b, &c}) n->election->Start();
  ASSERT_EQ(WaitForOneLeader({&a, &b, &c}, 5000), 0);  // the most advanced
  // b is ahead of c when the leader disappears.
  a.election->Abandon();  // as SIGKILL would: the lease is left to expire
  int64_t killed_at = BootTimeMs();
  int next = WaitForOneLeader({&b, &c}, 6000);
  ASSERT_EQ(next, 0) << "b (index 40) must win over c (index 30)";
  EXPECT_EQ(b.Terms(), std::vector<uint64_t>{2});
  EXPECT_TRUE(c.Terms().empty());
  // Fencing: when b was elected, a's guard no longer held.
  int64_t elected_at;
  {
    std::lock_guard lock(b.mu);
    elected_at = b.elected_at_ms;
  }
  EXPECT_FALSE(a.election->guard().Valid());
  EXPECT_GT(elected_at - killed_at, 0);
  // The time etcd took: TTL 2 s counted from a's last renewal (at most TTL/3
  // before the kill), plus etcd's expiry loop (500 ms), plus settle and poll.
  EXPECT_LT(elected_at - killed_at, 4000);
  std::cout << "kill -> new leader: " << (elected_at - killed_at) << " ms\n";
}

TEST_F(ElectionTest, AStoppedLeaderHandsOverWithoutWaitingForItsLease) {
  Node a(client_.get(), "a"), b(client_.get(), "b");
  a.election->Start();
  ASSERT_EQ(WaitForOneLeader({&a}, 5000), 0);
  b.election->Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(b.election->is_leader());
  EXPECT_EQ(b.election->leader().node, "a");
  int64_t stopped_at = BootTimeMs();
  a.election->Stop();  // revokes its lease
  ASSERT_EQ(WaitForOneLeader({&b}, 3000), 0);
  int64_t elected_at;
  {
    std::lock_guard lock(b.mu);
    elected_at = b.elected_at_ms;
  }
  EXPECT_LT(elected_at - stopped_at, 1000);  // poll + settle, not the 2 s TTL
  EXPECT_EQ(b.election->term(), 2u);
}

TEST_F(ElectionTest, ALeaderCutOffFromEtcdStopsByItselfAndIsDeposed) {
  Node a(client_.get(), "a");
  a.election->Start();
  ASSERT_EQ(WaitForOneLeader({&a}, 5000), 0);
  ASSERT_EQ(kill(etcd_.pid(), SIGSTOP), 0);
  int64_t stopped_at = BootTimeMs();
  // Within the TTL the guard runs out although nobody said so.
  while (a.election->guard().Valid() && BootTimeMs() - stopped_at < 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int64_t invalid_after = BootTimeMs() - stopped_at;
  EXPECT_FALSE(a.election->guard().Valid());
  EXPECT_LT(invalid_after, 2000);
  EXPECT_TRUE(a.election->is_leader());  // it does not know yet
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_EQ(kill(etcd_.pid(), SIGCONT), 0);
  // etcd resumed: either the lease survived (etcd had not run its expiry) and
  // a carries on under term 1, or it expired and a is deposed and wins again
  // under term 2. Both end with a valid guard and one leader.
  ASSERT_EQ(WaitForOneLeader({&a}, 8000), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (!(a.election->is_leader() && a.election->guard().Valid() &&
           a.Terms().size() == a.election->term()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(a.election->guard().Valid());
  EXPECT_EQ(static_cast<uint64_t>(a.Terms().size()), a.election->term());
  EXPECT_EQ(a.deposed.load() + 1, static_cast<int>(a.Terms().size()));
}

}  // namespace
}  // namespace rappel::server::coord
