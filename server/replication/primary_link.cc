#include "server/replication/primary_link.h"

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace rappel::server {
namespace {

namespace wire = protocol::wire;

// Frames a standby sends are small: Hello, ReplicaStart, PositionAck.
protocol::FrameLimits IncomingLimits() {
  protocol::FrameLimits limits;
  limits.max_frame_bytes = protocol::kMaxHelloFrameBytes;
  limits.max_tables = 64;
  return limits;
}

constexpr int64_t kStartTimeoutMs = 10'000;
// One write carries at most this much of the backlog.
constexpr size_t kMaxEntriesPerWrite = 512;
constexpr size_t kMaxBytesPerWrite = 4u << 20;

}  // namespace

PrimaryLink::PrimaryLink(asio::ip::tcp::socket socket, const std::vector<Credential>* tokens,
                         PrimaryHook* hook, std::function<void(PrimaryLink*)> closed,
                         std::function<void()> acked)
    : start_timer_(socket.get_executor()),
      tokens_(tokens),
      hook_(hook),
      closed_fn_(std::move(closed)),
      acked_fn_(std::move(acked)) {
  asio::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  peer_ = ec ? "unknown peer" : absl::StrCat(ep.address().to_string(), ":", ep.port());
  io_ = std::make_shared<FrameIo>(std::move(socket), IncomingLimits());
}

void PrimaryLink::Start() {
  auto self = shared_from_this();
  start_timer_.expires_after(std::chrono::milliseconds(kStartTimeoutMs));
  start_timer_.async_wait([self](asio::error_code ec) {
    if (ec || self->streaming_ || self->closed_) return;
    self->Close(absl::DeadlineExceededError("no ReplicaStart within 10 s"));
  });
  io_->Read([self](absl::Status st, const wire::Frame* frame) {
    if (!st.ok()) return self->Close(st);
    self->OnHello(frame);
  });
}

void PrimaryLink::OnHello(const wire::Frame* frame) {
  const wire::Hello* hello = frame->body_as_Hello();
  if (hello == nullptr) {
    SendError(absl::FailedPreconditionError("the first frame must be Hello"));
    return;
  }
  std::string_view secret = hello->token() ? hello->token()->string_view() : std::string_view();
  const Credential* cred = FindCredential(*tokens_, secret);
  if (cred == nullptr || cred->role != wire::Role::Replica) {
    SendError(absl::UnauthenticatedError(
        "the replication port takes only a token with role replica"));
    return;
  }
  flatbuffers::FlatBufferBuilder b;
  auto name = b.CreateString("rappeld primary");
  auto reply = wire::CreateHelloReply(b, protocol::kProtocolVersion, name, wire::Role::Replica,
                                      0, 0);
  protocol::FinishFrame(b, frame->request_id(), wire::Body::HelloReply, reply.Union());
  io_->Write(b);
  auto self = shared_from_this();
  io_->Read([self](absl::Status st, const wire::Frame* frame) {
    if (!st.ok()) return self->Close(st);
    self->OnStart(frame);
  });
}

void PrimaryLink::OnStart(const wire::Frame* frame) {
  const wire::ReplicaStart* start = frame->body_as_ReplicaStart();
  if (start == nullptr) {
    SendError(absl::FailedPreconditionError("expected ReplicaStart after Hello"));
    return;
  }
  node_ = start->node() ? std::string(start->node()->string_view()) : "";
  ReplPos standby{start->term(), start->index()};
  ReplPos last = hook_->last();
  Backlog* backlog = hook_->backlog();
  absl::Status refusal;
  if (standby.term > last.term || standby.index > last.index) {
    refusal = absl::FailedPreconditionError(absl::StrCat(
        "the standby is ahead of this primary (standby at term ", standby.term, " index ",
        standby.index, ", primary at term ", last.term, " index ", last.index,
        "): it holds groups this primary never had; re-seed it from a backup of the primary "
        "(snapshot catch-up is not implemented yet)"));
  } else if (!backlog->Holds(standby.index + 1)) {
    refusal = absl::FailedPreconditionError(absl::StrCat(
        "the primary's backlog no longer holds index ", standby.index + 1, " (it holds ",
        backlog->first_index(), " to ", backlog->next_index() - 1,
        "); re-seed the standby from a backup of the primary (snapshot catch-up is not "
        "implemented yet)"));
  }
  flatbuffers::FlatBufferBuilder b;
  auto status = protocol::ToWireStatus(b, refusal);
  auto client = b.CreateString(client_address_);
  auto reply =
      wire::CreateReplicaStartReply(b, status, hook_->term(), standby.index + 1, client);
  protocol::FinishFrame(b, frame->request_id(), wire::Body::ReplicaStartReply, reply.Union());
  if (!refusal.ok()) {
    LogWarn(absl::StrCat("replication: refused standby ", node_, " (", peer_, "): ",
                         refusal.message()));
    auto self = shared_from_this();
    io_->Write(b, [self, refusal](absl::Status) { self->Close(refusal); });
    return;
  }
  io_->Write(b);
  streaming_ = true;
  start_timer_.cancel();
  next_ = standby.index + 1;
  queued_end_ = next_;
  acked_ = standby;
  LogInfo(absl::StrCat("replication: standby ", node_, " (", peer_, ") streams from index ",
                       next_));
  ReadAcks();
  Pump();
}

void PrimaryLink::ReadAcks() {
  // First call: the stream starts at the standby's durable position, which
  // counts as acknowledged (its ack of the last group may have been lost
  // with its previous connection). Then once per PositionAck.
  if (acked_fn_) acked_fn_();
  auto self = shared_from_this();
  io_->Read([self](absl::Status st, const wire::Frame* frame) {
    if (!st.ok()) return self->Close(st);
    const wire::PositionAck* ack = frame->body_as_PositionAck();
    if (ack == nullptr) {
      return self->Close(absl::InvalidArgumentError("expected PositionAck from a streaming standby"));
    }
    ReplPos pos{ack->term(), ack->index()};
    if (pos.index >= self->queued_end_ || pos < self->acked_) {
      return self->Close(absl::InvalidArgumentError(absl::StrCat(
          "PositionAck for index ", pos.index, " outside what was sent (acked ",
          self->acked_.index, ", sent up to ", self->queued_end_ - 1, ")")));
    }
    self->acked_ = pos;
    self->ReadAcks();
  });
}

void PrimaryLink::Pump() {
  if (!streaming_ || closed_ || sending_) return;
  Backlog* backlog = hook_->backlog();
  auto frames = backlog->ReadFrom(next_, kMaxEntriesPerWrite, kMaxBytesPerWrite);
  if (frames.empty()) {
    if (!backlog->Holds(next_)) {
      Close(absl::ResourceExhaustedError(absl::StrCat(
          "the standby fell behind the backlog (needs index ", next_, ", the backlog starts at ",
          backlog->first_index(), "); it will be refused until re-seeded")));
    }
    return;
  }
  size_t n = frames.size();
  queued_end_ = next_ + n;
  sending_ = true;
  auto self = shared_from_this();
  io_->Write(std::move(frames), [self, n](absl::Status st) {
    self->sending_ = false;
    if (!st.ok()) return self->Close(st);
    self->next_ += n;
    self->Pump();
  });
}

void PrimaryLink::SendError(const absl::Status& status) {
  LogWarn(absl::StrCat("replication: ", peer_, ": ", status.message()));
  flatbuffers::FlatBufferBuilder b;
  auto st = protocol::ToWireStatus(b, status);
  auto body = wire::CreateError(b, st);
  protocol::FinishFrame(b, 0, wire::Body::Error, body.Union());
  auto self = shared_from_this();
  io_->Write(b, [self, status](absl::Status) { self->Close(status); });
}

void PrimaryLink::Close(const absl::Status& why) {
  if (closed_) return;
  closed_ = true;
  start_timer_.cancel();
  if (streaming_ || !why.ok()) {
    LogInfo(absl::StrCat("replication: standby ", node_.empty() ? peer_ : node_,
                         " disconnected: ", why.message()));
  }
  io_->Close();
  if (closed_fn_) closed_fn_(this);
}

}  // namespace rappel::server
