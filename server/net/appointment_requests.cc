#include "server/net/appointment_requests.h"

#include "absl/strings/str_cat.h"
#include "server/net/tenant_access.h"
#include "server/plan/token.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

std::optional<plan::ObjectKind> KindFromWire(wire::ObjectKind k) {
  switch (k) {
    case wire::ObjectKind::Tenant: return plan::ObjectKind::kTenant;
    case wire::ObjectKind::Calendar: return plan::ObjectKind::kCalendar;
    case wire::ObjectKind::AppointmentType: return plan::ObjectKind::kType;
    case wire::ObjectKind::Patient: return plan::ObjectKind::kPatient;
    case wire::ObjectKind::Template: return plan::ObjectKind::kTemplate;
    default: return std::nullopt;
  }
}

// Checked before anything is copied: FlatBuffers lets many items share one
// string, so a small frame could otherwise name gigabytes.
absl::Status CheckSizes(const wire::Appointment& w) {
  if (Size(w.id()) > 128 || Size(w.calendar()) > 128 || Size(w.type()) > 128 ||
      Size(w.patient()) > 128) {
    return absl::InvalidArgumentError("an id is at most 128 bytes");
  }
  if (Size(w.location()) > 1024 || Size(w.notes()) > 4096) {
    return absl::InvalidArgumentError("location or notes too long (1 KiB, 4 KiB)");
  }
  return absl::OkStatus();
}

plan::Appointment FromWire(const wire::Appointment& w) {
  plan::Appointment a;
  a.tenant = w.tenant();
  a.id = Str(w.id());
  a.calendar = Str(w.calendar());
  a.type = Str(w.type());
  a.patient = Str(w.patient());
  a.start_ms = w.start_ms();
  a.end_ms = w.end_ms();
  a.location = Str(w.location());
  a.notes = Str(w.notes());
  a.booked_online = w.booked_online();
  a.booked_at_ms = w.booked_at_ms();
  a.channels = static_cast<plan::ChannelMask>(w.channels() & plan::kAllChannels);
  a.version = w.version();
  return a;
}

Offset<flatbuffers::Vector<Offset<wire::AppointmentResult>>> Results(
    FlatBufferBuilder& b, const std::vector<absl::StatusOr<plan::AppointmentResult>>& results) {
  std::vector<Offset<wire::AppointmentResult>> out;
  out.reserve(results.size());
  for (const auto& r : results) {
    auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
    if (r.ok()) {
      out.push_back(wire::CreateAppointmentResult(b, st, static_cast<wire::UpsertOutcome>(r->outcome),
                                                  r->revision, r->planned));
    } else {
      out.push_back(wire::CreateAppointmentResult(b, st));
    }
  }
  return b.CreateVector(out);
}

// The one tenant a non-batched request is for; nullopt for the batched
// ones (checked per item) and a TokenRedeem whose token is malformed (the
// book refuses it, changing nothing).
std::optional<uint32_t> SingleTenant(const wire::Frame& frame) {
  switch (frame.body_type()) {
    case wire::Body::ObjectPut: return frame.body_as_ObjectPut()->tenant();
    case wire::Body::ObjectGet: return frame.body_as_ObjectGet()->tenant();
    case wire::Body::CalendarAbsence: return frame.body_as_CalendarAbsence()->tenant();
    case wire::Body::DelayAlert: return frame.body_as_DelayAlert()->tenant();
    case wire::Body::PatientReply: return frame.body_as_PatientReply()->tenant();
    case wire::Body::Credits: return frame.body_as_Credits()->tenant();
    case wire::Body::AppointmentShow: {
      const auto* req = frame.body_as_AppointmentShow();
      return req->hypothetical() != nullptr ? req->hypothetical()->tenant() : req->tenant();
    }
    case wire::Body::TokenRedeem: {
      const auto* token = frame.body_as_TokenRedeem()->token();
      // The tenant is read from the payload without verifying it: the
      // check must come before the book verifies and applies the token.
      auto tenant = plan::TokenTenant(token != nullptr ? token->string_view() : std::string_view());
      if (!tenant.ok()) return std::nullopt;
      return *tenant;
    }
    default: return std::nullopt;
  }
}

// "confirmation, change, ...": the kinds a SendNow may name, for its error.
std::string KnownKinds() {
  std::string out;
  for (int k = 1; k <= plan::kMessageKindCount; ++k) {
    absl::StrAppend(&out, out.empty() ? "" : ", ",
                    std::string(plan::KindName(static_cast<plan::MessageKind>(k))));
  }
  return out;
}

// Bounds on what one request may ask the book to do (each item is
// validated, planned and written in one commit).
constexpr size_t kMaxItems = 10'000;

}  // namespace

bool AppointmentRequests::Handles(wire::Body type) {
  switch (type) {
    case wire::Body::ObjectPut:
    case wire::Body::ObjectGet:
    case wire::Body::AppointmentUpsert:
    case wire::Body::AppointmentCommands:
    case wire::Body::CalendarAbsence:
    case wire::Body::DelayAlert:
    case wire::Body::PatientReply:
    case wire::Body::TokenRedeem:
    case wire::Body::AppointmentShow:
    case wire::Body::Credits:
      return true;
    default:
      return false;
  }
}

