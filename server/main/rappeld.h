// Rappeld: the whole server assembled on one io_context: the core and its
// timer loop (server/runtime/loop.h: engine, store writer thread, appointment
// book, dispatcher), the request handler and the listener. main() wraps it
// with options and signals; tests run it in-process on 127.0.0.1:0.
//
// Thread: everything but the store's writer runs on the io_context's thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "server/common/log.h"
#include "server/net/request_handler.h"
#include "server/metrics/exporter.h"
#include "server/metrics/metrics_options.h"
#include "server/net/server.h"
#include "server/net/standby_handler.h"
#include "server/replication/primary_hook.h"
#include "server/replication/replica_applier.h"
#include "server/replication/replication_server.h"
#include "server/replication/snapshot_source.h"
#include "server/replication/standby_store.h"
#include "server/main/shard_node.h"
#include "server/runtime/loop.h"

namespace rappel::server {

// Log shipping ([replication]): a primary listens for standbys on its
// replication port; a standby (replica_of set) follows a primary, and on
// its client port answers Hello, Ping and Stats and refuses the rest with
// Unavailable naming the primary's client address (StandbyHandler).
struct ReplicationOptions {
  std::string listen = "127.0.0.1";
  int32_t port = -1;  // -1: no replication listener; 0: any free port
  // "HOST:PORT" of a primary's replication listener: run as its standby.
  std::string replica_of;
  // The file holding the token (role replica on the primary) a standby sends.
  std::string token_file;
  // The standby's name in the primary's logs (default: the host name).
  std::string node;
  uint64_t backlog_bytes = uint64_t{256} << 20;
  // The client address (HOST:PORT) this node gives as the leader's, to its
  // standbys and through them to clients; empty: [server] listen and the
  // client port (wrong when listening on 0.0.0.0: set it then).
  std::string advertise_client;
  // A primary answers a write once this many standbys hold it durable
  // (0: asynchronous, answered after the local commit only).
  uint32_t sync_standbys = 0;

  bool standby() const { return !replica_of.empty(); }
};

// A replicated shard ([shard]): the nodes elect their leader through etcd
// (server/main/shard_node.h); the leader serves as a primary, the others
// follow it as standbys. The node's name is [replication] node.
struct ShardOptions {
  std::string name;  // empty: a single node, no etcd
  std::vector<std::string> etcd_endpoints;
  std::string etcd_prefix = "/rappel";
  int64_t lease_ttl_s = 5;

  bool enabled() const { return !name.empty(); }
};

struct RappeldOptions {
  EngineOptions engine;
  DispatchOptions dispatch;
  HandlerOptions handler;
  ServerOptions server;
  plan::BookOptions book;  // its horizon is the engine's
  // Listening beyond loopback without TLS was asked for explicitly
  // ([server] plaintext = 1); checked by CheckOptions, not by Rappeld.
  bool plaintext = false;
  // rappeld's log lines (main() calls ConfigureLog with it).
  LogOptions log;
  // How often ended appointments past their audit retention are reclaimed.
  int64_t reclaim_every_ms = 3'600'000;
  // The Prometheus / health listener; off unless a port is set.
  metrics::MetricsOptions metrics;
  ReplicationOptions replication;
  ShardOptions shard;
};

class Rappeld {
 public:
  // Opens the store (recovering it), then listens. A standby
  // (options.replication.replica_of) opens only its store and follows the
  // primary: no core and no metrics listener; its client listener (same
  // options: TLS, tokens, limits) serves a StandbyHandler. Must be called
  // on the io_context's thread (or before it runs).
  static absl::StatusOr<std::unique_ptr<Rappeld>> Start(asio::io_context& io,
                                                        RappeldOptions options);
  ~Rappeld();

