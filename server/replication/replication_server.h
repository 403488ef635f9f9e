// ReplicationServer: the primary's replication listener (its own port, not
// the client port). Accepts standbys, one PrimaryLink each, and wakes them
// when the PrimaryHook has appended groups to the backlog. With a
// synchronous hook (sync_standbys N > 0), each PositionAck recomputes the
// position N distinct standbys hold (QuorumPosition) and releases the
// hook's held answers up to it.
//
// Thread: the io thread; the hook's wake comes from the store's writer
// thread and only posts to the io thread.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "server/net/credentials.h"
#include "server/replication/primary_hook.h"
#include "server/replication/primary_link.h"

namespace rappel::server {

struct ReplicationServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  size_t max_standbys = 8;
  std::vector<Credential> tokens;  // only those with role Replica are accepted
  // The primary's client address (HOST:PORT) told to each standby
  // (ReplicaStartReply.client).
  std::string client_address;
  // Snapshot catch-up of standbys that cannot stream (new, too far behind,
  // diverged, ahead). Not owned; outlives the server. Null: refused.
  SnapshotSource* snapshots = nullptr;
};

// What the primary knows of one connected standby.
struct StandbyStatus {
  std::string node;
  ReplPos acked;  // its durable position, from its last PositionAck
};

// The highest position at least `n` distinct standbys (by node name: a
// standby reconnecting before its old connection is noticed counts once,
// with its best position) have acknowledged; nullopt when fewer than `n`
// standbys are given. `n` > 0.
std::optional<ReplPos> QuorumPosition(const std::vector<StandbyStatus>& standbys, size_t n);

class ReplicationServer {
 public:
  // `hook` must outlive the server and have been Opened (the store is open).
  ReplicationServer(asio::io_context& io, ReplicationServerOptions options, PrimaryHook* hook);
  ~ReplicationServer();
  // Binds and accepts. Unavailable with the reason when it cannot bind.
  absl::Status Start();
  void Stop();
  uint16_t port() const { return port_; }
  std::vector<StandbyStatus> standbys() const;

 private:
  struct Shared {
    std::atomic<bool> wake_posted{false};
    bool alive = true;  // io thread
  };
  void Accept();
  void Wake();
  void OnAck();

  asio::io_context& io_;
  ReplicationServerOptions options_;
  PrimaryHook* hook_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::unordered_map<PrimaryLink*, std::shared_ptr<PrimaryLink>> links_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  bool stopped_ = false;
};

}  // namespace rappel::server