bool AppointmentRequests::AllowedForProducer(wire::Body type) {
  return Handles(type) && type != wire::Body::AppointmentShow && type != wire::Body::Credits;
}

void AppointmentRequests::Handle(const Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  if (std::optional<uint32_t> tenant = SingleTenant(frame)) {
    if (absl::Status st = CheckTenant(conn, frame.body_type(), TenantId{*tenant}); !st.ok()) {
      reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied, std::string(st.message())), false);
      return;
    }
  }
  switch (frame.body_type()) {
    case wire::Body::ObjectPut: {
      const auto* req = frame.body_as_ObjectPut();
      // (a frame's strings are at most the frame: no sharing to amplify here)
      auto done = [id, reply = std::move(reply)](absl::StatusOr<std::string> r) {
        FlatBufferBuilder b;
        auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
        auto json = r.ok() ? b.CreateString(*r) : 0;
        reply(Finish(b, id, wire::Body::ObjectReply, wire::CreateObjectReply(b, st, json).Union()),
              false);
      };
      auto kind = KindFromWire(req->kind());
      if (!kind) return done(absl::InvalidArgumentError("unknown object kind"));
      book_->PutObject(*kind, req->tenant(), Str(req->id()),
                       req->json() != nullptr ? req->json()->string_view() : std::string_view(),
                       std::move(done));
      return;
    }
    case wire::Body::ObjectGet: {
      const auto* req = frame.body_as_ObjectGet();
      auto kind = KindFromWire(req->kind());
      absl::StatusOr<std::string> r = kind ? book_->GetObject(*kind, req->tenant(), Str(req->id()))
                                           : absl::InvalidArgumentError("unknown object kind");
      FlatBufferBuilder b;
      auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
      auto json = r.ok() ? b.CreateString(*r) : 0;
      reply(Finish(b, id, wire::Body::ObjectReply, wire::CreateObjectReply(b, st, json).Union()),
            false);
      return;
    }
    case wire::Body::AppointmentUpsert: {
      const auto* items = frame.body_as_AppointmentUpsert()->items();
      std::vector<plan::Appointment> appts;
      Refused bad;  // refused before the book
      if (items != nullptr) {
        if (items->size() > kMaxItems) {
          reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument,
                           absl::StrCat("at most ", kMaxItems, " appointments per request")),
                false);
          return;
        }
        appts.reserve(items->size());
        for (size_t i = 0; i < items->size(); ++i) {
          const wire::Appointment* a = items->Get(static_cast<flatbuffers::uoffset_t>(i));
          if (absl::Status st = CheckSizes(*a); !st.ok()) {
            bad.emplace_back(i, st);
            continue;
          }
          if (absl::Status st =
                  CheckTenant(conn, wire::Body::AppointmentUpsert, TenantId{a->tenant()});
              !st.ok()) {
            bad.emplace_back(i, std::move(st));
            continue;
          }
          appts.push_back(FromWire(*a));
        }
      }
      book_->Upsert(std::move(appts), [id, bad = std::move(bad),
                                       reply = std::move(reply)](auto results) {
        results = PutBack(bad, std::move(results));
        FlatBufferBuilder b;
        auto body = wire::CreateAppointmentUpsertReply(b, Results(b, results));
        reply(Finish(b, id, wire::Body::AppointmentUpsertReply, body.Union()), false);
      });
      return;
    }
    case wire::Body::AppointmentCommands: {
      const auto* items = frame.body_as_AppointmentCommands()->items();
      std::vector<plan::AppointmentCommand> commands;
      Refused bad;  // refused before the book
      if (items != nullptr) {
        if (items->size() > kMaxItems) {
          reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument,
                           absl::StrCat("at most ", kMaxItems, " commands per request")),
                false);
          return;
        }
        for (size_t i = 0; i < items->size(); ++i) {
          const wire::AppointmentCommand* c = items->Get(static_cast<flatbuffers::uoffset_t>(i));
          auto action = static_cast<uint8_t>(c->action());
          auto status = static_cast<uint8_t>(c->status());
          if (action > static_cast<uint8_t>(plan::AppointmentAction::kSendNow) ||
              status > static_cast<uint8_t>(plan::VisitStatus::kExcused) || Size(c->id()) > 128) {
            bad.emplace_back(i, absl::InvalidArgumentError(
                                    "unknown action or status, or an id over 128 bytes"));
            continue;
          }
          // SendNow names its kind; the other actions ignore the field.
          plan::MessageKind kind = plan::MessageKind::kReminder;
          if (static_cast<plan::AppointmentAction>(action) == plan::AppointmentAction::kSendNow) {
            // (A long name is no kind: not copied, not echoed.)
            std::string name = Size(c->kind()) <= 64 ? Str(c->kind()) : std::string();
            auto parsed = plan::ParseKind(name);
            if (!parsed) {
              bad.emplace_back(i, absl::InvalidArgumentError(absl::StrCat(
                                      "SendNow: unknown message kind \"", name,
                                      "\" (", KnownKinds(), ")")));
              continue;
            }
            kind = *parsed;
          }
          if (absl::Status st =
                  CheckTenant(conn, wire::Body::AppointmentCommands, TenantId{c->tenant()});
              !st.ok()) {
            bad.emplace_back(i, std::move(st));
            continue;
          }
          commands.push_back(plan::AppointmentCommand{c->tenant(), Str(c->id()),
                                                      static_cast<plan::AppointmentAction>(action),
                                                      static_cast<plan::VisitStatus>(status),
                                                      c->version(), kind});
        }
      }
      book_->Commands(std::move(commands), [id, bad = std::move(bad),
                                            reply = std::move(reply)](auto results) {
        results = PutBack(bad, std::move(results));
        FlatBufferBuilder b;
        auto body = wire::CreateAppointmentCommandsReply(b, Results(b, results));
        reply(Finish(b, id, wire::Body::AppointmentCommandsReply, body.Union()), false);
      });
      return;
    }
    case wire::Body::CalendarAbsence:
    case wire::Body::DelayAlert: {
      auto done = [id, reply = std::move(reply)](absl::StatusOr<uint32_t> r) {
        FlatBufferBuilder b;
        auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
        auto body = wire::CreateCalendarReply(b, st, r.ok() ? *r : 0);
        reply(Finish(b, id, wire::Body::CalendarReply, body.Union()), false);
      };
      if (frame.body_type() == wire::Body::CalendarAbsence) {
        const auto* req = frame.body_as_CalendarAbsence();
        book_->Absence(req->tenant(), Str(req->calendar()), req->from_ms(), req->to_ms(),
                       std::move(done));
      } else {
        const auto* req = frame.body_as_DelayAlert();
        book_->DelayAlert(req->tenant(), Str(req->calendar()), req->delay_ms(), std::move(done));
      }
      return;
    }
    case wire::Body::PatientReply: {
      const auto* req = frame.body_as_PatientReply();
      auto done = [id, reply = std::move(reply)](absl::StatusOr<plan::AppointmentResult> r) {
        FlatBufferBuilder b;
        std::vector<absl::StatusOr<plan::AppointmentResult>> results{std::move(r)};
        auto body = wire::CreateAppointmentCommandsReply(b, Results(b, results));
        reply(Finish(b, id, wire::Body::AppointmentCommandsReply, body.Union()), false);
      };
      auto kind = static_cast<uint8_t>(req->reply());
      if (kind > static_cast<uint8_t>(plan::PatientReplyKind::kStart)) {
        return done(absl::InvalidArgumentError("unknown reply kind"));
      }
      book_->PatientReply(req->tenant(), Str(req->patient()), Str(req->appointment()),
                          static_cast<plan::PatientReplyKind>(kind), std::move(done));
      return;
    }
    case wire::Body::Credits: {
      const auto* req = frame.body_as_Credits();
      auto done = [id, reply = std::move(reply)](absl::StatusOr<std::string> r) {
        FlatBufferBuilder b;
        auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
        auto json = r.ok() ? b.CreateString(*r) : 0;
        reply(Finish(b, id, wire::Body::ObjectReply, wire::CreateObjectReply(b, st, json).Union()),
              false);
      };
      if (req->add() == 0) return done(book_->CreditsJson(req->tenant()));
      book_->AddCredits(req->tenant(), req->add(), std::move(done));
      return;
    }
    case wire::Body::TokenRedeem: {
      const auto* req = frame.body_as_TokenRedeem();
      book_->Redeem(req->token() != nullptr ? req->token()->string_view() : std::string_view(),
                    [id, reply = std::move(reply)](absl::StatusOr<plan::Redeemed> r) {
                      FlatBufferBuilder b;
                      auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
                      Offset<wire::TokenRedeemReply> body;
                      if (r.ok()) {
                        auto appt = b.CreateString(r->appointment);
                        auto action = b.CreateString(r->action);
                        body = wire::CreateTokenRedeemReply(b, st, r->tenant, appt, action);
                      } else {
                        body = wire::CreateTokenRedeemReply(b, st);
                      }
                      reply(Finish(b, id, wire::Body::TokenRedeemReply, body.Union()), false);
                    });
      return;
    }
    case wire::Body::AppointmentShow: {
      const auto* req = frame.body_as_AppointmentShow();
      absl::StatusOr<std::string> r = req->hypothetical() != nullptr
                                          ? book_->DryRun(FromWire(*req->hypothetical()))
                                          : book_->Show(req->tenant(), Str(req->id()));
      FlatBufferBuilder b;
      auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
      auto json = r.ok() ? b.CreateString(*r) : 0;
      auto body = wire::CreateAppointmentShowReply(b, st, json);
      reply(Finish(b, id, wire::Body::AppointmentShowReply, body.Union()), false);
      return;
    }
    default:
      break;
  }
  reply(ErrorFrame(id, wire::ErrorCode::Internal, "not an appointment request"), false);
}

}  // namespace rappel::server
