#include "server/dispatch/rate_gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace rappel::server {

RateGate::RateGate(RateGateOptions options) : options_(std::move(options)) {}

void RateGate::Set(const RateLimit& given, int64_t now_ms) {
  RateLimit limit = Normalized(given);
  int c = static_cast<int>(limit.channel);
  if (!limit.tenant) {
    if (limit.count == 0) {
      channel_[c].reset();
    } else if (channel_[c]) {
      channel_[c]->limit = limit;
      channel_[c]->bucket.Reset(limit.count, limit.period_ms, limit.burst, now_ms);
    } else {
      channel_[c] = Limited{limit, TokenBucket(limit.count, limit.period_ms, limit.burst, now_ms)};
    }
  } else {
    uint64_t key = Key(limit.channel, *limit.tenant);
    auto it = tenant_.find(key);
    if (limit.count == 0) {
      if (it != tenant_.end()) {
        tenant_.erase(it);
        --tenant_limits_[c];
      }
    } else if (it != tenant_.end()) {
      it->second.limit = limit;
      it->second.bucket.Reset(limit.count, limit.period_ms, limit.burst, now_ms);
    } else {
      tenant_.emplace(key, Limited{limit, TokenBucket(limit.count, limit.period_ms, limit.burst, now_ms)});
      ++tenant_limits_[c];
    }
  }
  Recount(limit.channel);
}

void RateGate::Recount(Channel ch) {
  int c = static_cast<int>(ch);
  gated_[c] = channel_[c].has_value() || tenant_limits_[c] > 0;
}

std::vector<RateLimit> RateGate::Limits() const {
  std::vector<RateLimit> out;
  for (int c = 1; c <= kChannelCount; ++c) {
    if (channel_[c]) out.push_back(channel_[c]->limit);
  }
  std::vector<RateLimit> tenants;
  for (const auto& [key, l] : tenant_) tenants.push_back(l.limit);
  std::sort(tenants.begin(), tenants.end(), [](const RateLimit& a, const RateLimit& b) {
    return std::make_tuple(a.tenant->value, a.channel) < std::make_tuple(b.tenant->value, b.channel);
  });
  out.insert(out.end(), tenants.begin(), tenants.end());
  return out;
}

bool RateGate::ChannelHasToken(Channel c, int64_t now_ms) {
  auto& l = channel_[static_cast<int>(c)];
  return !l || l->bucket.HasToken(now_ms);
}

bool RateGate::TryTake(Channel c, TenantId t, int64_t now_ms) {
  auto& ch = channel_[static_cast<int>(c)];
  Limited* own = nullptr;
  if (tenant_limits_[static_cast<int>(c)] > 0) {
    if (auto it = tenant_.find(Key(c, t)); it != tenant_.end()) own = &it->second;
  }
  if (ch && !ch->bucket.HasToken(now_ms)) return false;
  if (own != nullptr && !own->bucket.TryTake(now_ms)) return false;
  if (ch) ch->bucket.TryTake(now_ms);
  return true;
}

void RateGate::Refund(Channel c, TenantId t) {
  if (auto& ch = channel_[static_cast<int>(c)]) ch->bucket.Refund();
  if (auto it = tenant_.find(Key(c, t)); it != tenant_.end()) it->second.bucket.Refund();
}

int64_t RateGate::NextTokenMs(Channel c, TenantId t, int64_t now_ms) {
  int64_t at = now_ms;
  if (auto& ch = channel_[static_cast<int>(c)]) at = std::max(at, ch->bucket.NextTokenMs(now_ms));
  if (auto it = tenant_.find(Key(c, t)); it != tenant_.end()) {
    at = std::max(at, it->second.bucket.NextTokenMs(now_ms));
  }
  return at;
}

int64_t RateGate::DeadlineMs(const DueRef& m) const {
  if (m.expiry_ms != 0) return m.expiry_ms;
  return m.due_ms + options_.late_after_ms;
}