  // The client port.
  uint16_t port() const { return server_ ? server_->port() : 0; }
  // The client address this node advertises as the leader's (HOST:PORT).
  const std::string& client_address() const { return client_address_; }
  // Null unless this is a standby: its client port's handler, whose
  // SetLeader (io thread) names the leader to clients. In --replica-of
  // mode the applier sets it from each ReplicaStartReply.client.
  StandbyHandler* standby_handler() { return standby_handler_.get(); }
  bool standby() const { return standby_store_ != nullptr; }
  // The replication listener's port; 0 when there is none.
  uint16_t replication_port() const { return replication_ ? replication_->port() : 0; }
  // Null unless this is a primary with a replication listener.
  const ReplicationServer* replication() const { return replication_.get(); }
  // The position of the last local commit (primary with a listener).
  ReplPos replication_position() const { return hook_ ? hook_->last() : ReplPos{}; }
  // Writes waiting for synchronous standbys (any thread; zero without a hook).
  AnswerQueueStats replication_answers() const {
    return hook_ ? hook_->answer_stats() : AnswerQueueStats{};
  }
  // Null unless this is a standby following a primary.
  const ReplicaApplier* applier() const { return applier_.get(); }
  // Null unless this node is in a shard ([shard] name).
  const ShardNode* shard() const { return shard_.get(); }
  // This shard node was fenced: it must restart (main() re-executes the
  // process, which then rejoins as a standby). io.run() has been stopped.
  bool restart_requested() const { return restart_requested_; }
  // The metrics listener's port; 0 when metrics are off.
  uint16_t metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  // SIGHUP: applies what can change while serving from `next`, a resolved
  // and checked configuration: the TLS files (read again, for the
  // connections to come) and the tokens (for the next Hello; a connection
  // whose token was removed or now grants another role or other tenants is
  // closed with Unauthenticated, the others stay open). All or nothing: a
  // TLS file that does not load, or TLS turned on or off (a restart), is
  // an error and nothing changes. On the io thread.
  absl::Status Reload(const RappeldOptions& next);

  const Server& server() const { return *server_; }
  // Stops accepting, closes connections, waits until every commit in flight
  // has completed, then calls `done` (on the io thread).
  void Shutdown(std::function<void()> done);

  Engine& engine() { return loop_->core().engine(); }
  Dispatcher& dispatcher() { return loop_->core().dispatcher(); }
  plan::AppointmentBook& book() { return *loop_->core().book(); }

 private:
  Rappeld() = default;
  // A primary of `term` (0: the store's own term, outside a shard).
  absl::Status StartPrimary(RappeldOptions options, uint64_t term);
  absl::Status StartStandby(asio::io_context& io, const RappeldOptions& options);
  // The store of a standby, and the token it sends its primary.
  absl::Status OpenStandbyStore(const RappeldOptions& options);
  // A standby's client port (StandbyHandler): refusals name the leader.
  absl::Status StartStandbyListener(const RappeldOptions& options);
  absl::Status StartShard(const RappeldOptions& options);
  // ShardNode's roles (io thread).
  void Follow(const coord::LeaderInfo& leader);
  void Promote(uint64_t term);
  void Fence(const std::string& why);
  ReplPos Position() const;

  asio::io_context* io_ = nullptr;
  RappeldOptions options_;  // kept for a shard node's promotion
  std::string replica_token_;
  // Declared before the loop, whose store holds it.
  std::unique_ptr<PrimaryHook> hook_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<RequestHandler> handler_;
  std::unique_ptr<StandbyHandler> standby_handler_;  // a standby's, instead of handler_
  std::unique_ptr<Server> server_;
  std::string client_address_;
  std::unique_ptr<metrics::MetricsExporter> metrics_;  // reads the three above
  std::unique_ptr<SnapshotSource> snapshots_;          // reads the loop's store
  std::unique_ptr<ReplicationServer> replication_;     // reads hook_ and snapshots_
  // A standby: its store and what feeds it.
  std::unique_ptr<StandbyStore> standby_store_;
  std::unique_ptr<ReplicaApplier> applier_;
  ReplPos standby_opened_at_;  // the standby store's position when opened
  // Last: its callbacks use everything above.
  std::unique_ptr<ShardNode> shard_;
  bool restart_requested_ = false;
};

}  // namespace rappel::server
