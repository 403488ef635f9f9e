#include "server/replication/replica_applier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/replication/batch_codec.h"

namespace rappel::server {
namespace {

namespace wire = protocol::wire;

// Where a snapshot is received: next to the store, on its file system, so
// that installing it is one rename.
std::string CatchupDir(const StandbyStore& store) {
  std::string path = store.path();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path + ".catchup";
}

}  // namespace

ReplicaApplier::ReplicaApplier(asio::io_context& io, ReplicaApplierOptions options,
                               StandbyStore* store)
    : io_(io),
      options_(std::move(options)),
      store_(store),
      timer_(io),
      backoff_ms_(options_.initial_backoff_ms) {}

ReplicaApplier::~ReplicaApplier() {
  *alive_ = false;
  Stop();
}

absl::Status ReplicaApplier::Start() {
  if (SnapshotReceiver::Discard(CatchupDir(*store_))) {
    LogInfo(absl::StrCat("standby: removed an unfinished snapshot catch-up in ",
                         CatchupDir(*store_), "; the store is as it was before it"));
  }
  auto reader = store_->get()->NewReader();
  if (!reader.ok()) return reader.status();
  auto pos = reader->GetReplPos();
  if (!pos.ok()) return pos.status();
  status_.durable = *pos;
  status_.received = *pos;
  Connect();
  return absl::OkStatus();
}

void ReplicaApplier::Stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  if (conn_io_) conn_io_->Close();
  connected_ = false;
}

void ReplicaApplier::Retarget(std::string host, uint16_t port) {
  if (stopped_ || (host == options_.primary_host && port == options_.primary_port)) return;
  LogInfo(absl::StrCat("standby: following ", host, ":", port, " (was ", options_.primary_host,
                       ":", options_.primary_port, ")"));
  options_.primary_host = std::move(host);
  options_.primary_port = port;
  backoff_ms_ = options_.initial_backoff_ms;
  timer_.cancel();  // a reconnect waiting on the old address
  Drop(absl::UnavailableError("the shard's leader changed"));
}

void ReplicaApplier::Connect() {
  if (stopped_) return;
  ++conn_;
  uint64_t conn = conn_;
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(io_);
  std::weak_ptr<bool> alive = alive_;
  // A primary that accepts but never answers (stopped, overloaded) must not
  // hold the standby forever.
  timer_.expires_after(std::chrono::milliseconds(options_.handshake_timeout_ms));
  timer_.async_wait([this, alive, conn](asio::error_code ec) {
    if (ec || alive.expired() || stopped_ || conn != conn_ || connected_) return;
    Drop(absl::DeadlineExceededError(absl::StrCat(
        "no stream from the primary within ", options_.handshake_timeout_ms, " ms")));
  });
  resolver->async_resolve(
      options_.primary_host, std::to_string(options_.primary_port),
      [this, alive, conn, resolver](asio::error_code ec,
                                    asio::ip::tcp::resolver::results_type results) {
        if (alive.expired() || stopped_ || conn != conn_) return;
        if (ec) return Drop(absl::UnavailableError(absl::StrCat("resolve: ", ec.message())));
        auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
        asio::async_connect(*socket, results,
                            [this, alive, conn, socket](asio::error_code ec, const auto&) {
                              if (alive.expired() || stopped_ || conn != conn_) return;
                              if (ec) {
                                return Drop(absl::UnavailableError(
                                    absl::StrCat("connect: ", ec.message())));
                              }
                              socket->set_option(asio::ip::tcp::no_delay(true), ec);
                              protocol::FrameLimits limits;
                              limits.max_frame_bytes = options_.max_frame_bytes;
                              conn_io_ = std::make_shared<FrameIo>(std::move(*socket), limits);
                              OnConnected();
                            });
      });
}

void ReplicaApplier::OnConnected() {
  flatbuffers::FlatBufferBuilder b;
  auto token = b.CreateString(options_.token);
  auto name = b.CreateString(absl::StrCat("standby ", options_.node));
  auto hello = wire::CreateHello(b, protocol::kProtocolVersion, token, name);
  protocol::FinishFrame(b, 1, wire::Body::Hello, hello.Union());
  conn_io_->Write(b);
  std::weak_ptr<bool> alive = alive_;
  uint64_t conn = conn_;
  conn_io_->Read([this, alive, conn](absl::Status st, const wire::Frame* frame) {
    if (alive.expired() || stopped_ || conn != conn_) return;
    if (!st.ok()) return Drop(st);
    OnHelloReply(frame);
  });
}

