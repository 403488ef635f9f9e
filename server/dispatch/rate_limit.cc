#include "server/dispatch/rate_limit.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/bytes.h"

namespace rappel::server {
namespace {

constexpr uint8_t kFormat = 1;
constexpr size_t kKeyBytes = 3 + 1 + 1 + 4;
constexpr size_t kValueBytes = 1 + 4 + 4 + 4;


std::string PeriodText(uint32_t period_ms) {
  switch (period_ms) {
    case 1000: return "s";
    case 60'000: return "min";
    case 3'600'000: return "h";
    case 86'400'000: return "day";
    default: return absl::StrCat(period_ms, "ms");
  }
}

}  // namespace

RateLimit Normalized(RateLimit limit) {
  if (limit.burst == 0) limit.burst = std::max<uint32_t>(limit.count, 1);
  return limit;
}

absl::Status Validate(const RateLimit& limit) {
  if (!IsValidChannel(static_cast<uint8_t>(limit.channel))) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown channel ", static_cast<int>(limit.channel)));
  }
  if (limit.period_ms == 0 || limit.period_ms > kMaxRatePeriodMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("a rate's period is 1 ms to one day, not ", limit.period_ms, " ms"));
  }
  if (limit.count > kMaxRateCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("a rate is at most ", kMaxRateCount, " messages per period"));
  }
  if (limit.burst > kMaxRateBurst) {
    return absl::InvalidArgumentError(absl::StrCat("a burst is at most ", kMaxRateBurst));
  }
  return absl::OkStatus();
}

std::string ToString(const RateLimit& limit) {
  std::string who = limit.tenant ? absl::StrCat("tenant ", limit.tenant->value, " ") : "";
  if (limit.count == 0) return absl::StrCat(who, std::string(ChannelName(limit.channel)), " unlimited");
  RateLimit n = Normalized(limit);
  return absl::StrCat(who, std::string(ChannelName(n.channel)), " ", n.count, "/", PeriodText(n.period_ms),
                      " burst ", n.burst);
}

std::string RateLimitKey(Channel channel, std::optional<TenantId> tenant) {
  std::string k(kRateLimitPrefix);
  k.push_back(static_cast<char>(channel));
  k.push_back(tenant ? 1 : 0);
  PutBE(&k, tenant ? tenant->value : 0, 4);
  return k;
}

std::string EncodeRateLimitValue(const RateLimit& limit) {
  std::string v(1, static_cast<char>(kFormat));
  PutBE(&v, limit.count, 4);
  PutBE(&v, limit.period_ms, 4);
  PutBE(&v, limit.burst, 4);
  return v;
}

absl::StatusOr<RateLimit> DecodeRateLimit(std::string_view key, std::string_view value) {
  auto bad = [] { return absl::DataLossError("corrupt rate limit record in the store"); };
  if (key.size() != kKeyBytes || !key.starts_with(kRateLimitPrefix) || value.size() != kValueBytes ||
      static_cast<uint8_t>(value[0]) != kFormat) {
    return bad();
  }
  RateLimit limit;
  limit.channel = static_cast<Channel>(key[3]);
  uint8_t scope = static_cast<uint8_t>(key[4]);
  if (scope > 1) return bad();
  if (scope == 1) limit.tenant = TenantId{static_cast<uint32_t>(GetBE(key, 5, 4))};
  limit.count = static_cast<uint32_t>(GetBE(value, 1, 4));
  limit.period_ms = static_cast<uint32_t>(GetBE(value, 5, 4));
  limit.burst = static_cast<uint32_t>(GetBE(value, 9, 4));
  if (!Validate(limit).ok()) return bad();
  return limit;
}

}  // namespace rappel::server
