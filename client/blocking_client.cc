#include <asio.hpp>
#include <deque>
#include <functional>

#include "absl/strings/str_cat.h"
#include "client/timed_read.h"
#include "protocol/framing.h"
#include "rappel/client.h"

namespace rappel::client {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

Reminder FromWire(const wire::Reminder* r) {
  Reminder out;
  if (r == nullptr) return out;
  out.tenant = r->tenant();
  out.key = Str(r->key());
  out.channel = static_cast<Channel>(r->channel());
  out.recipient = Str(r->recipient());
  out.due_ms = r->due_ms();
  out.expiry_ms = r->expiry_ms();
  if (r->payload() != nullptr) {
    out.payload.assign(reinterpret_cast<const char*>(r->payload()->data()), r->payload()->size());
  }
  return out;
}

std::vector<absl::Status> Statuses(const flatbuffers::Vector<Offset<wire::Status>>* v) {
  std::vector<absl::Status> out;
  if (v != nullptr) {
    for (const wire::Status* s : *v) out.push_back(protocol::FromWireStatus(s));
  }
  return out;
}

// StatsReply -> ServerStats, self-contained (no connection state).
ServerStats DecodeStats(const wire::StatsReply& r) {
  ServerStats out;
  out.pending = r.pending();
  out.leased = r.leased();
  out.dead_letters = r.dead_letters();
  out.log_records = r.log_records();
  out.store_used_bytes = r.store_used_bytes();
  out.commits = r.commits();
  out.fatal_error = Str(r.fatal_error());
  auto channels = [](const flatbuffers::Vector<Offset<wire::ChannelCount>>* v, uint64_t* out) {
    if (v == nullptr) return;
    for (const wire::ChannelCount* c : *v) {
      auto i = static_cast<size_t>(c->channel());
      if (i < 5) out[i] = c->pending();
    }
  };
  channels(r.by_channel(), out.ready_by_channel);
  channels(r.live_by_channel(), out.live_by_channel);
  if (r.by_tenant() != nullptr) {
    for (const wire::TenantCount* t : *r.by_tenant()) {
      out.by_tenant.push_back({t->tenant(), t->live(), t->dead_letters()});
    }
  }
  out.tenants = r.tenants();
  out.due_next_hour = r.due_next_hour();
  out.due_next_day = r.due_next_day();
  out.live_records = r.live_records();
  out.live_bytes = r.live_bytes();
  out.log_bytes = r.log_bytes();
  out.store_map_bytes = r.store_map_bytes();
  out.records_appended = r.records_appended();
  out.batches_committed = r.batches_committed();
  out.max_records_per_commit = r.max_records_per_commit();
  out.max_batches_per_commit = r.max_batches_per_commit();
  out.retrying = r.retrying();
  out.dead_letters_dropped = r.dead_letters_dropped();
  out.compaction_steps = r.compaction_steps();
  return out;
}

// CompactReply -> CompactResult, self-contained.
absl::StatusOr<CompactResult> DecodeCompact(const wire::CompactReply& r) {
  if (absl::Status st = protocol::FromWireStatus(r.status()); !st.ok()) return st;
  return CompactResult{r.log_records_before(), r.log_bytes_before(), r.log_records_after(),
                       r.log_bytes_after(),    r.live_records(),     r.relocated(),
                       r.store_used_bytes()};
}

}  // namespace

struct BlockingClient::Impl {
  Options options;
  asio::io_context io;
  asio::ip::tcp::socket socket{io};
  uint64_t next_id = 1;
  std::vector<uint8_t> reply;                 // the last reply read
  std::deque<std::vector<uint8_t>> pushed;    // deliveries not yet received
  protocol::FrameLimits limits;
  bool broken = false;

  // Reads exactly n bytes or fails with Unavailable / DeadlineExceeded.
  absl::Status ReadExactly(uint8_t* out, size_t n, std::chrono::milliseconds timeout) {
    TimedRead r = ReadWithTimeout(io, socket, out, n, timeout);
    if (r.timed_out && r.got == 0) return absl::DeadlineExceededError("no answer from rappeld in time");
    if (r.error || r.got != n) {
      broken = true;  // a partial frame leaves the stream out of step
      return absl::UnavailableError(absl::StrCat(
          "connection to rappeld lost: ", r.error ? r.error.message() : "timed out mid-frame"));
    }
    return absl::OkStatus();
  }