void ReplicaApplier::OnHelloReply(const wire::Frame* frame) {
  if (frame->body_type() == wire::Body::Error) {
    return Drop(protocol::FromWireStatus(frame->body_as_Error()->status()));
  }
  if (frame->body_type() != wire::Body::HelloReply) {
    return Drop(absl::InvalidArgumentError("the primary did not answer Hello with HelloReply"));
  }
  flatbuffers::FlatBufferBuilder b;
  auto node = b.CreateString(options_.node);
  auto start = wire::CreateReplicaStart(b, node, status_.durable.term, status_.durable.index);
  protocol::FinishFrame(b, 2, wire::Body::ReplicaStart, start.Union());
  conn_io_->Write(b);
  std::weak_ptr<bool> alive = alive_;
  uint64_t conn = conn_;
  conn_io_->Read([this, alive, conn](absl::Status st, const wire::Frame* frame) {
    if (alive.expired() || stopped_ || conn != conn_) return;
    if (!st.ok()) return Drop(st);
    OnStartReply(frame);
  });
}

void ReplicaApplier::OnStartReply(const wire::Frame* frame) {
  const wire::ReplicaStartReply* reply = frame->body_as_ReplicaStartReply();
  if (reply == nullptr) {
    if (frame->body_type() == wire::Body::Error) {
      return Drop(protocol::FromWireStatus(frame->body_as_Error()->status()));
    }
    return Drop(absl::InvalidArgumentError("expected ReplicaStartReply"));
  }
  absl::Status st = protocol::FromWireStatus(reply->status());
  if (!st.ok()) return Drop(st);
  if (reply->term() < min_term_) {
    return Drop(absl::FailedPreconditionError(absl::StrCat(
        "the primary's term ", reply->term(), " is below the shard's term ", min_term_,
        ": it was deposed")));
  }
  timer_.cancel();  // the primary answered: no handshake timeout from here
  if (options_.on_primary_client) {
    options_.on_primary_client(reply->client() ? reply->client()->str() : std::string());
  }
  if (reply->snapshot()) {
    LogInfo(absl::StrCat("standby: the primary ", options_.primary_host, ":", options_.primary_port,
                         " does not have term ", status_.durable.term, " index ",
                         status_.durable.index,
                         " in its history: catching up from a snapshot of its store"));
    return ReadSnapshot();
  }
  if (reply->from_index() != status_.durable.index + 1) {
    return Drop(absl::InvalidArgumentError(absl::StrCat(
        "the primary offers index ", reply->from_index(), ", the standby needs ",
        status_.durable.index + 1)));
  }
  StartStreaming(reply->from_index(), reply->term());
}

void ReplicaApplier::StartStreaming(uint64_t from_index, uint64_t term) {
  connected_ = true;
  status_.streaming = true;
  status_.received = status_.durable;
  ++status_.connects;
  backoff_ms_ = options_.initial_backoff_ms;
  LogInfo(absl::StrCat("standby: streaming from ", options_.primary_host, ":",
                       options_.primary_port, " at index ", from_index, " (term ", term, ")"));
  ReadGroups();
}

void ReplicaApplier::ReadSnapshot() {
  // One frame at a time, each written before the next is read: the socket's
  // window is the only buffer, however large the store.
  std::weak_ptr<bool> alive = alive_;
  uint64_t conn = conn_;
  conn_io_->Read([this, alive, conn](absl::Status st, const wire::Frame* frame) {
    if (alive.expired() || stopped_ || conn != conn_) return;
    if (!st.ok()) return Drop(st);
    bool done = false;
    if (absl::Status handled = OnSnapshotFrame(frame, &done); !handled.ok()) return Drop(handled);
    if (!done) ReadSnapshot();
  });
}

