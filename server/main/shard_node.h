// ShardNode: this rappeld's seat in a replicated shard ([shard]). It runs
// the etcd election (server/coord/election.h) and turns its news into calls
// on the io thread, which Rappeld answers by changing the node's role:
//   - follow(leader): another node leads (or nobody: leader.node empty);
//     follow it as a standby;
//   - promote(term): this node won `term`; become the primary of that term;
//   - fence(why): this node led and no longer may (deposed, or its lease
//     could not be renewed in time); stop writing and dispatching at once.
//
// The lease guard is checked every 20 ms while leading (and by the primary's
// answer gate before every acknowledgement): a leader cut off from etcd or
// paused past its TTL is fenced before etcd can let its lease expire, by
// the margin LeaseGuard keeps (server/coord/lease_guard.h).
//
// Thread: construct, Start, Stop and the callbacks on the io thread;
// guard() and leading() from any thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "server/coord/election.h"
#include "server/coord/etcd_client.h"
#include "server/store/commit_hook.h"

namespace rappel::server {

struct ShardNodeOptions {
  std::string shard;
  std::string node;
  std::vector<std::string> etcd_endpoints;
  std::string etcd_prefix = "/rappel";
  int64_t lease_ttl_s = 5;
  std::string client;       // HOST:PORT clients reach this node at
  std::string replication;  // HOST:PORT standbys reach this node at
};

struct ShardRoles {
  std::function<void(const coord::LeaderInfo&)> follow;
  std::function<void(uint64_t term)> promote;
  std::function<void(const std::string& why)> fence;
  // This node's durable position (called on the io thread every 20 ms; the
  // election publishes it so that the most advanced standby wins).
  std::function<ReplPos()> position;
};

class ShardNode {
 public:
  ShardNode(asio::io_context& io, ShardNodeOptions options, ShardRoles roles);
  ShardNode(const ShardNode&) = delete;
  ShardNode& operator=(const ShardNode&) = delete;
  // Abandon(): a node that is destroyed without Stop() leaves its lease to
  // expire, as a crash would.
  ~ShardNode();

  void Start();
  // Resigns: deletes this node's lease (and so `leader` when it leads); the
  // next leader is elected without waiting for the TTL.
  void Stop();

  const coord::LeaseGuard& guard() const { return election_->guard(); }
  // Whether this node was elected and not yet fenced.
  bool leading() const { return leading_; }
  uint64_t term() const { return election_->term(); }
  coord::LeaderInfo leader() const { return election_->leader(); }
  const ShardNodeOptions& options() const { return options_; }

 private:
  void Tick();
  void Fence(const std::string& why);

  asio::io_context& io_;
  const ShardNodeOptions options_;
  const ShardRoles roles_;
  coord::EtcdClient etcd_;
  std::unique_ptr<coord::Election> election_;
  asio::steady_timer tick_;
  bool leading_ = false;  // io thread
  bool fenced_ = false;   // io thread: once fenced, the process restarts
  std::mutex mu_;
  ReplPos position_;  // guarded by mu_: read by the election thread
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rappel::server
