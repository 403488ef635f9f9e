// A replicated shard of three rappeld processes and a real etcd
// (tests/testing/shard_cluster.h): the leader killed, paused past its lease,
// a standby killed, etcd stopped, all under a producing load; no write the
// cluster acknowledged may be missing afterwards.
//
// RAPPEL_FAILOVER_ROUNDS sets the kill rounds (default 20; 3 in the
// sanitizer build);
// RAPPEL_FAILOVER_REPORT=FILE appends each round's failover time there
// (bench/failover.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/shard_cluster.h"

namespace rappel::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
}

// Schedules batches of new keys on whichever node takes them, round robin
// over the nodes on any failure; records every key acknowledged, by whom
// and when the acknowledgement arrived.
class Producer {
 public:
  struct Ack {
    int node;
    int64_t at_ms;
  };

  // `firing`: a quarter of the batches fall due at once (keys "f..."), the
  // rest a day ahead (keys "k...", which keys() lists).
  explicit Producer(ShardCluster& cluster, bool firing = false)
      : cluster_(cluster), firing_(firing), thread_([this] { Run(); }) {}
  ~Producer() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() const {
    std::lock_guard lock(mu_);
    return keys_.size();
  }
  // The last acknowledgement (node -1 before any).
  Ack last() const {
    std::lock_guard lock(mu_);
    return acks_.empty() ? Ack{-1, 0} : acks_.back();
  }
  // The first acknowledgement after `after_ms` by a node other than `not_node`.
  std::optional<Ack> FirstAckAfter(int64_t after_ms, int not_node) const {
    std::lock_guard lock(mu_);
    std::optional<Ack> first;
    for (auto it = acks_.rbegin(); it != acks_.rend() && it->at_ms > after_ms; ++it) {
      if (it->node != not_node) first = *it;
    }
    return first;
  }
  // Acknowledgements by `node` that arrived after `after_ms`.
  size_t AcksBy(int node, int64_t after_ms) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count_if(acks_.begin(), acks_.end(), [&](const Ack& a) {
      return a.node == node && a.at_ms > after_ms;
    }));
  }
  std::vector<std::string> keys() const {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  void Run() {
    std::unique_ptr<client::BlockingClient> c;
    int node = 0;
    uint64_t seq = 0;
    while (!stop_) {
      if (!c) {
        node = (node + 1) % cluster_.size();
        auto connected = client::BlockingClient::Connect(cluster_.ClientOptions(node));
        if (!connected.ok()) {
          std::this_thread::sleep_for(milliseconds(10));
          continue;
        }
        c = std::move(*connected);
      }
      std::vector<client::Reminder> batch;
      // Every fourth batch falls due at once, for the worker; the others a
      // day ahead, to stay live and be counted.
      const bool fire = firing_ && (seq / 10) % 4 == 0;
      const int64_t due_ms = std::chrono::duration_cast<milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count() +
                             (fire ? 0 : 86'400'000);
      for (int j = 0; j < 10; ++j) {
        client::Reminder r;
        r.tenant = 1;
        r.key = (fire ? "f" : "k") + std::to_string(seq + static_cast<uint64_t>(j));
        r.recipient = "+33600000000";
        r.due_ms = due_ms;
        r.payload = "p";
        batch.push_back(std::move(r));
      }
      auto result = c->Schedule(batch);
      bool all_ok = result.ok() && std::all_of(result->begin(), result->end(),
                                               [](const auto& one) { return one.ok(); });
      if (!all_ok) {
        c.reset();  // not the leader, gone, or fenced: try the next node
        continue;
      }
      int64_t at = NowMs();
      std::lock_guard lock(mu_);
      for (auto& r : batch) {
        if (!fire) keys_.push_back(std::move(r.key));
      }
      acks_.push_back({node, at});
      seq += batch.size();
    }
  }

  ShardCluster& cluster_;
  const bool firing_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> keys_;
  std::vector<Ack> acks_;  // one per acknowledged batch
  std::thread thread_;
};