absl::Status ReplicaApplier::OnSnapshotFrame(const wire::Frame* frame, bool* done) {
  if (const wire::SnapshotBegin* begin = frame->body_as_SnapshotBegin(); begin != nullptr) {
    if (receiver_) return absl::InvalidArgumentError("a second SnapshotBegin");
    ReplPos pos{begin->term(), begin->index()};
    auto receiver = SnapshotReceiver::Begin(CatchupDir(*store_), pos, begin->bytes());
    if (!receiver.ok()) return receiver.status();
    receiver_ = std::move(*receiver);
    status_.catching_up = true;
    catchup_started_ = std::chrono::steady_clock::now();
    LogInfo(absl::StrCat("standby: receiving a snapshot at term ", pos.term, " index ", pos.index,
                         " (", begin->bytes(), " bytes) into ", CatchupDir(*store_)));
    return absl::OkStatus();
  }
  if (!receiver_) return absl::InvalidArgumentError("expected SnapshotBegin");
  if (const wire::SnapshotChunk* chunk = frame->body_as_SnapshotChunk(); chunk != nullptr) {
    if (chunk->data() == nullptr) return absl::InvalidArgumentError("SnapshotChunk without data");
    return receiver_->Chunk(std::string_view(reinterpret_cast<const char*>(chunk->data()->data()),
                                             chunk->data()->size()));
  }
  if (const wire::SnapshotEnd* end = frame->body_as_SnapshotEnd(); end != nullptr) {
    *done = true;
    return InstallSnapshot(end->xxh64());
  }
  return absl::InvalidArgumentError("expected SnapshotChunk or SnapshotEnd during a snapshot");
}

absl::Status ReplicaApplier::InstallSnapshot(uint64_t xxh64) {
  auto file = receiver_->End(xxh64);
  if (!file.ok()) return file.status();
  const ReplPos pos = receiver_->pos();
  const uint64_t bytes = receiver_->bytes();
  receiver_.reset();
  // Nothing is queued on the store: a connection starts only once every
  // submitted group has completed, and none came during the snapshot.
  absl::Status replaced = store_->Replace(*file);
  if (store_->get() == nullptr) {
    // Without a store there is nothing to apply to: stop, loudly.
    LogError(absl::StrCat("standby: ", replaced.message(), "; replication stopped"));
    status_.last_error = std::string(replaced.message());
    Stop();
    return absl::OkStatus();
  }
  if (!replaced.ok()) return replaced;
  SnapshotReceiver::Discard(CatchupDir(*store_));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - catchup_started_).count();
  status_.durable = pos;
  status_.received = pos;
  status_.primary_commit_ms = 0;
  status_.catching_up = false;
  ++status_.snapshots;
  LogInfo(absl::StrCat("standby: caught up from a snapshot: the store now holds term ", pos.term,
                       " index ", pos.index, " (", bytes, " bytes in ", absl::SixDigits(took),
                       " s)"));
  StartStreaming(pos.index + 1, pos.term);
  SendAck();  // the primary learns the new position now, not at the next group
  return absl::OkStatus();
}

void ReplicaApplier::ReadGroups() {
  if (!connected_ || stopped_) return;
  if (in_flight_bytes_ > options_.max_in_flight_bytes) {
    reading_paused_ = true;  // OnDurable resumes
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  uint64_t conn = conn_;
  conn_io_->Read([this, alive, conn](absl::Status st, const wire::Frame* frame) {
    if (alive.expired() || stopped_ || conn != conn_) return;
    if (!st.ok()) return Drop(st);
    const wire::CommitGroup* group = frame->body_as_CommitGroup();
    if (group == nullptr) return Drop(absl::InvalidArgumentError("expected CommitGroup"));
    if (absl::Status applied = Apply(*group); !applied.ok()) return Drop(applied);
    ReadGroups();
  });
}

absl::Status ReplicaApplier::Apply(const wire::CommitGroup& frame) {
  const ReplPos last = status_.received;
  if (frame.index() != last.index + 1 || frame.prev_index() != last.index) {
    return absl::InvalidArgumentError(absl::StrCat("CommitGroup index ", frame.index(), " (prev ",
                                                   frame.prev_index(), ") does not follow ",
                                                   last.index));
  }
  if (frame.term() < last.term) {
    return absl::InvalidArgumentError(absl::StrCat("CommitGroup term ", frame.term(),
                                                   " is below the last term ", last.term));
  }
  if (frame.data() == nullptr) return absl::InvalidArgumentError("CommitGroup without data");
  std::string_view bytes(reinterpret_cast<const char*>(frame.data()->data()),
                         frame.data()->size());
  auto group = DecodeGroup(bytes);
  if (!group.ok()) {
    return absl::Status(group.status().code(),
                        absl::StrCat("CommitGroup ", frame.index(), ": ", group.status().message()));
  }
  if (group->pos != ReplPos{frame.term(), frame.index()} || group->prev.index != last.index) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CommitGroup ", frame.index(), ": its data names another position (", group->pos.term,
        "/", group->pos.index, ")"));
  }
  ReplPos pos = group->pos;
  status_.received = pos;
  ++in_flight_groups_;
  in_flight_bytes_ += bytes.size();
  std::weak_ptr<bool> alive = alive_;
  uint64_t conn = conn_;
  int64_t commit_ms = frame.commit_ms();
  size_t size = bytes.size();
  store_->get()->SubmitGroup(epoch_, std::move(group->batches), pos,
                             [this, alive, conn, pos, commit_ms, size](absl::Status st) {
                               if (alive.expired()) return;
                               OnDurable(conn, pos, commit_ms, size, std::move(st));
                             });
  return absl::OkStatus();
}

