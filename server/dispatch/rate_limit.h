// RateLimit: one sending limit, the value a token bucket is built from, and
// its durable form in the store's `state` B-tree. A limit is a tenant's on
// one channel, or a channel's overall (the provider's: every tenant shares it).
//
//   "sms: 50/s burst 100"  = RateLimit{kSms, all tenants, 50, 1000 ms, 100}
//   "tenant 7 voice: 10/min" = RateLimit{kVoice, TenantId{7}, 10, 60000 ms, 10}
//
// A channel's overall limit is the provider's (every tenant's messages of
// that channel share it); a tenant's limit applies to that tenant's messages
// of that channel on top of it. count == 0 means "no limit" (setting it
// removes the record).
//
// Record (integers big-endian):
//   rl/<channel 1><scope 1: 0 all tenants, 1 one tenant><tenant 4>
//       -> <format 1><count 4><period_ms 4><burst 4>
//
// Pure values and functions; no thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/engine/reminder.h"

namespace rappel::server {

struct RateLimit {
  Channel channel = Channel::kSms;
  std::optional<TenantId> tenant;  // nullopt: the channel overall
  uint32_t count = 0;              // messages per period; 0: no limit
  uint32_t period_ms = 1000;
  uint32_t burst = 0;              // bucket size in messages; 0 means `count`
  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// Bounds of a limit (InvalidArgument outside them, from Validate).
inline constexpr uint32_t kMaxRateCount = 1'000'000;
inline constexpr uint32_t kMaxRatePeriodMs = 86'400'000;  // one day
inline constexpr uint32_t kMaxRateBurst = 1'000'000;

// The limit with burst 0 replaced by max(count, 1).
RateLimit Normalized(RateLimit limit);
// OK or InvalidArgument (unknown channel, period 0 or over a day, count or
// burst over the bounds).
absl::Status Validate(const RateLimit& limit);
// "sms 50/s burst 100", "tenant 7 voice 10/60000ms burst 10".
std::string ToString(const RateLimit& limit);

inline constexpr std::string_view kRateLimitPrefix = "rl/";
std::string RateLimitKey(Channel channel, std::optional<TenantId> tenant);
std::string EncodeRateLimitValue(const RateLimit& limit);
// DataLoss for a record that is not a rate limit's.
absl::StatusOr<RateLimit> DecodeRateLimit(std::string_view key, std::string_view value);

}  // namespace rappel::server