// Takes messages from whichever node hands them out and acknowledges them;
// counts a message delivered again after its acknowledgement was answered
// (never allowed: an answered ack is durable on a standby).
class Worker {
 public:
  explicit Worker(ShardCluster& cluster) : cluster_(cluster), thread_([this] { Run(); }) {}
  ~Worker() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() const {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  std::vector<std::string> redelivered_after_ack() const {
    std::lock_guard lock(mu_);
    return again_;
  }

 private:
  void Run() {
    std::unique_ptr<client::BlockingClient> c;
    int node = 0;
    while (!stop_) {
      if (!c) {
        node = (node + 1) % cluster_.size();
        auto connected = client::BlockingClient::Connect(cluster_.ClientOptions(node));
        if (!connected.ok() ||
            !(*connected)->Subscribe({client::Channel::kSms}, 256, 64).ok()) {
          std::this_thread::sleep_for(milliseconds(10));
          continue;
        }
        c = std::move(*connected);
      }
      auto messages = c->Receive(milliseconds(100));
      if (!messages.ok()) {
        c.reset();
        continue;
      }
      if (messages->empty()) continue;
      std::vector<client::AckItem> items;
      {
        std::lock_guard lock(mu_);
        for (const client::Message& m : *messages) {
          if (acked_.count(m.message_id)) again_.push_back(m.message_id);
          items.push_back({m.lease_id, client::AckOutcome::kDelivered, ""});
        }
      }
      auto result = c->Ack(items);
      if (!result.ok()) {
        c.reset();
        continue;
      }
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < items.size() && i < result->size(); ++i) {
        if ((*result)[i].ok()) acked_.insert((*messages)[i].message_id);
      }
    }
  }

  ShardCluster& cluster_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::set<std::string> acked_;
  std::vector<std::string> again_;
  std::thread thread_;
};

// Every key of tenant 1 on node i (which must lead).
std::set<std::string> KeysOn(ShardCluster& cluster, int i) {
  std::set<std::string> keys;
  auto c = client::BlockingClient::Connect(cluster.ClientOptions(i));
  if (!c.ok()) {
    ADD_FAILURE() << "connect to " << cluster.node(i).name << ": " << c.status();
    return keys;
  }
  client::KeyListQuery q;
  q.tenant = 1;
  q.limit = 1000;
  for (;;) {
    auto page = (*c)->ListKeys(q);
    if (!page.ok()) {
      ADD_FAILURE() << "ListKeys on " << cluster.node(i).name << ": " << page.status();
      return keys;
    }
    keys.insert(page->keys.begin(), page->keys.end());
    if (page->next_cursor.empty()) return keys;
    q.after = page->next_cursor;
  }
}

// Waits for a leader that acknowledges writes; its index, or -1.
int WaitForServingLeader(ShardCluster& cluster, Producer& producer, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  size_t before = producer.acked();
  while (Clock::now() < deadline) {
    if (producer.acked() > before) return producer.last().node;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return -1;
}

size_t Missing(const std::vector<std::string>& acked, const std::set<std::string>& held) {
  return static_cast<size_t>(std::count_if(acked.begin(), acked.end(),
                                           [&](const std::string& k) { return !held.count(k); }));
}

int Rounds() {
  const char* env = std::getenv("RAPPEL_FAILOVER_ROUNDS");
  return env != nullptr ? std::max(1, std::atoi(env)) : RAPPEL_FAILOVER_DEFAULT_ROUNDS;
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.ok()) << cluster_.etcd().LogTail();
    for (int i = 0; i < cluster_.size(); ++i) cluster_.Start(i);
  }

  ShardCluster cluster_{3, {"--sync-standbys", "1"}};
};