void ReplicaApplier::OnDurable(uint64_t conn, ReplPos pos, int64_t commit_ms, size_t bytes,
                               absl::Status st) {
  --in_flight_groups_;
  in_flight_bytes_ -= bytes;
  if (st.ok()) {
    status_.durable = pos;
    status_.primary_commit_ms = commit_ms;
  } else {
    // Every later group of this epoch fails too: ask again from what is
    // durable once they have all come back, under a new epoch.
    ++epoch_;
  }
  if (!st.ok() && conn == conn_ && connected_) {
    Drop(absl::Status(st.code(), absl::StrCat("commit of index ", pos.index, ": ", st.message())));
  }
  if (conn == conn_ && connected_) {
    SendAck();
    if (reading_paused_ && in_flight_bytes_ <= options_.max_in_flight_bytes) {
      reading_paused_ = false;
      ReadGroups();
    }
  }
  MaybeReconnect();
}

void ReplicaApplier::SendAck() {
  if (acking_) {
    ack_again_ = true;
    return;
  }
  acking_ = true;
  flatbuffers::FlatBufferBuilder b;
  auto ack = wire::CreatePositionAck(b, status_.durable.term, status_.durable.index);
  protocol::FinishFrame(b, 0, wire::Body::PositionAck, ack.Union());
  std::weak_ptr<bool> alive = alive_;
  uint64_t conn = conn_;
  conn_io_->Write(b, [this, alive, conn](absl::Status st) {
    if (alive.expired() || conn != conn_) return;
    acking_ = false;
    if (!st.ok()) return Drop(st);
    if (ack_again_) {
      ack_again_ = false;
      SendAck();
    }
  });
}

void ReplicaApplier::Drop(const absl::Status& why) {
  if (stopped_) return;
  if (why.message() != status_.last_error || connected_) {
    LogWarn(absl::StrCat("standby: replication from ", options_.primary_host, ":",
                         options_.primary_port, " ended: ", why.message(),
                         "; retrying in ", backoff_ms_, " ms"));
  }
  status_.last_error = std::string(why.message());
  status_.streaming = false;
  status_.catching_up = false;
  receiver_.reset();  // its directory goes at the next catch-up or start
  connected_ = false;
  reading_paused_ = false;
  acking_ = false;
  ack_again_ = false;
  if (conn_io_) conn_io_->Close();
  ++conn_;  // late handlers of this connection are ignored
  reconnect_pending_ = true;
  MaybeReconnect();
}

void ReplicaApplier::MaybeReconnect() {
  if (!reconnect_pending_ || stopped_ || in_flight_groups_ > 0) return;
  reconnect_pending_ = false;
  status_.received = status_.durable;
  timer_.expires_after(std::chrono::milliseconds(backoff_ms_));
  backoff_ms_ = std::min(backoff_ms_ * 2, options_.max_backoff_ms);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](asio::error_code ec) {
    if (ec || alive.expired()) return;
    Connect();
  });
}

}  // namespace rappel::server
