#include "server/net/worker_requests.h"

#include "absl/strings/str_cat.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

// The Delivery push for one batch of leased messages.
FrameBytes DeliveryFrame(const std::vector<LeasedMessage>& batch) {
  // Sized for the batch up front: no regrowth while encoding.
  size_t bytes = 64;
  for (const auto& m : batch) {
    bytes += 96 + m.message_id.size() + m.reminder->key.size() + m.reminder->recipient.size() +
             m.reminder->payload.size();
  }
  FlatBufferBuilder b(bytes);
  std::vector<Offset<wire::Message>> out;
  out.reserve(batch.size());
  for (const auto& m : batch) {
    auto mid = b.CreateString(m.message_id);
    auto rem = ReminderToWire(b, *m.reminder);
    out.push_back(
        wire::CreateMessage(b, mid, m.lease_id, m.attempt, m.deadline_ms, rem, m.track_opens));
  }
  auto body = wire::CreateDelivery(b, b.CreateVector(out));
  return Finish(b, 0, wire::Body::Delivery, body.Union());
}

}  // namespace

bool WorkerRequests::Handles(wire::Body type) {
  return type == wire::Body::Subscribe || type == wire::Body::Ack;
}

void WorkerRequests::Handle(Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  switch (frame.body_type()) {
    case wire::Body::Subscribe:
      return Subscribe(conn, id, *frame.body_as_Subscribe(), std::move(reply));
    case wire::Body::Ack:
      return Ack(conn, id, *frame.body_as_Ack(), std::move(reply));
    default:
      reply(ErrorFrame(id, wire::ErrorCode::Internal, "not a worker request"), false);
  }
}

void WorkerRequests::Subscribe(Connection& conn, uint64_t id, const wire::Subscribe& req,
                               Reply reply) {
  absl::Status st;
  std::vector<Channel> channels;
  if (req.channels() != nullptr) {
    for (auto c : *req.channels()) {
      if (!IsValidChannel(static_cast<uint8_t>(c))) {
        st = absl::InvalidArgumentError(absl::StrCat("unknown channel ", static_cast<int>(c)));
        break;
      }
      channels.push_back(static_cast<Channel>(c));
    }
  }
  if (st.ok() && conn.worker_id != 0) {
    st = absl::FailedPreconditionError("this connection is already subscribed");
  }
  if (st.ok()) {
    auto push = conn.push;
    absl::StatusOr<uint64_t> worker = dispatcher_->AddWorker(
        WorkerOptions{std::move(channels), req.max_in_flight(), req.batch_size(), conn.tenants,
                      conn.unsent_bytes},
        [push](const std::vector<LeasedMessage>& batch) { push(DeliveryFrame(batch)); });
    if (worker.ok()) {
      conn.worker_id = *worker;
      conn.drained = [dispatcher = dispatcher_, id = *worker] { dispatcher->Drained(id); };
    } else {
      st = worker.status();
    }
  }
  FlatBufferBuilder b;
  auto body = wire::CreateSubscribeReply(b, protocol::ToWireStatus(b, st));
  reply(Finish(b, id, wire::Body::SubscribeReply, body.Union()), false);
}

void WorkerRequests::Ack(const Connection& conn, uint64_t id, const wire::Ack& req, Reply reply) {
  const auto* items = req.items();
  size_t n = items != nullptr ? items->size() : 0;
  std::vector<Dispatcher::AckRequest> requests;
  requests.reserve(n);
  std::vector<size_t> bad;  // items with an unknown outcome
  for (size_t i = 0; i < n; ++i) {
    const wire::AckItem* item = items->Get(static_cast<flatbuffers::uoffset_t>(i));
    auto outcome = static_cast<uint8_t>(item->outcome());
    if (outcome > static_cast<uint8_t>(AckOutcome::kFailedPermanent)) {
      bad.push_back(i);
      continue;
    }
    requests.push_back(Dispatcher::AckRequest{item->lease_id(), static_cast<AckOutcome>(outcome),
                                              Str(item->detail())});
  }
  dispatcher_->AckBatch(
      conn.worker_id, std::move(requests),
      [id, n, bad = std::move(bad), reply = std::move(reply)](std::vector<absl::Status> got) {
        // Put the refused items back in their places.
        std::vector<absl::Status> results(n);
        size_t next_bad = 0;
        size_t next_got = 0;
        for (size_t i = 0; i < n; ++i) {
          if (next_bad < bad.size() && bad[next_bad] == i) {
            results[i] = absl::InvalidArgumentError("unknown ack outcome");
            ++next_bad;
          } else {
            results[i] = std::move(got[next_got++]);
          }
        }
        FlatBufferBuilder b;
        auto body = wire::CreateAckReply(b, Statuses(b, results));
        reply(Finish(b, id, wire::Body::AckReply, body.Union()), false);
      });
}

void WorkerRequests::OnClose(Connection& conn) {
  if (conn.worker_id != 0) dispatcher_->RemoveWorker(conn.worker_id);
  conn.worker_id = 0;
  conn.drained = nullptr;
}

}  // namespace rappel::server
