// LeaseGuard: how long this node may still act as the shard's leader, from
// the renewals of its etcd lease, on a clock of its own.
//
// A renewal sent at local time S and answered with TTL T proves that etcd
// holds the lease until at least S + T (etcd starts the TTL when the request
// arrives, after S). The guard keeps `S + T - margin` and says Valid() until
// then: the leader stops answering writes and dispatching `margin` before
// etcd could let another node win, whatever happened in between (a pause,
// a slow etcd, a lost answer).
//
// The clock is CLOCK_BOOTTIME, not steady_clock: CLOCK_MONOTONIC stops while
// the machine (or VM) is suspended, etcd's clock does not. Both run during a
// SIGSTOP, which is the case that matters: a leader resumed after a pause
// longer than the TTL reads a fresh time and finds itself expired.
//
// Thread safety: Renewed/Lost from the thread that talks to etcd; Valid and
// remaining_ms from any thread (one atomic).
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>

namespace rappel::server::coord {

// Milliseconds of CLOCK_BOOTTIME (monotonic, counts suspend).
inline int64_t BootTimeMs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

class LeaseGuard {
 public:
  using Clock = std::function<int64_t()>;

  // The default margin: a quarter of the TTL, at least 400 ms.
  static int64_t DefaultMarginMs(int64_t ttl_ms) { return std::max<int64_t>(400, ttl_ms / 4); }

  explicit LeaseGuard(int64_t margin_ms, Clock clock = BootTimeMs)
      : margin_ms_(margin_ms), clock_(std::move(clock)) {}

  // The time to stamp a renewal with: read just before it is sent.
  int64_t Now() const { return clock_(); }

  // A renewal (or the grant) sent at `sent_ms` answered with `ttl_ms` > 0.
  // Only ever extends the validity: an older answer arriving late changes
  // nothing.
  void Renewed(int64_t sent_ms, int64_t ttl_ms) {
    int64_t until = sent_ms + ttl_ms - margin_ms_;
    int64_t cur = valid_until_ms_.load(std::memory_order_relaxed);
    while (until > cur &&
           !valid_until_ms_.compare_exchange_weak(cur, until, std::memory_order_release)) {
    }
  }

  // etcd says the lease is gone (TTL 0, revoked): not valid again until the
  // grant of a new lease is Renewed.
  void Lost() { valid_until_ms_.store(kNever, std::memory_order_release); }

  // A fresh read of the clock each call: never a cached time.
  bool Valid() const { return clock_() < valid_until_ms_.load(std::memory_order_acquire); }
  // Milliseconds of validity left (<= 0: expired).
  int64_t remaining_ms() const {
    return valid_until_ms_.load(std::memory_order_acquire) - clock_();
  }

 private:
  static constexpr int64_t kNever = INT64_MIN / 2;

  const int64_t margin_ms_;
  const Clock clock_;
  std::atomic<int64_t> valid_until_ms_{kNever};
};

}  // namespace rappel::server::coord