TEST_F(FailoverTest, KilledLeaderIsReplacedAndNoAcknowledgedWriteIsLost) {
  Producer producer(cluster_, /*firing=*/true);
  Worker worker(cluster_);
  ASSERT_GE(WaitForServingLeader(cluster_, producer, milliseconds(20'000)), 0) << cluster_.Logs();
  std::vector<int64_t> failover_ms;
  const int rounds = Rounds();
  for (int round = 0; round < rounds; ++round) {
    // Some load on this leader first.
    size_t target = producer.acked() + 200;
    auto deadline = Clock::now() + milliseconds(20'000);
    while (producer.acked() < target && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    ASSERT_GE(producer.acked(), target) << "round " << round << "\n" << cluster_.Logs();
    int leader = producer.last().node;
    int64_t killed_at = NowMs();
    cluster_.Kill(leader);
    std::optional<Producer::Ack> first;
    while (!(first = producer.FirstAckAfter(killed_at, leader)) &&
           NowMs() - killed_at < 30'000) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_TRUE(first) << "round " << round << ": no new leader\n" << cluster_.Logs();
    failover_ms.push_back(first->at_ms - killed_at);
    // The old leader comes back and follows the new one.
    size_t from = cluster_.LogSize(leader);
    cluster_.Start(leader);
    ASSERT_TRUE(cluster_.WaitForLog(leader, "standby: streaming from", from, milliseconds(30'000)))
        << "round " << round << ": " << cluster_.node(leader).name << " did not rejoin\n"
        << cluster_.Logs();
  }
  producer.Stop();
  // The messages due by now are handed out and acknowledged in a while.
  std::this_thread::sleep_for(milliseconds(1'000));
  worker.Stop();
  EXPECT_GT(worker.acked(), 0u);
  std::vector<std::string> again = worker.redelivered_after_ack();
  EXPECT_TRUE(again.empty()) << again.size() << " acknowledged messages delivered again, e.g. "
                             << again.front();
  int leader = cluster_.EtcdLeader().first;
  ASSERT_GE(leader, 0);
  std::vector<std::string> acked = producer.keys();
  EXPECT_EQ(Missing(acked, KeysOn(cluster_, leader)), 0u)
      << "of " << acked.size() << " acknowledged keys\n" << cluster_.Logs();

  std::vector<int64_t> sorted = failover_ms;
  std::sort(sorted.begin(), sorted.end());
  int64_t median = sorted[sorted.size() / 2];
  std::string all;
  for (int64_t ms : failover_ms) all += std::to_string(ms) + " ";
  std::printf("failover over %d rounds, kill to first acknowledged write (ms): median %lld, "
              "max %lld: %s\n",
              rounds, static_cast<long long>(median), static_cast<long long>(sorted.back()),
              all.c_str());
  if (const char* report = std::getenv("RAPPEL_FAILOVER_REPORT")) {
    std::ofstream out(report, std::ios::app);
    for (int64_t ms : failover_ms) out << ms << "\n";
  }
  // Each round waits for the 2 s lease to expire; far above this is a bug.
  EXPECT_LT(sorted.back(), 10'000);
}

// The durable positions the nodes publish in etcd (nodes/<name>), by name.
std::map<std::string, uint64_t> PublishedIndexes(ShardCluster& cluster) {
  std::map<std::string, uint64_t> out;
  server::coord::EtcdOptions eo;
  eo.endpoints = {cluster.etcd().endpoint()};
  server::coord::EtcdClient etcd(eo);
  auto range = etcd.Range(std::string("/rappel/") + ShardCluster::kShard + "/nodes/", true);
  if (!range.ok()) return out;
  for (const auto& kv : range->kvs) {
    auto j = nlohmann::json::parse(kv.value, nullptr, false);
    if (j.is_object()) out[j.value("node", "")] = j.value("pos_index", uint64_t{0});
  }
  return out;
}

// Waits until every node publishes the same position as the leader.
bool Converged(ShardCluster& cluster, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto indexes = PublishedIndexes(cluster);
    if (indexes.size() == static_cast<size_t>(cluster.size())) {
      uint64_t first = indexes.begin()->second;
      if (first > 0 && std::all_of(indexes.begin(), indexes.end(),
                                   [&](const auto& kv) { return kv.second == first; })) {
        return true;
      }
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

TEST_F(FailoverTest, LeaderPausedPastItsLeaseIsFencedAndRejoins) {
  Producer producer(cluster_);
  int old = WaitForServingLeader(cluster_, producer, milliseconds(20'000));
  ASSERT_GE(old, 0) << cluster_.Logs();
  auto [etcd_leader, old_term] = cluster_.EtcdLeader();
  ASSERT_EQ(etcd_leader, old);
  size_t from = cluster_.LogSize(old);
  int64_t paused_at = NowMs();
  cluster_.Pause(old);
  // Another node takes over while it sleeps: twice the TTL.
  std::optional<Producer::Ack> first;
  while (!(first = producer.FirstAckAfter(paused_at, old)) && NowMs() - paused_at < 20'000) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(first) << cluster_.Logs();
  auto [new_leader, new_term] = cluster_.EtcdLeader();
  EXPECT_NE(new_leader, old);
  EXPECT_GT(new_term, old_term);
  std::this_thread::sleep_for(milliseconds(std::max<int64_t>(0, 4'000 - (NowMs() - paused_at))));
  int64_t resumed_at = NowMs();
  cluster_.Resume(old);
  // It finds itself fenced, acknowledges nothing more, restarts as a standby
  // and follows the new leader.
  EXPECT_TRUE(cluster_.WaitForLog(old, "is fenced", from, milliseconds(10'000))) << cluster_.Logs();
  EXPECT_TRUE(cluster_.WaitForLog(old, "standby: streaming from", from, milliseconds(20'000)))
      << cluster_.Logs();
  std::this_thread::sleep_for(milliseconds(500));
  producer.Stop();
  // A request it had taken before the pause must not be answered after it:
  // the new leader had the term by then.
  EXPECT_EQ(producer.AcksBy(old, resumed_at), 0u);
  std::vector<std::string> acked = producer.keys();
  EXPECT_EQ(Missing(acked, KeysOn(cluster_, new_leader)), 0u) << cluster_.Logs();
  EXPECT_TRUE(Converged(cluster_, milliseconds(20'000))) << cluster_.Logs();
}

TEST_F(FailoverTest, StandbyKilledUnderLoadCatchesUpAndConverges) {
  Producer producer(cluster_);
  int leader = WaitForServingLeader(cluster_, producer, milliseconds(20'000));
  ASSERT_GE(leader, 0) << cluster_.Logs();
  int standby = (leader + 1) % cluster_.size();
  size_t target = producer.acked() + 300;
  while (producer.acked() < target) std::this_thread::sleep_for(milliseconds(10));
  cluster_.Kill(standby);
  // The other standby holds the writes meanwhile (one synchronous standby).
  target = producer.acked() + 500;
  auto deadline = Clock::now() + milliseconds(20'000);
  while (producer.acked() < target && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_GE(producer.acked(), target) << cluster_.Logs();
  size_t from = cluster_.LogSize(standby);
  cluster_.Start(standby);
  ASSERT_TRUE(cluster_.WaitForLog(standby, "standby: streaming from", from, milliseconds(20'000)))
      << cluster_.Logs();
  std::this_thread::sleep_for(milliseconds(500));
  producer.Stop();
  EXPECT_TRUE(Converged(cluster_, milliseconds(20'000))) << cluster_.Logs();
  EXPECT_EQ(cluster_.EtcdLeader().first, leader);
  EXPECT_EQ(Missing(producer.keys(), KeysOn(cluster_, leader)), 0u);

#ifdef RAPPELCTL_PATH
  // rappelctl shard shows the same from etcd: the leader, three nodes, no lag.
  std::string command = std::string(RAPPELCTL_PATH) + " --json shard --etcd-endpoints " +
                        cluster_.etcd().endpoint() + " --shard " + ShardCluster::kShard;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
  EXPECT_EQ(pclose(pipe), 0) << text;
  auto shard = nlohmann::json::parse(text, nullptr, false);
  ASSERT_TRUE(shard.is_object()) << text;
  EXPECT_EQ(shard.value("leader", ""), cluster_.node(leader).name) << text;
  ASSERT_EQ(shard["nodes"].size(), 3u) << text;
  for (const auto& n : shard["nodes"]) {
    EXPECT_EQ(n["lag"], 0) << text;
    EXPECT_EQ(n["role"] == "leader", n["node"] == cluster_.node(leader).name) << text;
  }
#endif
}

TEST_F(FailoverTest, EtcdDownStopsWritesAndServiceResumesWhenItReturns) {
  Producer producer(cluster_);
  int leader = WaitForServingLeader(cluster_, producer, milliseconds(20'000));
  ASSERT_GE(leader, 0) << cluster_.Logs();
  size_t from = cluster_.LogSize(leader);
  cluster_.etcd().Stop();
  int64_t stopped_at = NowMs();
  // The leader cannot renew its lease: it stops taking writes within the TTL.
  ASSERT_TRUE(cluster_.WaitForLog(leader, "is fenced", from, milliseconds(5'000)))
      << cluster_.Logs();
  int64_t fenced_at = NowMs();
  EXPECT_LE(fenced_at - stopped_at, 2'000 + 500);
  std::this_thread::sleep_for(milliseconds(1'000));
  size_t during = producer.acked();
  std::this_thread::sleep_for(milliseconds(1'000));
  EXPECT_EQ(producer.acked(), during) << "writes acknowledged with etcd down";
  ASSERT_TRUE(cluster_.etcd().Start()) << cluster_.etcd().LogTail();
  EXPECT_GE(WaitForServingLeader(cluster_, producer, milliseconds(30'000)), 0) << cluster_.Logs();
  producer.Stop();
  int now_leader = cluster_.EtcdLeader().first;
  ASSERT_GE(now_leader, 0);
  EXPECT_EQ(Missing(producer.keys(), KeysOn(cluster_, now_leader)), 0u) << cluster_.Logs();
}

}  // namespace
}  // namespace rappel::testing