  // Reads one verified frame into *out.
  absl::Status ReadFrame(std::vector<uint8_t>* out, std::chrono::milliseconds timeout) {
    if (broken) return absl::UnavailableError("connection to rappeld lost");
    out->resize(protocol::kLengthPrefixBytes);
    if (auto st = ReadExactly(out->data(), protocol::kLengthPrefixBytes, timeout); !st.ok()) return st;
    auto length = protocol::DecodeFrameLength(out->data(), limits);
    if (!length.ok()) {
      broken = true;
      return absl::DataLossError(absl::StrCat("bad frame from rappeld: ", length.status().message()));
    }
    out->resize(protocol::kLengthPrefixBytes + *length);
    if (auto st = ReadExactly(out->data() + protocol::kLengthPrefixBytes, *length, timeout);
        !st.ok()) {
      broken = true;
      return st;
    }
    auto frame = protocol::VerifyFrame(out->data(), out->size(), limits);
    if (!frame.ok()) {
      broken = true;
      return absl::DataLossError(absl::StrCat("bad frame from rappeld: ", frame.status().message()));
    }
    return absl::OkStatus();
  }

  // Sends a request and waits for its reply, keeping deliveries that arrive
  // meanwhile.
  absl::StatusOr<const wire::Frame*> Call(FlatBufferBuilder& b, wire::Body type, Offset<void> body,
                                          wire::Body expected) {
    if (broken) return absl::UnavailableError("connection to rappeld lost");
    uint64_t id = next_id++;
    protocol::FinishFrame(b, id, type, body);
    asio::error_code ec;
    asio::write(socket, asio::buffer(b.GetBufferPointer(), b.GetSize()), ec);
    if (ec) {
      broken = true;
      return absl::UnavailableError(absl::StrCat("connection to rappeld lost: ", ec.message()));
    }
    for (;;) {
      std::vector<uint8_t> frame;
      if (auto st = ReadFrame(&frame, options.timeout); !st.ok()) return st;
      const wire::Frame* f = wire::GetSizePrefixedFrame(frame.data());
      if (f->body_type() == wire::Body::Delivery) {
        pushed.push_back(std::move(frame));
        continue;
      }
      reply = std::move(frame);
      f = wire::GetSizePrefixedFrame(reply.data());
      if (f->body_type() == wire::Body::Error) {
        return protocol::FromWireStatus(f->body_as_Error()->status());
      }
      if (f->request_id() != id || f->body_type() != expected) {
        broken = true;
        return absl::DataLossError("rappeld answered out of step");
      }
      return f;
    }
  }
};

BlockingClient::BlockingClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlockingClient::~BlockingClient() = default;

absl::StatusOr<std::unique_ptr<BlockingClient>> BlockingClient::Connect(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (!ec) asio::connect(impl->socket, endpoints, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot connect to rappeld at ", options.host, ":",
                                               options.port, ": ", ec.message()));
  }
  impl->socket.set_option(asio::ip::tcp::no_delay(true), ec);
  FlatBufferBuilder b;
  auto hello = wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString(options.token),
                                 b.CreateString(options.client_name));
  auto reply = impl->Call(b, wire::Body::Hello, hello.Union(), wire::Body::HelloReply);
  if (!reply.ok()) return reply.status();
  impl->limits.max_frame_bytes = (*reply)->body_as_HelloReply()->max_frame_bytes();
  return std::unique_ptr<BlockingClient>(new BlockingClient(std::move(impl)));
}