int64_t RateGate::EstimateSendMs(Channel c, TenantId t, int64_t now_ms, uint64_t ahead,
                                 size_t tenants_waiting) {
  double rate = INFINITY;  // messages per ms
  int64_t tokens = INT64_MAX;
  if (auto& ch = channel_[static_cast<int>(c)]) {
    rate = ch->bucket.RatePerMs() / static_cast<double>(std::max<size_t>(tenants_waiting, 1));
    tokens = ch->bucket.Tokens(now_ms);
  }
  if (auto it = tenant_.find(Key(c, t)); it != tenant_.end()) {
    rate = std::min(rate, it->second.bucket.RatePerMs());
    tokens = std::min(tokens, it->second.bucket.Tokens(now_ms));
  }
  // This message is number ahead + 1; those covered by tokens go now.
  int64_t queued = static_cast<int64_t>(std::min<uint64_t>(ahead, INT64_MAX / 2)) + 1;
  if (queued <= tokens || std::isinf(rate)) return now_ms;
  if (rate <= 0) return INT64_MAX;
  double wait = static_cast<double>(queued - std::max<int64_t>(tokens, 0)) / rate;
  if (wait > 1e15) return INT64_MAX;
  // Less a hair: 2 / (1 / 60000.0) is 120000.00000000001, not one ms more.
  return now_ms + static_cast<int64_t>(std::ceil(wait - 1e-6));
}

void RateGate::ReportLate(const DueRef& r, absl::FunctionRef<std::string()> key_of,
                          int64_t now_ms, int64_t expected_ms) {
  Counters& k = counters_[Key(r.channel, r.tenant)];
  ++k.late;
  ++late_total_;
  ++k.unlogged;
  if (k.logged_at_ms != INT64_MIN && now_ms - k.logged_at_ms < options_.log_every_ms) return;
  k.logged_at_ms = now_ms;
  std::string when = expected_ms == INT64_MAX
                         ? std::string("never at the current rate")
                         : absl::StrCat("about ", (expected_ms - DeadlineMs(r)) / 1000,
                                        " s after its deadline");
  Log(absl::StrCat("rate limit: tenant ", r.tenant.value, " ", std::string(ChannelName(r.channel)), ": ",
                   k.unlogged, " message(s) cannot make their deadline (e.g. key ", key_of(),
                   ", deadline ", DeadlineMs(r), ", ", r.expiry_ms != 0 ? "its expiry" : "soft",
                   ", would go ", when, "); ", k.late, " since start"));
  k.unlogged = 0;
}

void RateGate::CountExpired(const DueRef& m) {
  ++counters_[Key(m.channel, m.tenant)].expired;
  ++expired_total_;
}

void RateGate::Log(const std::string& line) {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "rappeld: %s\n", line.c_str());
  }
}

std::vector<RateRow> RateGate::Rows(int64_t now_ms) {
  std::vector<RateRow> out;
  for (int c = 1; c <= kChannelCount; ++c) {
    if (!channel_[c]) continue;
    RateRow row;
    row.channel = static_cast<Channel>(c);
    row.limit = channel_[c]->limit;
    row.tokens = static_cast<uint64_t>(channel_[c]->bucket.Tokens(now_ms));
    out.push_back(row);
  }
  for (auto& [key, l] : tenant_) {
    RateRow row;
    row.channel = l.limit.channel;
    row.tenant = l.limit.tenant;
    row.limit = l.limit;
    row.tokens = static_cast<uint64_t>(l.bucket.Tokens(now_ms));
    if (auto it = counters_.find(key); it != counters_.end()) {
      row.late = it->second.late;
      row.expired = it->second.expired;
    }
    out.push_back(row);
  }
  for (const auto& [key, k] : counters_) {
    if (tenant_.contains(key)) continue;
    RateRow row;
    row.channel = static_cast<Channel>(key >> 32);
    row.tenant = TenantId{static_cast<uint32_t>(key)};
    row.late = k.late;
    row.expired = k.expired;
    out.push_back(row);
  }
  std::sort(out.begin(), out.end(), [](const RateRow& a, const RateRow& b) {
    auto rank = [](const RateRow& r) {
      return std::make_tuple(static_cast<int>(r.channel), r.tenant.has_value(),
                             r.tenant ? r.tenant->value : 0);
    };
    return rank(a) < rank(b);
  });
  return out;
}

}  // namespace rappel::server
