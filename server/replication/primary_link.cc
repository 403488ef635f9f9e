#include "server/replication/primary_link.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/replication/term_history.h"

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
// A snapshot goes in chunks of this size, one write at a time.
constexpr size_t kSnapshotChunkBytes = 1u << 20;

}  // namespace

PrimaryLink::PrimaryLink(asio::ip::tcp::socket socket, const std::vector<Credential>* tokens,
                         PrimaryHook* hook, std::function<void(PrimaryLink*)> closed,
                         std::function<void()> acked, SnapshotSource* snapshots)
    : start_timer_(socket.get_executor()),
      tokens_(tokens),
      hook_(hook),
      snapshots_(snapshots),
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

PrimaryLink::~PrimaryLink() {
  if (snapshot_fd_ >= 0) close(snapshot_fd_);
  if (snapshot_hash_ != nullptr) XXH64_freeState(snapshot_hash_);
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
  // Why the standby cannot stream from index + 1 (empty: it can).
  std::string mismatch;
  if (snapshots_ != nullptr) {
    // Raft's log matching: the standby's last group must be one of ours,
    // else it holds groups this primary never had (an old primary that
    // committed past what was replicated) and streaming would keep them.
    auto history = snapshots_->History();
    if (!history.ok()) {
      SendError(absl::Status(
          history.status().code(),
          absl::StrCat("reading this primary's term history: ", history.status().message())));
      return;
    }
    if (!HistoryHolds(*history, standby)) {
      mismatch = HistoryMismatch(*history, standby);
    } else if (!backlog->Holds(standby.index + 1)) {
      mismatch = absl::StrCat("too far behind: the backlog holds ", backlog->first_index(), " to ",
                              backlog->next_index() - 1);
    }
  } else if (standby.term > last.term || standby.index > last.index) {
    mismatch =
        absl::StrCat("ahead of this primary (at term ", last.term, " index ", last.index, ")");
  } else if (!backlog->Holds(standby.index + 1)) {
    mismatch =
        absl::StrCat("too far behind: the backlog no longer holds index ", standby.index + 1,
                     " (it holds ", backlog->first_index(), " to ", backlog->next_index() - 1, ")");
  }
  absl::Status refusal;
  if (!mismatch.empty() && snapshots_ == nullptr) {
    refusal = absl::FailedPreconditionError(absl::StrCat(
        "the standby (term ", standby.term, " index ", standby.index, ") is ", mismatch,
        "; this primary has no snapshot catch-up: re-seed it from a backup of the primary"));
  }
  const bool snapshot = !mismatch.empty() && refusal.ok();
  flatbuffers::FlatBufferBuilder b;
  auto status = protocol::ToWireStatus(b, refusal);
  auto client = b.CreateString(client_address_);
  auto reply = wire::CreateReplicaStartReply(b, status, hook_->term(),
                                             snapshot ? 0 : standby.index + 1, client, snapshot);
  protocol::FinishFrame(b, frame->request_id(), wire::Body::ReplicaStartReply, reply.Union());
  if (!refusal.ok()) {
    LogWarn(absl::StrCat("replication: refused standby ", node_, " (", peer_, "): ",
                         refusal.message()));
    auto self = shared_from_this();
    io_->Write(b, [self, refusal](absl::Status) { self->Close(refusal); });
    return;
  }
  io_->Write(b);
  start_timer_.cancel();
  if (snapshot) {
    LogInfo(absl::StrCat("replication: standby ", node_, " (", peer_, ") at term ", standby.term,
                         " index ", standby.index, " is ", mismatch,
                         ": catching it up from a snapshot"));
    auto self = shared_from_this();
    snapshots_->Acquire(
        [backlog](const Snapshot& s) { return backlog->Holds(s.meta.pos.index + 1); },
        [self](absl::StatusOr<std::shared_ptr<const Snapshot>> s) {
          if (self->closed_) return;
          if (!s.ok()) return self->Close(s.status());
          self->SendSnapshot(std::move(*s));
        });
    return;
  }
  LogInfo(absl::StrCat("replication: standby ", node_, " (", peer_, ") streams from index ",
                       standby.index + 1));
  BeginStream(standby);
}

void PrimaryLink::BeginStream(ReplPos standby) {
  streaming_ = true;
  next_ = standby.index + 1;
  queued_end_ = next_;
  acked_ = standby;
  ReadAcks();
  Pump();
}

void PrimaryLink::SendSnapshot(std::shared_ptr<const Snapshot> snapshot) {
  snapshot_fd_ = open(snapshot->file.c_str(), O_RDONLY | O_CLOEXEC);
  if (snapshot_fd_ < 0) {
    return Close(absl::InternalError(
        absl::StrCat("cannot open the snapshot ", snapshot->file, ": ", strerror(errno))));
  }
  snapshot_ = std::move(snapshot);
  snapshot_sent_ = 0;
  snapshot_hash_ = XXH64_createState();
  XXH64_reset(snapshot_hash_, 0);
  snapshot_started_ = std::chrono::steady_clock::now();
  flatbuffers::FlatBufferBuilder b;
  auto begin = wire::CreateSnapshotBegin(b, snapshot_->meta.pos.term, snapshot_->meta.pos.index,
                                         snapshot_->bytes);
  protocol::FinishFrame(b, 0, wire::Body::SnapshotBegin, begin.Union());
  io_->Write(b);
  SendChunk();
}

void PrimaryLink::SendChunk() {
  if (closed_) return;
  if (snapshot_sent_ == snapshot_->bytes) return EndSnapshot();
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>(kSnapshotChunkBytes, snapshot_->bytes - snapshot_sent_));
  flatbuffers::FlatBufferBuilder b(want + 256);
  uint8_t* data = nullptr;
  auto vec = b.CreateUninitializedVector(want, &data);
  ssize_t n = pread(snapshot_fd_, data, want, static_cast<off_t>(snapshot_sent_));
  if (n != static_cast<ssize_t>(want)) {
    return Close(absl::InternalError(absl::StrCat("reading the snapshot ", snapshot_->file, " at ",
                                                  snapshot_sent_, ": ",
                                                  n < 0 ? strerror(errno) : "short read")));
  }
  XXH64_update(snapshot_hash_, data, want);
  auto chunk = wire::CreateSnapshotChunk(b, vec);
  protocol::FinishFrame(b, 0, wire::Body::SnapshotChunk, chunk.Union());
  snapshot_sent_ += want;
  auto self = shared_from_this();
  io_->Write(b, [self](absl::Status st) {
    if (!st.ok()) return self->Close(st);
    self->SendChunk();
  });
}

void PrimaryLink::EndSnapshot() {
  flatbuffers::FlatBufferBuilder b;
  auto end = wire::CreateSnapshotEnd(b, XXH64_digest(snapshot_hash_));
  protocol::FinishFrame(b, 0, wire::Body::SnapshotEnd, end.Union());
  io_->Write(b);
  const ReplPos pos = snapshot_->meta.pos;
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - snapshot_started_).count();
  LogInfo(absl::StrCat("replication: sent standby ", node_, " (", peer_, ") a snapshot at term ",
                       pos.term, " index ", pos.index, " (", snapshot_->bytes, " bytes in ",
                       absl::SixDigits(took), " s); it streams from index ", pos.index + 1));
  close(snapshot_fd_);
  snapshot_fd_ = -1;
  snapshot_.reset();  // the last link done with it removes its files
  BeginStream(pos);
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
          backlog->first_index(), "); it catches up by snapshot when it reconnects")));
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
