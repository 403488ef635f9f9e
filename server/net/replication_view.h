// ReplicationView: what a node says of its part in a replicated shard in
// StatsReply.replication (protocol/README.md "Replication"): its role, the
// leader it names, its durable position, and on a primary the standbys
// streaming from it. Rappeld fills it from the PrimaryHook and
// ReplicationServer (a primary) or the ReplicaApplier (a standby).
//
// Thread: a value; ReplicationToWire is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "server/store/commit_hook.h"

namespace rappel::server {

struct ReplicationView {
  protocol::wire::ShardRole role = protocol::wire::ShardRole::Single;
  std::string leader;      // a standby's leader's client address; empty: unknown
  ReplPos position;        // a primary's last commit; a standby's last durable group
  int64_t commit_ms = 0;   // a standby: the primary's commit time of `position`
  bool streaming = false;  // a standby: the primary's stream is running
  std::string last_error;  // a standby: why its last stream ended
  struct Standby {
    std::string node;
    ReplPos acked;
  };
  std::vector<Standby> standbys;  // a primary: those streaming from it
};

flatbuffers::Offset<protocol::wire::ReplicationState> ReplicationToWire(
    flatbuffers::FlatBufferBuilder& b, const ReplicationView& view);

}  // namespace rappel::server
