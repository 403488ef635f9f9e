#include "server/net/message_requests.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "server/net/tenant_access.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

constexpr size_t kMaxItems = 10'000;
constexpr size_t kMaxIdBytes = 512;  // "<tenant>:@a/<appointment id>/<kind>/<channel>/<n>"

// "<tenant>:<key>" (Message.message_id).
bool SplitMessageId(std::string_view id, uint32_t* tenant, std::string_view* key) {
  size_t colon = id.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  auto [end, ec] = std::from_chars(id.data(), id.data() + colon, *tenant);
  if (ec != std::errc() || end != id.data() + colon) return false;
  *key = id.substr(colon + 1);
  return !key->empty();
}

void ReplyJson(uint64_t id, const absl::StatusOr<std::string>& r, const ReplyFn& reply) {
  FlatBufferBuilder b;
  auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
  auto json = r.ok() ? b.CreateString(*r) : 0;
  reply(Finish(b, id, wire::Body::ObjectReply, wire::CreateObjectReply(b, st, json).Union()), false);
}

}  // namespace

bool MessageRequests::Handles(wire::Body type) {
  return type == wire::Body::OutcomeReport || type == wire::Body::MessageSummary ||
         type == wire::Body::MessageList;
}

bool MessageRequests::Allowed(wire::Role role, wire::Body type) {
  if (role == wire::Role::Admin || role == wire::Role::Producer) return Handles(type);
  return role == wire::Role::Worker && type == wire::Body::OutcomeReport;
}

void MessageRequests::Handle(const Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  auto check = [&](uint32_t tenant) {
    if (absl::Status st = CheckTenant(conn, frame.body_type(), TenantId{tenant}); !st.ok()) {
      reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied, std::string(st.message())), false);
      return false;
    }
    return true;
  };
  switch (frame.body_type()) {
    case wire::Body::OutcomeReport: {
      const auto* items = frame.body_as_OutcomeReport()->items();
      std::vector<plan::OutcomeReport> reports;
      Refused bad;  // refused before the book
      if (items != nullptr) {
        if (items->size() > kMaxItems) {
          reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument,
                           absl::StrCat("at most ", kMaxItems, " outcomes per request")),
                false);
          return;
        }
        reports.reserve(items->size());
        for (size_t i = 0; i < items->size(); ++i) {
          const wire::OutcomeItem* item = items->Get(static_cast<flatbuffers::uoffset_t>(i));
          uint32_t tenant = 0;
          std::string_view key;
          auto outcome = static_cast<uint8_t>(item->outcome());
          if (Size(item->message_id()) > kMaxIdBytes || Size(item->detail()) > 1024 ||
              !SplitMessageId(item->message_id() != nullptr ? item->message_id()->string_view()
                                                            : std::string_view(),
                              &tenant, &key) ||
              outcome > static_cast<uint8_t>(plan::LateOutcome::kFailed)) {
            bad.emplace_back(i, absl::InvalidArgumentError(
                                    "a message id is \"<tenant>:<key>\" (Message.message_id), "
                                    "a detail at most 1 KiB, an outcome one of LateOutcome"));
            continue;
          }
          if (absl::Status st = CheckTenant(conn, wire::Body::OutcomeReport, TenantId{tenant});
              !st.ok()) {
            bad.emplace_back(i, std::move(st));
            continue;
          }
          reports.push_back(plan::OutcomeReport{tenant, std::string(key),
                                                static_cast<plan::LateOutcome>(outcome),
                                                Str(item->detail())});
        }
      }
      book_->ReportOutcomes(std::move(reports), [id, bad = std::move(bad),
                                                 reply = std::move(reply)](auto results) {
        results = PutBack(bad, std::move(results));
        FlatBufferBuilder b;
        std::vector<Offset<wire::OutcomeResult>> out;
        out.reserve(results.size());
        for (const auto& r : results) {
          auto st = protocol::ToWireStatus(b, r.ok() ? absl::OkStatus() : r.status());
          out.push_back(wire::CreateOutcomeResult(b, st, r.ok() && *r));
        }
        auto body = wire::CreateOutcomeReportReply(b, b.CreateVector(out));
        reply(Finish(b, id, wire::Body::OutcomeReportReply, body.Union()), false);
      });
      return;
    }
    case wire::Body::MessageSummary: {
      const auto* req = frame.body_as_MessageSummary();
      if (!check(req->tenant())) return;
      plan::SummaryQuery q{req->tenant(), Str(req->from_day()), Str(req->to_day())};
      return ReplyJson(id, book_->MessageSummaryJson(q), reply);
    }
    case wire::Body::MessageList: {
      const auto* req = frame.body_as_MessageList();
      if (!check(req->tenant())) return;
      plan::MessageListQuery q;
      q.tenant = req->tenant();
      q.day = Str(req->day());
      q.patient = Str(req->patient());
      q.appointment = Str(req->appointment());
      if (req->channel() != wire::Channel::Unknown) {
        auto c = static_cast<uint8_t>(req->channel());
        if (!IsValidChannel(c)) {
          return ReplyJson(id, absl::InvalidArgumentError("unknown channel"), reply);
        }
        q.channel = std::string(ChannelName(static_cast<Channel>(c)));
      }
      q.kind = Str(req->kind());
      q.status = Str(req->status());
      q.limit = req->limit();
      q.cursor = Str(req->cursor());
      return ReplyJson(id, book_->MessageListJson(q), reply);
    }
    default:
      break;
  }
  reply(ErrorFrame(id, wire::ErrorCode::Internal, "not a message request"), false);
}

}  // namespace rappel::server
