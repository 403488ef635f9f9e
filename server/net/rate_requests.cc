#include "server/net/rate_requests.h"

#include "absl/strings/str_cat.h"
#include "server/net/tenant_access.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

// At most this many limits in one RateLimitSet (one commit of small
// records; a platform with more tenants sends several).
constexpr size_t kMaxLimitsPerRequest = 10'000;
constexpr uint32_t kDefaultMaxRows = 1000;

RateLimit FromWire(const wire::RateLimit& w) {
  RateLimit l;
  // An unknown channel stays unknown: Validate refuses it.
  l.channel = static_cast<Channel>(w.channel());
  if (!w.all_tenants()) l.tenant = TenantId{w.tenant()};
  l.count = w.count();
  l.period_ms = w.period_ms();
  l.burst = w.burst();
  return l;
}

Offset<wire::RateLimit> ToWire(FlatBufferBuilder& b, Channel c, std::optional<TenantId> tenant,
                               const std::optional<RateLimit>& limit) {
  RateLimit l = limit ? Normalized(*limit) : RateLimit{c, tenant, 0, 1000, 0};
  return wire::CreateRateLimit(b, static_cast<wire::Channel>(c), tenant ? tenant->value : 0,
                               !tenant.has_value(), l.count, l.period_ms, l.burst);
}

}  // namespace

bool RateRequests::Handles(wire::Body type) {
  return type == wire::Body::RateLimitSet || type == wire::Body::RateList;
}

void RateRequests::Handle(const Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  if (frame.body_type() == wire::Body::RateLimitSet) {
    auto answer = [id](const Reply& reply, const absl::Status& st) {
      FlatBufferBuilder b;
      auto body = wire::CreateRateLimitSetReply(b, protocol::ToWireStatus(b, st));
      reply(Finish(b, id, wire::Body::RateLimitSetReply, body.Union()), false);
    };
    const auto* list = frame.body_as_RateLimitSet()->limits();
    std::vector<RateLimit> limits;
    if (list != nullptr) {
      if (list->size() > kMaxLimitsPerRequest) {
        answer(reply, absl::InvalidArgumentError(absl::StrCat(
                          "at most ", kMaxLimitsPerRequest, " limits per request")));
        return;
      }
      for (const wire::RateLimit* l : *list) {
        absl::Status st = l->all_tenants()
                              ? CheckAllTenants(conn, wire::Body::RateLimitSet)
                              : CheckTenant(conn, wire::Body::RateLimitSet, TenantId{l->tenant()});
        if (!st.ok()) {
          reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied, std::string(st.message())),
                false);
          return;
        }
        limits.push_back(FromWire(*l));
      }
    }
    dispatcher_->SetRateLimits(std::move(limits),
                               [answer, reply = std::move(reply)](absl::Status st) {
                                 answer(reply, st);
                               });
    return;
  }
  // RateList
  uint32_t max_rows = frame.body_as_RateList()->max_rows();
  if (max_rows == 0) max_rows = kDefaultMaxRows;
  std::vector<RateRow> rows = dispatcher_->RateRows();
  if (conn.tenants) {
    // A channel's own row sums every tenant's: only the token's tenants.
    std::erase_if(rows, [&](const RateRow& r) { return !r.tenant || !conn.MayActFor(*r.tenant); });
  }
  bool truncated = rows.size() > max_rows;
  if (truncated) rows.resize(max_rows);
  FlatBufferBuilder b;
  std::vector<Offset<wire::RateRow>> out;
  out.reserve(rows.size());
  for (const RateRow& r : rows) {
    auto limit = ToWire(b, r.channel, r.tenant, r.limit);
    out.push_back(wire::CreateRateRow(b, limit, r.tokens, r.waiting, r.late, r.expired));
  }
  auto body = wire::CreateRateListReply(b, b.CreateVector(out), truncated);
  reply(Finish(b, id, wire::Body::RateListReply, body.Union()), false);
}

}  // namespace rappel::server
