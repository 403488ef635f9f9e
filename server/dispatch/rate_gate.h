// RateGate: the sending limits (rate_limit.h) as token buckets,
// and what they held back. It holds no messages: the
// RateLimitedLane (rate_limited_lane.h) keeps those waiting for a token in a
// FairQueue per channel and asks the gate, message by message, whether one
// may go now.
//
//   limits          one bucket per channel overall (the provider's limit)
//                   and one per (tenant, channel) that has a limit of its own
//   TryTake(c, t)   takes a token from both (those that exist), or neither
//   Gated(c)        false while channel c has no limit at all: the
//                   dispatcher then keeps its plain FIFO and never asks
//
// Lateness. A message's deadline is its expiry when it has one (sending
// after it is pointless: the dispatcher drops it, as the engine does), else
// its due time plus options.late_after_ms (a soft one: it still goes). When
// a message joins the queue the gate estimates when it will go at the
// current rate: its tenant's queue ahead of it, less the tokens there now,
// at min(tenant rate, channel rate / tenants waiting). If that is after the
// deadline the message is reported late at once (the estimate counts every
// message queued before it as ahead, so it errs towards reporting early);
// one that was not, but is found past its deadline when it comes out, is
// reported then. Reported: a counter per (tenant, channel), stats, and a log
// line per (tenant, channel) at most every options.log_every_ms, with the
// count since the last one. Never silently late.
//
// Thread: the owner's (the dispatcher's io thread). Time is given by the
// caller (unix ms).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "server/dispatch/rate_limit.h"
#include "server/dispatch/token_bucket.h"
#include "server/engine/reminder.h"

namespace rappel::server {

struct RateGateOptions {
  // The soft deadline of a message without an expiry: due + this. Ten
  // minutes: a day-ahead reminder that late is still useful, but the
  // operator should know the rate does not keep up.
  int64_t late_after_ms = 600'000;
  // At most one log line per (tenant, channel) this often.
  int64_t log_every_ms = 10'000;
  // Where log lines go. Null: stderr, prefixed "rappeld: ".
  std::function<void(const std::string&)> log;
};

// One row of the rates view: a channel overall (tenant nullopt) or one
// tenant on one channel.
struct RateRow {
  Channel channel = Channel::kSms;
  std::optional<TenantId> tenant;
  std::optional<RateLimit> limit;  // nullopt: no limit of its own
  uint64_t tokens = 0;             // whole tokens in its bucket now (0 without a limit)
  uint64_t waiting = 0;            // messages waiting for a token
  uint64_t late = 0;               // reported unable to make their deadline (since start)
  uint64_t expired = 0;            // of those, dropped: expired while waiting
};

class RateGate {
 public:
  explicit RateGate(RateGateOptions options = {});

  // Sets (count > 0) or removes (count == 0) one limit. Validated by the caller.
  void Set(const RateLimit& limit, int64_t now_ms);
  // Every limit set, channels overall first, then by tenant.
  std::vector<RateLimit> Limits() const;
  bool Gated(Channel c) const { return gated_[static_cast<int>(c)]; }

  // Whether the channel's overall bucket has a token (true without one).
  bool ChannelHasToken(Channel c, int64_t now_ms);
  // Takes one token from the channel's bucket and the tenant's (those that
  // exist) or, when either is empty, none.
  bool TryTake(Channel c, TenantId t, int64_t now_ms);
  // Gives back what TryTake took (the message did not go after all).
  void Refund(Channel c, TenantId t);
  // When a message of the tenant may next go as far as the buckets are
  // concerned: now_ms if it may now.
  int64_t NextTokenMs(Channel c, TenantId t, int64_t now_ms);

  // The deadline a message is reported against (see the header comment).
  int64_t DeadlineMs(const DueRef& m) const;
  // When a message of tenant t joining its queue behind `ahead` others
  // would go, with `tenants_waiting` tenants sharing the channel (its own
  // included).
  int64_t EstimateSendMs(Channel c, TenantId t, int64_t now_ms, uint64_t ahead,
                         size_t tenants_waiting);
  // Counts (and logs, throttled) a message that cannot make its deadline.
  // `key_of` gives its key for the log line, called only when a line is
  // written (a waiting message holds no content: the key is in the log).
  void ReportLate(const DueRef& m, absl::FunctionRef<std::string()> key_of, int64_t now_ms,
                  int64_t expected_ms);
  // Counts one dropped because its expiry passed while it waited.
  void CountExpired(const DueRef& m);

  // A row for each limit set and each (tenant, channel) with a late count,
  // ordered by (channel, overall first, tenant); `waiting` left 0 (the
  // RateLimitedLane, which holds the queues, fills it in).
  std::vector<RateRow> Rows(int64_t now_ms);
  uint64_t late_total() const { return late_total_; }
  uint64_t expired_total() const { return expired_total_; }

 private:
  struct Limited {
    RateLimit limit;
    TokenBucket bucket;
  };
  struct Counters {
    uint64_t late = 0;
    uint64_t expired = 0;
    uint64_t unlogged = 0;      // reported since the last log line
    int64_t logged_at_ms = INT64_MIN;
  };
  static uint64_t Key(Channel c, TenantId t) {
    return (uint64_t{static_cast<uint8_t>(c)} << 32) | t.value;
  }
  void Log(const std::string& line);
  void Recount(Channel c);

  RateGateOptions options_;
  std::optional<Limited> channel_[kChannelCount + 1];
  absl::flat_hash_map<uint64_t, Limited> tenant_;  // Key(c, t)
  size_t tenant_limits_[kChannelCount + 1] = {};
  bool gated_[kChannelCount + 1] = {};
  absl::flat_hash_map<uint64_t, Counters> counters_;  // Key(c, t)
  uint64_t late_total_ = 0;
  uint64_t expired_total_ = 0;
};

}  // namespace rappel::server