absl::StatusOr<std::vector<absl::StatusOr<ScheduleOutcome>>> BlockingClient::Schedule(
    const std::vector<Reminder>& reminders) {
  FlatBufferBuilder b;
  std::vector<Offset<wire::Reminder>> rs;
  rs.reserve(reminders.size());
  for (const Reminder& r : reminders) {
    auto key = b.CreateString(r.key);
    auto recipient = b.CreateString(r.recipient);
    auto payload =
        b.CreateVector(reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size());
    rs.push_back(wire::CreateReminder(b, r.tenant, key, static_cast<wire::Channel>(r.channel),
                                      recipient, r.due_ms, r.expiry_ms, payload));
  }
  auto body = wire::CreateSchedule(b, b.CreateVector(rs));
  auto reply = impl_->Call(b, wire::Body::Schedule, body.Union(), wire::Body::ScheduleReply);
  if (!reply.ok()) return reply.status();
  std::vector<absl::StatusOr<ScheduleOutcome>> out;
  if (const auto* results = (*reply)->body_as_ScheduleReply()->results()) {
    for (const wire::ScheduleResult* r : *results) {
      absl::Status st = protocol::FromWireStatus(r->status());
      if (st.ok()) {
        out.push_back(static_cast<ScheduleOutcome>(r->outcome()));
      } else {
        out.push_back(st);
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<absl::Status>> BlockingClient::Cancel(const std::vector<Key>& keys) {
  FlatBufferBuilder b;
  std::vector<Offset<wire::ReminderKey>> ks;
  for (const Key& k : keys) ks.push_back(wire::CreateReminderKey(b, k.tenant, b.CreateString(k.key)));
  auto body = wire::CreateCancel(b, b.CreateVector(ks));
  auto reply = impl_->Call(b, wire::Body::Cancel, body.Union(), wire::Body::CancelReply);
  if (!reply.ok()) return reply.status();
  return Statuses((*reply)->body_as_CancelReply()->results());
}

absl::Status BlockingClient::Reschedule(const Key& key, int64_t due_ms) {
  FlatBufferBuilder b;
  auto k = wire::CreateReminderKey(b, key.tenant, b.CreateString(key.key));
  auto body = wire::CreateReschedule(b, k, due_ms);
  auto reply = impl_->Call(b, wire::Body::Reschedule, body.Union(), wire::Body::RescheduleReply);
  if (!reply.ok()) return reply.status();
  return protocol::FromWireStatus((*reply)->body_as_RescheduleReply()->status());
}

absl::Status BlockingClient::Ping() {
  FlatBufferBuilder b;
  return impl_->Call(b, wire::Body::Ping, wire::CreatePing(b).Union(), wire::Body::Pong).status();
}

absl::Status BlockingClient::Subscribe(const std::vector<Channel>& channels,
                                       uint32_t max_in_flight, uint32_t batch_size) {
  FlatBufferBuilder b;
  std::vector<wire::Channel> cs;
  for (Channel c : channels) cs.push_back(static_cast<wire::Channel>(c));
  auto body = wire::CreateSubscribe(b, b.CreateVector(cs), max_in_flight, batch_size);
  auto reply = impl_->Call(b, wire::Body::Subscribe, body.Union(), wire::Body::SubscribeReply);
  if (!reply.ok()) return reply.status();
  return protocol::FromWireStatus((*reply)->body_as_SubscribeReply()->status());
}

absl::StatusOr<std::vector<Message>> BlockingClient::Receive(std::chrono::milliseconds wait) {
  if (impl_->pushed.empty()) {
    std::vector<uint8_t> frame;
    absl::Status st = impl_->ReadFrame(&frame, wait);
    if (absl::IsDeadlineExceeded(st)) return std::vector<Message>();
    if (!st.ok()) return st;
    if (wire::GetSizePrefixedFrame(frame.data())->body_type() != wire::Body::Delivery) {
      impl_->broken = true;
      return absl::DataLossError("rappeld sent a reply nobody asked for");
    }
    impl_->pushed.push_back(std::move(frame));
  }
  std::vector<Message> out;
  while (!impl_->pushed.empty()) {
    const wire::Delivery* d =
        wire::GetSizePrefixedFrame(impl_->pushed.front().data())->body_as_Delivery();
    if (d->messages() != nullptr) {
      for (const wire::Message* m : *d->messages()) {
        out.push_back(Message{Str(m->message_id()), m->lease_id(), m->attempt(),
                              m->lease_deadline_ms(), FromWire(m->reminder())});
      }
    }
    impl_->pushed.pop_front();
  }
  return out;
}

absl::StatusOr<std::vector<absl::Status>> BlockingClient::Ack(const std::vector<AckItem>& items) {
  FlatBufferBuilder b;
  std::vector<Offset<wire::AckItem>> is;
  for (const AckItem& i : items) {
    is.push_back(wire::CreateAckItem(b, i.lease_id, static_cast<wire::AckOutcome>(i.outcome),
                                     b.CreateString(i.detail)));
  }
  auto body = wire::CreateAck(b, b.CreateVector(is));
  auto reply = impl_->Call(b, wire::Body::Ack, body.Union(), wire::Body::AckReply);
  if (!reply.ok()) return reply.status();
  return Statuses((*reply)->body_as_AckReply()->results());
}

absl::StatusOr<ServerStats> BlockingClient::Stats(uint32_t max_tenants) {
  FlatBufferBuilder b;
  auto reply = impl_->Call(b, wire::Body::Stats, wire::CreateStats(b, max_tenants).Union(),
                           wire::Body::StatsReply);
  if (!reply.ok()) return reply.status();
  return DecodeStats(*(*reply)->body_as_StatsReply());
}

absl::StatusOr<CompactResult> BlockingClient::Compact() {
  FlatBufferBuilder b;
  auto reply = impl_->Call(b, wire::Body::Compact, wire::CreateCompact(b).Union(),
                           wire::Body::CompactReply);
  if (!reply.ok()) return reply.status();
  return DecodeCompact(*(*reply)->body_as_CompactReply());
}

absl::StatusOr<ReminderState> BlockingClient::Inspect(const Key& key) {
  FlatBufferBuilder b;
  auto k = wire::CreateReminderKey(b, key.tenant, b.CreateString(key.key));
  auto reply = impl_->Call(b, wire::Body::Inspect, wire::CreateInspect(b, k).Union(),
                           wire::Body::InspectReply);
  if (!reply.ok()) return reply.status();
  const wire::InspectReply* r = (*reply)->body_as_InspectReply();
  if (absl::Status st = protocol::FromWireStatus(r->status()); !st.ok()) return st;
  return ReminderState{FromWire(r->reminder()), r->version(), r->leased()};
}

absl::StatusOr<std::vector<DeadLetter>> BlockingClient::ListDeadLetters(uint32_t tenant,
                                                                       uint32_t limit) {
  FlatBufferBuilder b;
  auto reply = impl_->Call(b, wire::Body::DeadLetterList,
                           wire::CreateDeadLetterList(b, tenant, limit).Union(),
                           wire::Body::DeadLetterListReply);
  if (!reply.ok()) return reply.status();
  std::vector<DeadLetter> out;
  if (const auto* letters = (*reply)->body_as_DeadLetterListReply()->letters()) {
    for (const wire::DeadLetter* d : *letters) {
      out.push_back(DeadLetter{FromWire(d->reminder()), d->attempts(), Str(d->last_detail()),
                               d->dead_at_ms()});
    }
  }
  return out;
}

absl::StatusOr<std::vector<absl::Status>> BlockingClient::ReplayDeadLetters(
    const std::vector<Key>& keys) {
  FlatBufferBuilder b;
  std::vector<Offset<wire::ReminderKey>> ks;
  for (const Key& k : keys) ks.push_back(wire::CreateReminderKey(b, k.tenant, b.CreateString(k.key)));
  auto body = wire::CreateDeadLetterReplay(b, b.CreateVector(ks));
  auto reply = impl_->Call(b, wire::Body::DeadLetterReplay, body.Union(),
                           wire::Body::DeadLetterReplayReply);
  if (!reply.ok()) return reply.status();
  return Statuses((*reply)->body_as_DeadLetterReplayReply()->results());
}

absl::Status BlockingClient::Backup(const std::string& dir) {
  FlatBufferBuilder b;
  auto body = wire::CreateBackup(b, b.CreateString(dir));
  auto reply = impl_->Call(b, wire::Body::Backup, body.Union(), wire::Body::BackupReply);
  if (!reply.ok()) return reply.status();
  return protocol::FromWireStatus((*reply)->body_as_BackupReply()->status());
}

}  // namespace rappel::client
