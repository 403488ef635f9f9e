// ReplicaApplier: the standby's side of replication. Connects to the
// primary's replication port, says where its store is (meta repl_pos),
// and applies the CommitGroup frames that follow, each through
// Store::SubmitGroup (one standby transaction per group at most), in
// index order; after each durable commit it sends a PositionAck (one for
// every completion that finds no ack being written: coalesced).
//
// Catch-up: when the primary answers ReplicaStart with `snapshot` (this
// standby's position is not in its history: new, too far behind, diverged
// or ahead), the snapshot that follows is written next to the store
// ("<store>.catchup", snapshot_receiver.h), checked, and swapped in
// (StandbyStore::Replace); then the stream goes on from its index + 1. A
// catch-up cut short leaves the store as it was; the next one (or Start)
// removes the partial copy.
//
// Strict: a frame that does not verify, a group whose bytes do not decode
// (batch_codec.h), an index that is not the last one + 1, or a term lower
// than the last one closes the connection with a logged error; so does a
// failed commit. It reconnects with backoff (100 ms doubling to 5 s; reset
// once a stream starts), but only once every group it submitted has
// completed, so its position is exact when it asks again.
//
// Thread: the io thread (the store's Poster must post there).
#pragma once

#include <asio.hpp>
#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/replication/frame_io.h"
#include "server/replication/snapshot_receiver.h"
#include "server/replication/standby_store.h"
#include "server/store/store.h"

namespace rappel::server {

struct ReplicaApplierOptions {
  std::string primary_host;  // the primary's replication listener
  uint16_t primary_port = 0;
  std::string token;         // a token with role replica on the primary
  std::string node;          // this standby's name, for the primary's logs
  int64_t initial_backoff_ms = 100;
  int64_t max_backoff_ms = 5'000;
  // From the connect to the first ReplicaStartReply.
  int64_t handshake_timeout_ms = 5'000;
  // Submitted but not yet durable: past this the applier stops reading.
  size_t max_in_flight_bytes = 64u << 20;
  // Largest CommitGroup accepted (a primary group is one frame).
  uint32_t max_frame_bytes = 1u << 30;
  // Called (io thread) each time a stream starts, with the primary's client
  // address from its ReplicaStartReply (empty if it sent none).
  std::function<void(const std::string&)> on_primary_client;
};

struct ReplicaStatus {
  bool streaming = false;
  ReplPos durable;          // the store's position
  ReplPos received;         // the last group received (maybe not yet durable)
  int64_t primary_commit_ms = 0;  // the primary's commit time of `durable`
  uint64_t connects = 0;    // streams started
  uint64_t snapshots = 0;   // snapshot catch-ups installed
  bool catching_up = false;  // a snapshot is being received
  std::string last_error;   // why the last connection ended or was refused
};

class ReplicaApplier {
 public:
  // `store` outlives the applier; its Store was opened without a hook.
  ReplicaApplier(asio::io_context& io, ReplicaApplierOptions options, StandbyStore* store);
  ~ReplicaApplier();

  // Removes a catch-up cut short, reads the store's position and connects.
  // Errors: the store's.
  absl::Status Start();
  // Closes the connection and stops reconnecting. Submitted groups still
  // complete (the store commits its queue).
  void Stop();

  // Follows another primary (a new shard leader): drops the stream and
  // reconnects there once every submitted group has completed.
  void Retarget(std::string host, uint16_t port);
  // Refuses a primary whose term is below `term` (the shard's current term
  // in etcd: a lower one is a deposed leader).
  void SetMinTerm(uint64_t term) { min_term_ = std::max(min_term_, term); }

  const ReplicaStatus& status() const { return status_; }

 private:
  void Connect();
  void OnConnected();
  void OnHelloReply(const protocol::wire::Frame* frame);
  void OnStartReply(const protocol::wire::Frame* frame);
  void ReadSnapshot();
  absl::Status OnSnapshotFrame(const protocol::wire::Frame* frame, bool* done);
  absl::Status InstallSnapshot(uint64_t xxh64);
  void StartStreaming(uint64_t from_index, uint64_t term);
  void ReadGroups();
  absl::Status Apply(const protocol::wire::CommitGroup& frame);
  void OnDurable(uint64_t conn, ReplPos pos, int64_t commit_ms, size_t bytes, absl::Status st);
  void SendAck();
  void Drop(const absl::Status& why);
  void MaybeReconnect();

  asio::io_context& io_;
  ReplicaApplierOptions options_;
  StandbyStore* store_;
  std::unique_ptr<SnapshotReceiver> receiver_;  // during a catch-up
  std::chrono::steady_clock::time_point catchup_started_;
  asio::steady_timer timer_;
  std::shared_ptr<FrameIo> conn_io_;
  uint64_t conn_ = 0;             // connection generation
  bool connected_ = false;        // a stream is running on conn_io_
  bool stopped_ = false;
  bool reconnect_pending_ = false;
  bool reading_paused_ = false;
  bool acking_ = false;
  bool ack_again_ = false;
  uint64_t min_term_ = 0;
  uint64_t epoch_ = 1;            // the store's failure epoch (a failed commit moves it)
  size_t in_flight_groups_ = 0;
  size_t in_flight_bytes_ = 0;
  int64_t backoff_ms_;
  ReplicaStatus status_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rappel::server
