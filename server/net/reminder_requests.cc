#include "server/net/reminder_requests.h"

#include <string_view>

#include "server/net/tenant_access.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

// Keys starting with "@" belong to the appointment book (plan::MessageKey):
// clients cannot schedule, cancel or move them directly.
bool Reserved(std::string_view key) { return !key.empty() && key[0] == '@'; }
absl::Status ReservedKeyError() {
  return absl::InvalidArgumentError(
      "keys starting with \"@\" are reserved for appointment messages");
}

}  // namespace

bool ReminderRequests::Handles(wire::Body type) {
  return type == wire::Body::Schedule || type == wire::Body::Cancel ||
         type == wire::Body::Reschedule;
}

void ReminderRequests::Handle(const Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  switch (frame.body_type()) {
    case wire::Body::Schedule:
      return Schedule(conn, id, *frame.body_as_Schedule(), std::move(reply));
    case wire::Body::Cancel:
      return Cancel(conn, id, *frame.body_as_Cancel(), std::move(reply));
    case wire::Body::Reschedule:
      return Reschedule(conn, id, *frame.body_as_Reschedule(), std::move(reply));
    default:
      reply(ErrorFrame(id, wire::ErrorCode::Internal, "not a reminder request"), false);
  }
}

void ReminderRequests::Schedule(const Connection& conn, uint64_t id, const wire::Schedule& req,
                                Reply reply) {
  std::vector<ReminderSpec> specs;
  const auto* reminders = req.reminders();
  if (absl::Status st = CheckCopyBudget(CopiedBytes(reminders), max_frame_bytes_); !st.ok()) {
    return reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument, std::string(st.message())),
                 false);
  }
  Refused refused;  // put back in place below
  if (const auto* list = reminders) {
    specs.reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) {
      const wire::Reminder* r = list->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (r->key() != nullptr && Reserved(r->key()->string_view())) {
        refused.emplace_back(i, ReservedKeyError());
        continue;
      }
      if (absl::Status st = CheckTenant(conn, wire::Body::Schedule, TenantId{r->tenant()});
          !st.ok()) {
        refused.emplace_back(i, std::move(st));
        continue;
      }
      specs.push_back(ReminderFromWire(*r));
    }
  }
  engine_->Schedule(std::move(specs), [id, refused = std::move(refused),
                                       reply = std::move(reply)](auto results) {
    results = PutBack(refused, std::move(results));
    FlatBufferBuilder b;
    std::vector<Offset<wire::ScheduleResult>> out;
    out.reserve(results.size());
    for (const auto& r : results) {
      auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
      auto outcome =
          r.ok() ? static_cast<wire::ScheduleOutcome>(*r) : wire::ScheduleOutcome::Created;
      out.push_back(wire::CreateScheduleResult(b, st, outcome));
    }
    auto body = wire::CreateScheduleReply(b, b.CreateVector(out));
    reply(Finish(b, id, wire::Body::ScheduleReply, body.Union()), false);
  });
}

void ReminderRequests::Cancel(const Connection& conn, uint64_t id, const wire::Cancel& req,
                              Reply reply) {
  const auto* cancel_keys = req.keys();
  if (absl::Status st = CheckCopyBudget(CopiedBytes(cancel_keys), max_frame_bytes_); !st.ok()) {
    return reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument, std::string(st.message())),
                 false);
  }
  std::vector<ReminderKey> keys;
  Refused refused;
  for (ReminderKey& k : KeysFromWire(cancel_keys)) {
    size_t i = keys.size() + refused.size();
    if (Reserved(k.key)) {
      refused.emplace_back(i, ReservedKeyError());
      continue;
    }
    if (absl::Status st = CheckTenant(conn, wire::Body::Cancel, k.tenant); !st.ok()) {
      refused.emplace_back(i, std::move(st));
      continue;
    }
    keys.push_back(std::move(k));
  }
  // Through the dispatcher: the keys' attempt counts go in the same commit.
  dispatcher_->Cancel(std::move(keys), [id, refused = std::move(refused),
                                        reply = std::move(reply)](auto results) {
    results = PutBack(refused, std::move(results));
    FlatBufferBuilder b;
    auto body = wire::CreateCancelReply(b, Statuses(b, results));
    reply(Finish(b, id, wire::Body::CancelReply, body.Union()), false);
  });
}

void ReminderRequests::Reschedule(const Connection& conn, uint64_t id, const wire::Reschedule& req,
                                  Reply reply) {
  ReminderKey key = KeyFromWire(req.key());
  if (absl::Status st = CheckTenant(conn, wire::Body::Reschedule, key.tenant); !st.ok()) {
    return reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied, std::string(st.message())),
                 false);
  }
  if (req.key() != nullptr && req.key()->key() != nullptr &&
      Reserved(req.key()->key()->string_view())) {
    FlatBufferBuilder b;
    auto body = wire::CreateRescheduleReply(b, protocol::ToWireStatus(b, ReservedKeyError()));
    reply(Finish(b, id, wire::Body::RescheduleReply, body.Union()), false);
    return;
  }
  engine_->Reschedule(std::move(key), req.due_ms(),
                      [id, reply = std::move(reply)](absl::Status st) {
                        FlatBufferBuilder b;
                        auto body = wire::CreateRescheduleReply(b, protocol::ToWireStatus(b, st));
                        reply(Finish(b, id, wire::Body::RescheduleReply, body.Union()), false);
                      });
}

}  // namespace rappel::server
