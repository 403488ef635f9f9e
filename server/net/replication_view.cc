#include "server/net/replication_view.h"

namespace rappel::server {

namespace wire = protocol::wire;

flatbuffers::Offset<wire::ReplicationState> ReplicationToWire(flatbuffers::FlatBufferBuilder& b,
                                                              const ReplicationView& view) {
  std::vector<flatbuffers::Offset<wire::StandbyPosition>> standbys;
  for (const ReplicationView::Standby& s : view.standbys) {
    standbys.push_back(
        wire::CreateStandbyPositionDirect(b, s.node.c_str(), s.acked.term, s.acked.index));
  }
  return wire::CreateReplicationStateDirect(
      b, view.role, view.leader.empty() ? nullptr : view.leader.c_str(), view.position.term,
      view.position.index, view.commit_ms, view.streaming,
      view.last_error.empty() ? nullptr : view.last_error.c_str(),
      standbys.empty() ? nullptr : &standbys);
}

}  // namespace rappel::server
