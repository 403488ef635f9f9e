// PrimaryLink: the primary's side of one standby connection on the
// replication port.
//
//   standby                         primary
//   Hello{token}            ->      (the token must have role Replica)
//                           <-      HelloReply | Error + close
//   ReplicaStart{node, t, i} ->
//                           <-      ReplicaStartReply{Ok, from i + 1}
//                                   | ReplicaStartReply{error} + close when
//                                     the backlog no longer holds i + 1 or
//                                     the standby is ahead of the primary
//                           <-      CommitGroup ... (in index order, from the Backlog)
//   PositionAck{t, i}       ->      (recorded: acked(); the server then
//                                     releases answers held for sync standbys)
//
// Any other frame, a malformed one or a stall before the start is a logged
// error that closes this connection only.
//
// Thread: the io thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/net/credentials.h"
#include "server/replication/frame_io.h"
#include "server/replication/primary_hook.h"

namespace rappel::server {

class PrimaryLink : public std::enable_shared_from_this<PrimaryLink> {
 public:
  // `tokens` and `hook` outlive the link (the server owns both); `closed`
  // is called once when the connection ends; `acked` (may be empty) each
  // time acked() may have moved: when the stream starts (the standby's
  // own position) and after each PositionAck.
  PrimaryLink(asio::ip::tcp::socket socket, const std::vector<Credential>* tokens,
              PrimaryHook* hook, std::function<void(PrimaryLink*)> closed,
              std::function<void()> acked = {});

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

 private:
  void OnHello(const protocol::wire::Frame* frame);
  void OnStart(const protocol::wire::Frame* frame);
  void ReadAcks();
  void SendError(const absl::Status& status);

  std::shared_ptr<FrameIo> io_;
  asio::steady_timer start_timer_;
  const std::vector<Credential>* tokens_;
  PrimaryHook* hook_;
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
