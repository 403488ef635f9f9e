// Election: this node's part in choosing the shard's leader through etcd.
//
// Keys, under `<prefix>/<shard>/`:
//   leader        {"node","term","client","replication"}, on the leader's lease
//   term          decimal text: the highest term ever started (no lease)
//   nodes/<node>  {"node","role","term","pos_term","pos_index","client",
//                  "replication"}, on each node's lease
//
// What it guarantees:
//   - At most one node holds `leader` at a time, and each win writes a term
//     one above every earlier one, in the same etcd transaction
//     (compare: `leader` absent and `term` unchanged since read).
//   - The leader's LeaseGuard turns invalid before etcd can let its lease
//     expire (lease_guard.h). The owner checks guard().Valid() before it
//     answers a write or hands out a message: a leader cut off from etcd, or
//     paused past its TTL, stops by itself, and learns it was deposed when
//     etcd answers again.
//   - When `leader` is missing, a node campaigns only after `settle_ms` and
//     only if no live node publishes a more advanced position (term, then
//     index; a tie goes to the lower name): the most advanced standby wins.
//
// Threads: one thread of its own (Start .. Stop/Abandon) makes every etcd
// call. The callbacks run on it and must return quickly (post the work to
// another thread): a promotion that blocked here would stop the renewals.
// is_leader(), term(), leader() and guard() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/coord/etcd_client.h"
#include "server/coord/lease_guard.h"

namespace rappel::server::coord {

// A durable replication position: the term of its last group, then its index.
struct ShardPosition {
  uint64_t term = 0;
  uint64_t index = 0;
  friend auto operator<=>(const ShardPosition&, const ShardPosition&) = default;
};

struct ElectionOptions {
  std::string prefix = "/rappel";
  std::string shard;
  std::string node;         // this node's name, unique in the shard
  std::string client;       // host:port clients use to reach this node
  std::string replication;  // host:port standbys use to reach this node
  int64_t ttl_s = 5;        // of the node's lease; etcd raises it to its floor (2 s)
  int64_t margin_ms = 0;    // LeaseGuard margin; 0: LeaseGuard::DefaultMarginMs
  int64_t poll_ms = 100;    // how often `leader` is read
  int64_t settle_ms = 100;  // wait before a campaign, for positions to be published
};

// Who leads, as read from `leader`. An empty `node`: nobody.
struct LeaderInfo {
  std::string node;
  std::string client;
  std::string replication;
  uint64_t term = 0;
  int64_t create_revision = 0;
  friend bool operator==(const LeaderInfo&, const LeaderInfo&) = default;
};

struct ElectionCallbacks {
  // This node's durable position (called from the election thread).
  std::function<ShardPosition()> position;
  // This node won `term`: it is the leader from now on, while guard() holds.
  std::function<void(uint64_t term)> elected;
  // This node is no longer the leader (lease gone, `leader` taken or deleted).
  std::function<void(const std::string& why)> deposed;
  // Another node leads, or nobody (node empty). Also when `leader` names this
  // node from an earlier life (a restart after a crash): it expires by itself.
  std::function<void(const LeaderInfo&)> leader_changed;
};

class Election {
 public:
  Election(EtcdClient* etcd, ElectionOptions options, ElectionCallbacks callbacks);
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;
  // Stop().
  ~Election();

  void Start();
  // Ends the thread; a leader first deletes its lease (and so `leader`): the
  // next node is elected without waiting for the TTL.
  void Stop();
  // Ends the thread without a word to etcd, as a crash would (tests).
  void Abandon();

  bool is_leader() const { return leader_.load(std::memory_order_acquire); }
  uint64_t term() const { return term_.load(std::memory_order_acquire); }
  LeaderInfo leader() const;
  const LeaseGuard& guard() const { return guard_; }

  // Key names (exposed for tests and rappelctl).
  std::string LeaderKey() const { return base_ + "leader"; }
  std::string TermKey() const { return base_ + "term"; }
  std::string NodesPrefix() const { return base_ + "nodes/"; }

 private:
  void Run(std::stop_token stop);
  // Grants a lease when there is none, renews it when due. False when there
  // is no lease known to be live after the call.
  bool KeepLease();
  // Writes nodes/<me> when its value changed (at most 4 times a second
  // unless `force`).
  void Publish(bool force);
  void FollowLeaderKey();
  void Campaign();
  // Whether a live node other than this one has a better claim.
  bool SomeoneIsAhead(ShardPosition mine);
  void Won(uint64_t term, int64_t revision);
  void Depose(const std::string& why);
  void SetLeader(LeaderInfo info);
  // False when Stop() came first.
  bool SleepMs(int64_t ms);

  EtcdClient* const etcd_;
  const ElectionOptions options_;
  const ElectionCallbacks callbacks_;
  const std::string base_;

  LeaseGuard guard_;
  std::atomic<bool> leader_{false};
  std::atomic<uint64_t> term_{0};

  mutable std::mutex mu_;
  LeaderInfo leader_info_;  // guarded by mu_

  // Election thread only.
  std::stop_token stop_;
  int64_t lease_id_ = 0;
  int64_t lease_ttl_ms_;
  int64_t next_renewal_ms_ = 0;
  int64_t next_publish_ms_ = 0;
  std::string published_;
  int64_t my_leader_revision_ = 0;

  std::jthread thread_;
};

}  // namespace rappel::server::coord
