// PrimaryLink: the primary's side of one standby connection on the
// replication port.
//
//   standby                         primary
//   Hello{token}            ->      (the token must have role Replica)
//                           <-      HelloReply | Error + close
//   ReplicaStart{node, t, i} ->
//                           <-      ReplicaStartReply{Ok, from i + 1} when this
//                                     primary's history has index i in term t
//                                     (term_history.h) and the backlog i + 1
//                                   | ReplicaStartReply{Ok, snapshot}, then
//                                     SnapshotBegin{t', i', bytes},
//                                     SnapshotChunk..., SnapshotEnd{xxh64}
//                                     (snapshot_source.h), from then on i := i'
//                                   | ReplicaStartReply{error} + close without
//                                     a SnapshotSource
//                           <-      CommitGroup ... (in index order, from the Backlog)
//   PositionAck{t, i}       ->      (recorded: acked(); the server then
//                                     releases answers held for sync standbys)
//
// Any other frame, a malformed one or a stall before the start is a logged
// error that closes this connection only.
//
// A snapshot is sent one chunk at a time, the next read from its file once
// the previous is written to the socket: nothing of it is buffered here.
//
// Thread: the io thread (the snapshot's file is read there, 1 MiB at a time).
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/net/credentials.h"
#include "server/replication/frame_io.h"
#include "server/replication/primary_hook.h"
#include "server/replication/snapshot_source.h"

struct XXH64_state_s;

namespace rappel::server {

class PrimaryLink : public std::enable_shared_from_this<PrimaryLink> {
 public:
  // `tokens`, `hook` and `snapshots` outlive the link (the server owns
  // them); `closed` is called once when the connection ends; `acked` (may
  // be empty) each time acked() may have moved: when the stream starts (the
  // standby's own position) and after each PositionAck. Without
  // `snapshots` a standby that cannot stream is refused.
  PrimaryLink(asio::ip::tcp::socket socket, const std::vector<Credential>* tokens,
              PrimaryHook* hook, std::function<void(PrimaryLink*)> closed,
              std::function<void()> acked = {}, SnapshotSource* snapshots = nullptr);
  ~PrimaryLink();

  // The primary's client address (HOST:PORT) sent in ReplicaStartReply.client
  // (the standby names it to the clients it refuses). Before Start.
  void set_client_address(std::string address) { client_address_ = std::move(address); }
  void Start();
  // New groups may be in the backlog: send them.
  void Pump();
  void Close(const absl::Status& why);

  const std::string& node() const { return node_; }
  ReplPos acked() const { return acked_; }
  bool streaming() const { return streaming_; }
  bool catching_up() const { return snapshot_ != nullptr; }

 private:
  void OnHello(const protocol::wire::Frame* frame);
  void OnStart(const protocol::wire::Frame* frame);
  void SendSnapshot(std::shared_ptr<const Snapshot> snapshot);
  void SendChunk();
  void EndSnapshot();
  void BeginStream(ReplPos standby);  // it holds `standby`: stream from its index + 1
  void ReadAcks();
  void SendError(const absl::Status& status);

  std::shared_ptr<FrameIo> io_;
  asio::steady_timer start_timer_;
  const std::vector<Credential>* tokens_;
  PrimaryHook* hook_;
  SnapshotSource* snapshots_;
  std::shared_ptr<const Snapshot> snapshot_;  // being sent
  int snapshot_fd_ = -1;
  uint64_t snapshot_sent_ = 0;
  XXH64_state_s* snapshot_hash_ = nullptr;
  std::chrono::steady_clock::time_point snapshot_started_;
  std::function<void(PrimaryLink*)> closed_fn_;
  std::function<void()> acked_fn_;
  std::string peer_;
  std::string node_;
  std::string client_address_;
  bool streaming_ = false;
  bool closed_ = false;
  bool sending_ = false;  // a write of backlog entries is in flight
  uint64_t next_ = 0;        // the next index to send
  uint64_t queued_end_ = 0;  // one past the last index handed to the socket
  ReplPos acked_;
};

}  // namespace rappel::server
