// LogBudget: at most `lines_per_second` log lines of one kind per second, so
// that a client sending refused requests in a loop cannot flood the log.
// The lines over the budget are counted, and the next line let through
// says how many were suppressed before it.
//
// Thread: any; one mutex (refusals are rare next to the work served).
#pragma once

#include <cstdint>
#include <mutex>

namespace rappel::server {

class LogBudget {
 public:
  explicit LogBudget(uint32_t lines_per_second) : per_second_(lines_per_second) {}

  struct Grant {
    bool log = false;         // write this line
    uint64_t suppressed = 0;  // lines dropped since the last one written
  };

  // Asks for one line at `now_ms` (any monotonic clock).
  Grant Take(int64_t now_ms) {
    std::lock_guard lock(mu_);
    if (now_ms - window_start_ms_ >= 1000 || now_ms < window_start_ms_) {
      window_start_ms_ = now_ms;
      used_ = 0;
    }
    if (used_ >= per_second_) {
      ++suppressed_;
      return {};
    }
    ++used_;
    Grant g{true, suppressed_};
    suppressed_ = 0;
    return g;
  }

 private:
  const uint32_t per_second_;
  std::mutex mu_;
  int64_t window_start_ms_ = INT64_MIN / 2;
  uint32_t used_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace rappel::server
