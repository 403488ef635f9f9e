// Latency samples in microseconds and their percentiles. Exact (every
// sample kept, 4 bytes each): a load run records at most tens of millions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace rappel::bench {

struct Percentiles {
  uint64_t count = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

class LatencySamples {
 public:
  void Add(double us) {
    samples_.push_back(static_cast<uint32_t>(std::clamp(us, 0.0, 4.0e9)));
  }
  void Merge(const LatencySamples& other) {
    samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  }
  size_t size() const { return samples_.size(); }
  const std::vector<uint32_t>& samples() const { return samples_; }

  // Sorts the samples in place.
  Percentiles Summarize() {
    Percentiles p;
    p.count = samples_.size();
    if (samples_.empty()) return p;
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double q) {
      size_t i = static_cast<size_t>(q * static_cast<double>(samples_.size() - 1) + 0.5);
      return static_cast<double>(samples_[i]);
    };
    p.p50_us = at(0.50);
    p.p99_us = at(0.99);
    p.p999_us = at(0.999);
    p.max_us = static_cast<double>(samples_.back());
    return p;
  }

 private:
  std::vector<uint32_t> samples_;
};

}  // namespace rappel::bench
