// TokenBucket: `count` messages per `period_ms`, up to `burst` at once.
//
// Exact integer arithmetic, no drift: one message costs `period_ms` units
// and the bucket gains `count` units per elapsed millisecond, up to
// burst * period_ms (at most 8.64e13 with the bounds of rate_limit.h).
// Worked example, 50/s burst 100:
//
//   t = 0      full: 100 * 1000 units, 100 messages may go at once
//   take 100   0 units
//   t = 10 ms  10 * 50 = 500 units: not yet one message (1000)
//   t = 20 ms  1000 units: one message; NextTokenMs(20) == 20
//   take 1     0 units; NextTokenMs(20) == 40
//
// Time is given by the caller (unix ms); a clock going backwards refills
// nothing. A new bucket is full. Not thread-safe; the owner's thread.
#pragma once

#include <algorithm>
#include <cstdint>

namespace rappel::server {

class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(uint32_t count, uint32_t period_ms, uint32_t burst, int64_t now_ms)
      : count_(count), period_ms_(std::max<uint32_t>(period_ms, 1)), burst_(burst),
        level_(Capacity()), last_ms_(now_ms) {}

  // Keeps the level (capped by the new burst): changing a limit does not
  // hand out a fresh burst.
  void Reset(uint32_t count, uint32_t period_ms, uint32_t burst, int64_t now_ms) {
    Refill(now_ms);
    int64_t messages = level_ / period_ms_;
    count_ = count;
    period_ms_ = std::max<uint32_t>(period_ms, 1);
    burst_ = burst;
    level_ = std::min(messages * period_ms_, Capacity());
  }

  bool HasToken(int64_t now_ms) {
    Refill(now_ms);
    return level_ >= period_ms_;
  }
  bool TryTake(int64_t now_ms) {
    if (!HasToken(now_ms)) return false;
    level_ -= period_ms_;
    return true;
  }
  // Gives back a token taken for a message that did not go after all.
  void Refund() { level_ = std::min(level_ + period_ms_, Capacity()); }
  // When the next whole token is there: now_ms when it is already.
  int64_t NextTokenMs(int64_t now_ms) {
    Refill(now_ms);
    if (level_ >= period_ms_) return now_ms;
    if (count_ == 0) return INT64_MAX;
    int64_t missing = period_ms_ - level_;
    return now_ms + (missing + count_ - 1) / count_;
  }
  // Whole messages that may go now.
  int64_t Tokens(int64_t now_ms) {
    Refill(now_ms);
    return level_ / period_ms_;
  }
  // Messages per millisecond.
  double RatePerMs() const { return static_cast<double>(count_) / period_ms_; }

 private:
  int64_t Capacity() const { return int64_t{burst_} * period_ms_; }
  void Refill(int64_t now_ms) {
    if (now_ms <= last_ms_) return;
    int64_t elapsed = now_ms - last_ms_;
    last_ms_ = now_ms;
    int64_t missing = Capacity() - level_;
    if (missing <= 0 || count_ == 0) return;
    // Compared before multiplying: elapsed * count could overflow.
    if (elapsed >= (missing + count_ - 1) / count_) {
      level_ = Capacity();
      return;
    }
    level_ += elapsed * count_;
  }

  uint32_t count_ = 0;
  uint32_t period_ms_ = 1000;
  uint32_t burst_ = 0;
  int64_t level_ = 0;
  int64_t last_ms_ = 0;
};

}  // namespace rappel::server
