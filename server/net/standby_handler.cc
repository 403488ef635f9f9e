#include "server/net/standby_handler.h"

#include "absl/strings/str_cat.h"
#include "server/net/tenant_access.h"
#include "server/net/text_fields.h"

namespace rappel::server {

namespace wire = protocol::wire;

StandbyHandler::StandbyHandler(StandbyHandlerOptions options, std::function<ReplicationView()> view)
    : options_(std::move(options)), view_(std::move(view)) {}

FrameBytes StandbyHandler::NotLeaderFrame(uint64_t request_id, const std::string& leader) {
  flatbuffers::FlatBufferBuilder b;
  std::string message = leader.empty() ? "not the leader; no leader known yet"
                                       : absl::StrCat("not the leader; the leader is at ", leader);
  auto status = wire::CreateStatusDirect(b, wire::ErrorCode::Unavailable, message.c_str(),
                                         leader.empty() ? nullptr : leader.c_str());
  return Finish(b, request_id, wire::Body::Error, wire::CreateError(b, status).Union());
}

void StandbyHandler::Handle(Connection& conn, const wire::Frame& frame, ReplyFn reply) {
  uint64_t id = frame.request_id();
  wire::Body type = frame.body_type();
  if (type == wire::Body::Hello) {
    if (conn.greeted) {
      reply(ErrorFrame(id, wire::ErrorCode::FailedPrecondition, "Hello was already sent"), false);
      return;
    }
    if (auto bad = TextFields::Wire().FirstInvalid(frame)) {
      reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument,
                       absl::StrCat(bad->path, " is not valid UTF-8 (byte ", bad->byte, ")")),
            true);
      return;
    }
    HelloFacts facts{options_.server_name, options_.frame_limits.max_frame_bytes,
                     static_cast<uint32_t>(options_.max_payload_bytes), wire::ShardRole::Standby,
                     leader_};
    AnswerHello(options_.tokens, facts, conn, id, *frame.body_as_Hello(), std::move(reply));
    return;
  }
  if (!conn.greeted) {
    reply(ErrorFrame(id, wire::ErrorCode::Unauthenticated, "the first frame must be Hello"), true);
    return;
  }
  if (type == wire::Body::Ping) {
    flatbuffers::FlatBufferBuilder b;
    reply(Finish(b, id, wire::Body::Pong, wire::CreatePong(b).Union()), false);
    return;
  }
  if (type == wire::Body::Stats) {
    if (conn.role != wire::Role::Admin) {
      LogRefusal(absl::StrCat("refused Stats from ", conn.peer, ": token '", conn.token_name,
                              "' has role ", wire::EnumNameRole(conn.role)));
      reply(
          ErrorFrame(id, wire::ErrorCode::PermissionDenied,
                     absl::StrCat("Stats is not allowed for role ", wire::EnumNameRole(conn.role))),
          false);
      return;
    }
    Stats(id, std::move(reply));
    return;
  }
  reply(NotLeaderFrame(id, leader_), false);
}

void StandbyHandler::Stats(uint64_t id, ReplyFn reply) {
  ReplicationView view = view_ ? view_() : ReplicationView{};
  view.role = wire::ShardRole::Standby;
  view.leader = leader_;
  flatbuffers::FlatBufferBuilder b;
  auto replication = ReplicationToWire(b, view);
  wire::StatsReplyBuilder sb(b);
  sb.add_replication(replication);
  auto body = sb.Finish();
  reply(Finish(b, id, wire::Body::StatsReply, body.Union()), false);
}

}  // namespace rappel::server
