// StandbyHandler: the client port of a standby (a node of a replicated
// shard that is not its leader). It has no engine: it says Hello like a
// primary (same tokens, roles, limits; HelloReply.shard_role Standby and
// the leader's client address), answers what makes sense without the
// engine, and refuses everything else so that clients go to the leader:
//
//   Hello        HelloReply{shard_role Standby, leader}
//   Ping         Pong (every role)
//   Stats        StatsReply (admin): every engine counter 0, `replication`
//                filled from the view (role, leader, durable position,
//                stream state)
//   anything     an Error frame Unavailable, "not the leader; the leader is
//   else         at HOST:PORT" (or "not the leader; no leader known yet")
//                with Status.leader set: nothing was applied, the client
//                may send it to the leader as it is. Subscribe too: a
//                worker is served by the leader only.
//
// Roles as on a primary: Stats from a producer or worker is
// PermissionDenied; a text field that is not valid UTF-8 in Hello is
// InvalidArgument and close.
//
// Thread: the io thread (SetLeader and SetTokens too).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "server/net/credentials.h"
#include "server/net/frame_handler.h"
#include "server/net/greeting.h"
#include "server/net/replication_view.h"

namespace rappel::server {

struct StandbyHandlerOptions {
  std::vector<Credential> tokens;  // as HandlerOptions::tokens
  std::string server_name = "rappeld";
  protocol::FrameLimits frame_limits;
  size_t max_payload_bytes = 64 * 1024;
};

class StandbyHandler : public FrameHandler {
 public:
  // `view` returns the node's replication state now (its role and leader
  // are overwritten with Standby and leader()).
  StandbyHandler(StandbyHandlerOptions options, std::function<ReplicationView()> view);

  void Handle(Connection& conn, const protocol::wire::Frame& frame, ReplyFn reply) override;
  void OnClose(Connection&) override {}
  bool StillGranted(const Connection& conn) const override {
    return TokensStillGrant(options_.tokens, conn);
  }

  // The leader's client address (HOST:PORT) named from now on in HelloReply
  // and refusals; empty: "no leader known yet". Connections already open
  // stay open.
  void SetLeader(std::string client_address) { leader_ = std::move(client_address); }
  const std::string& leader() const { return leader_; }
  void SetTokens(std::vector<Credential> tokens) { options_.tokens = std::move(tokens); }

  // The refusal of a request a node that does not lead cannot serve: an
  // Error frame Unavailable naming `leader` (empty: none known).
  static FrameBytes NotLeaderFrame(uint64_t request_id, const std::string& leader);

 private:
  void Stats(uint64_t id, ReplyFn reply);

  StandbyHandlerOptions options_;
  std::function<ReplicationView()> view_;
  std::string leader_;
};

}  // namespace rappel::server
