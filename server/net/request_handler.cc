#include "server/net/request_handler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/net/greeting.h"
#include "server/net/tenant_access.h"
#include "server/net/text_fields.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;

RequestHandler::RequestHandler(HandlerOptions options, Engine* engine, Dispatcher* dispatcher,
                               plan::AppointmentBook* book)
    : options_(std::move(options)),
      reminders_(engine, dispatcher, options_.frame_limits.max_frame_bytes),
      workers_(dispatcher),
      rates_(dispatcher),
      admin_(engine, dispatcher, options_.frame_limits.max_frame_bytes, options_.post,
             options_.before_backup, options_.replication) {
  if (book != nullptr) appointments_.emplace(book);
  if (book != nullptr) messages_.emplace(book);
}

// admin_'s destructor waits for the backup thread.
RequestHandler::~RequestHandler() = default;

void RequestHandler::JoinBackup() { admin_.JoinBackup(); }

FrameBytes RequestHandler::ErrorFrame(uint64_t request_id, wire::ErrorCode code,
                                      const std::string& message) {
  return server::ErrorFrame(request_id, code, message);
}

bool RequestHandler::Allowed(const Connection& conn, wire::Body body) const {
  if (conn.role == wire::Role::Admin) return true;
  if (body == wire::Body::Ping) return true;
  if (ReminderRequests::Handles(body)) return conn.role == wire::Role::Producer;
  if (WorkerRequests::Handles(body)) return conn.role == wire::Role::Worker;
  if (MessageRequests::Handles(body)) return MessageRequests::Allowed(conn.role, body);
  if (AppointmentRequests::Handles(body)) {
    return conn.role == wire::Role::Producer && AppointmentRequests::AllowedForProducer(body);
  }
  return false;  // admin and rate requests: admin only
}

void RequestHandler::Hello(Connection& conn, uint64_t id, const wire::Hello& hello, Reply reply) {
  HelloFacts facts{options_.server_name, options_.frame_limits.max_frame_bytes,
                   static_cast<uint32_t>(options_.max_payload_bytes), options_.shard_role, ""};
  AnswerHello(options_.tokens, facts, conn, id, hello, std::move(reply));
}

bool RequestHandler::RefuseInvalidText(const wire::Frame& frame, Reply& reply, bool close) {
  std::optional<TextFields::Invalid> bad = TextFields::Wire().FirstInvalid(frame);
  if (!bad) return false;
  reply(ErrorFrame(frame.request_id(), wire::ErrorCode::InvalidArgument,
                   absl::StrCat(bad->path, " is not valid UTF-8 (byte ", bad->byte, ")")),
        close);
  return true;
}

void RequestHandler::Handle(Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  wire::Body type = frame.body_type();
  if (type == wire::Body::Hello) {
    if (conn.greeted) {
      reply(ErrorFrame(id, wire::ErrorCode::FailedPrecondition, "Hello was already sent"), false);
      return;
    }
    if (RefuseInvalidText(frame, reply, /*close=*/true)) return;
    Hello(conn, id, *frame.body_as_Hello(), std::move(reply));
    return;
  }
  if (!conn.greeted) {
    reply(ErrorFrame(id, wire::ErrorCode::Unauthenticated, "the first frame must be Hello"), true);
    return;
  }
  if (wire::EnumNameBody(type)[0] == '\0' || type > wire::Body::MAX) {
    reply(ErrorFrame(id, wire::ErrorCode::UnknownRequest,
                     absl::StrCat("unknown request type ", static_cast<int>(type))),
          false);
    return;
  }
  if (!Allowed(conn, type)) {
    LogRefusal(absl::StrCat("refused ", wire::EnumNameBody(type), " from ", conn.peer, ": token '",
                            conn.token_name, "' has role ", wire::EnumNameRole(conn.role)));
    reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied,
                     absl::StrCat(wire::EnumNameBody(type), " is not allowed for role ",
                                  wire::EnumNameRole(conn.role))),
          false);
    return;
  }
  if (RefuseInvalidText(frame, reply, /*close=*/false)) return;
  if (type == wire::Body::Ping) {
    FlatBufferBuilder b;
    reply(Finish(b, id, wire::Body::Pong, wire::CreatePong(b).Union()), false);
    return;
  }
  if (ReminderRequests::Handles(type)) return reminders_.Handle(conn, frame, std::move(reply));
  if (WorkerRequests::Handles(type)) return workers_.Handle(conn, frame, std::move(reply));
  if (AdminRequests::Handles(type)) return admin_.Handle(conn, frame, std::move(reply));
  // Without a book the appointment requests fall through to "not a request".
  if (AppointmentRequests::Handles(type) && appointments_) {
    return appointments_->Handle(conn, frame, std::move(reply));
  }
  if (RateRequests::Handles(type)) return rates_.Handle(conn, frame, std::move(reply));
  if (MessageRequests::Handles(type) && messages_) {
    return messages_->Handle(conn, frame, std::move(reply));
  }
  // A reply or push type sent as a request (admins get this far).
  reply(ErrorFrame(id, wire::ErrorCode::UnknownRequest,
                   absl::StrCat(wire::EnumNameBody(type), " is not a request")),
        false);
}

bool RequestHandler::StillGranted(const Connection& conn) const {
  return TokensStillGrant(options_.tokens, conn);
}

void RequestHandler::OnClose(Connection& conn) { workers_.OnClose(conn); }

}  // namespace rappel::server
