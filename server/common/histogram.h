// Histogram: plain counts of observations in fixed log-linear buckets, for
// the metrics exporter (server/metrics/). Upper bounds 1, 2, 5 x 10^e for
// e in [MinExp, MaxExp], in the unit observed (seconds, records), plus
// +Inf: the Prometheus convention of a few buckets per decade.
//
// No atomics, no lock: each thread that observes owns its histograms (the
// io thread its own, the store's writer thread its own), and they reach
// the exporter as copies taken on that thread (or under a lock that thread
// already holds), never read from another thread while it writes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rappel::server {

template <int MinExp, int MaxExp>
class Histogram {
  static_assert(MinExp <= MaxExp && MinExp >= -9 && MaxExp <= 9);

 public:
  static constexpr size_t kBounds = 3 * (MaxExp - MinExp + 1);

  // The upper bounds, ascending (inclusive, as Prometheus's `le`).
  static constexpr std::array<double, kBounds> Bounds() {
    std::array<double, kBounds> b{};
    size_t i = 0;
    for (int e = MinExp; e <= MaxExp; ++e) {
      // m * 10^e as one correctly rounded operation on exact integers, so
      // the bound prints as "0.0002", not "0.00020000000000000001".
      double p = 1;
      for (int k = 0; k < (e < 0 ? -e : e); ++k) p *= 10;
      for (double m : {1.0, 2.0, 5.0}) b[i++] = e < 0 ? m / p : m * p;
    }
    return b;
  }

  void Observe(double v) {
    size_t i = 0;
    while (i < kBounds && v > kUpper[i]) ++i;  // kBounds ~ 20: a scan is cheapest
    ++counts_[i];
    ++count_;
    sum_ += v;
  }

  // Observations in bucket i (not cumulative); i == kBounds: above the last bound.
  uint64_t bucket(size_t i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  static constexpr std::array<double, kBounds> kUpper = Bounds();
  std::array<uint64_t, kBounds + 1> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Durations of work on the server: 10 us .. 50 s.
using LatencyHistogram = Histogram<-5, 1>;
// Waits that may last long (due -> handed out, lease -> ack): 1 ms .. 5000 s.
using WaitHistogram = Histogram<-3, 3>;
// Counts (records per commit): 1 .. 500 000.
using CountHistogram = Histogram<0, 5>;

}  // namespace rappel::server
