#include "server/dispatch/rate_limited_lane.h"

#include <algorithm>
#include <tuple>
#include <utility>


namespace rappel::server {

absl::Status RateLimitedLane::Recover(const Store::Reader& reader, int64_t now_ms,
                                      Engine::StateWrites* stale) {
  return reader.ScanState(kRateLimitPrefix, [&](std::string_view k, std::string_view v) {
    if (!k.starts_with(kRateLimitPrefix)) return false;
    absl::StatusOr<RateLimit> limit = DecodeRateLimit(k, v);
    if (!limit.ok()) {
      stale->push_back(StateDelete(std::string(k)));
      return true;
    }
    gate_.Set(*limit, now_ms);
    return true;
  });
}

absl::Status RateLimitedLane::RecordsOf(std::vector<RateLimit>* limits,
                                        Engine::StateWrites* writes) {
  Engine::StateWrites out;
  for (RateLimit& limit : *limits) {
    if (absl::Status st = Validate(limit); !st.ok()) return st;
    limit = Normalized(limit);
    std::string key = RateLimitKey(limit.channel, limit.tenant);
    if (limit.count == 0) {
      out.push_back(StateDelete(std::move(key)));
    } else {
      out.push_back(StatePut(std::move(key), EncodeRateLimitValue(limit)));
    }
  }
  for (auto& op : out) writes->push_back(std::move(op));
  return absl::OkStatus();
}

void RateLimitedLane::SetLimit(const RateLimit& limit, int64_t now_ms,
                               TenantFifo<WaitingMessage>* fifo, KeyOf key_of) {
  gate_.Set(limit, now_ms);
  Channel c = limit.channel;
  int i = static_cast<int>(c);
  if (gate_.Gated(c)) {
    if (fifo->empty()) return;
    for (auto& [tenant, msg] : fifo->TakeAll()) Push(std::move(msg), now_ms, key_of);
    return;
  }
  wake_ms_[i].reset();
  if (queues_[i].empty()) return;
  for (WaitingMessage& msg : queues_[i].TakeAll()) {
    TenantId tenant = msg.ref.tenant;
    fifo->Push(tenant, std::move(msg));
  }
}

void RateLimitedLane::Push(WaitingMessage msg, int64_t now_ms, KeyOf key_of) {
  const DueRef& r = msg.ref;
  FairQueue<WaitingMessage>& q = queues_[static_cast<int>(r.channel)];
  size_t tenants = q.tenants() + (q.size(r.tenant) == 0 ? 1 : 0);
  int64_t deadline = gate_.DeadlineMs(r);
  int64_t expected = gate_.EstimateSendMs(r.channel, r.tenant, now_ms, q.size(r.tenant), tenants);
  bool late = expected > deadline;
  if (late)
    gate_.ReportLate(
        r, [&] { return key_of(msg); }, now_ms, expected);
  // Earliest deadline first: the expiry when there is one, else the due time.
  int64_t order_by = r.expiry_ms != 0 ? r.expiry_ms : r.due_ms;
  TenantId tenant = r.tenant;
  q.Push(tenant, order_by, late, std::move(msg));
}

std::optional<RateLimitedLane::Popped> RateLimitedLane::Pop(Channel c, int64_t now_ms,
                                                            KeyOf key_of) {
  FairQueue<WaitingMessage>& q = queues_[static_cast<int>(c)];
  if (q.empty()) return std::nullopt;
  // The channel's own bucket first: when it is empty no tenant may send,
  // and the fair queue need not visit them all to find that out.
  if (!gate_.ChannelHasToken(c, now_ms)) return std::nullopt;
  auto popped = q.PopIf([&](TenantId t) { return gate_.TryTake(c, t, now_ms); });
  if (!popped) return std::nullopt;
  return Taken(c, std::move(*popped), now_ms, key_of);
}

std::optional<RateLimitedLane::Popped> RateLimitedLane::PopOf(Channel c, TenantId tenant,
                                                              int64_t now_ms, KeyOf key_of) {
  FairQueue<WaitingMessage>& q = queues_[static_cast<int>(c)];
  if (q.size(tenant) == 0 || !gate_.ChannelHasToken(c, now_ms)) return std::nullopt;
  if (!gate_.TryTake(c, tenant, now_ms)) return std::nullopt;
  auto popped = q.PopOf(tenant);
  return Taken(c, std::move(*popped), now_ms, key_of);
}

RateLimitedLane::Popped RateLimitedLane::Taken(Channel c, FairQueue<WaitingMessage>::Popped popped,
                                               int64_t now_ms, KeyOf key_of) {
  Popped out{std::move(popped.item), popped.tenant, false, popped.mark};
  const DueRef& r = out.msg.ref;
  if (r.expiry_ms != 0 && now_ms > r.expiry_ms) {
    gate_.Refund(c, out.tenant);
    out.expired = true;
    return out;
  }
  if (!out.reported_late && now_ms > gate_.DeadlineMs(r)) ReportLate(out.msg, now_ms, key_of);
  return out;
}

void RateLimitedLane::ReportLate(const WaitingMessage& msg, int64_t now_ms, KeyOf key_of) {
  gate_.ReportLate(
      msg.ref, [&] { return key_of(msg); }, now_ms, now_ms);
}

bool RateLimitedLane::HoldBack(Channel c, int64_t now_ms, bool room_left,
                               const std::vector<TenantId>* only) {
  const FairQueue<WaitingMessage>& q = queues_[static_cast<int>(c)];
  auto& wake = wake_ms_[static_cast<int>(c)];
  if (q.empty()) {
    wake.reset();
    return false;
  }
  // A wake already set stays (another worker's pass may have set it); it
  // goes once due (ClearWakesDue), so a pass with no room left does not
  // set it again and the timer does not spin.
  if (!room_left) return false;
  // Held back by tokens: pump again when the first tenant may send. Only
  // the tenants the worker may take: the others' tokens would wake it for
  // nothing (and, with tokens to spare, at once, again and again).
  int64_t next = INT64_MAX;
  auto consider = [&](TenantId t) { next = std::min(next, gate_.NextTokenMs(c, t, now_ms)); };
  if (only != nullptr) {
    for (TenantId t : *only) consider(t);
  } else {
    q.ForEachTenant([&](TenantId t, size_t) { consider(t); });
  }
  if (next == INT64_MAX) return false;
  int64_t at = std::max(next, now_ms + 1);
  if (!wake || at < *wake) wake = at;
  return true;
}

bool RateLimitedLane::ClearWakesDue(int64_t now_ms) {
  bool any = false;
  for (auto& wake : wake_ms_) {
    if (wake && *wake <= now_ms) {
      wake.reset();
      any = true;
    }
  }
  return any;
}

std::optional<int64_t> RateLimitedLane::NextWakeMs() const {
  std::optional<int64_t> next;
  for (const auto& wake : wake_ms_) {
    if (wake && (!next || *wake < *next)) next = wake;
  }
  return next;
}

std::vector<RateRow> RateLimitedLane::Rows(int64_t now_ms) {
  std::vector<RateRow> rows = gate_.Rows(now_ms);
  auto find = [&](Channel c, std::optional<TenantId> t) -> RateRow& {
    for (RateRow& row : rows) {
      if (row.channel == c && row.tenant.has_value() == t.has_value() &&
          (!t || row.tenant->value == t->value)) {
        return row;
      }
    }
    RateRow row;
    row.channel = c;
    row.tenant = t;
    rows.push_back(row);
    return rows.back();
  };
  for (int i = 1; i <= kChannelCount; ++i) {
    Channel c = static_cast<Channel>(i);
    const FairQueue<WaitingMessage>& q = queues_[i];
    if (q.empty()) continue;
    find(c, std::nullopt).waiting = q.size();
    q.ForEachTenant([&](TenantId t, size_t n) { find(c, t).waiting = n; });
  }
  std::sort(rows.begin(), rows.end(), [](const RateRow& a, const RateRow& b) {
    auto rank = [](const RateRow& r) {
      return std::make_tuple(static_cast<int>(r.channel), r.tenant.has_value(),
                             r.tenant ? r.tenant->value : 0);
    };
    return rank(a) < rank(b);
  });
  // A channel's row counts the late and expired of all its tenants.
  for (RateRow& row : rows) {
    if (row.tenant) continue;
    for (const RateRow& t : rows) {
      if (t.tenant && t.channel == row.channel) {
        row.late += t.late;
        row.expired += t.expired;
      }
    }
  }
  return rows;
}

}  // namespace rappel::server
