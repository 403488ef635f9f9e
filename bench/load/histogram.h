// Latency histograms and the per-second series of a rappel-load run, as
// files (--histogram, --series-csv), in the shape HdrHistogram and wrk2 made
// familiar: log-linear buckets, exact below 128 us, then 64 linear buckets
// per power of two (each bucket under 1/64 = 1.6 % of its value wide).
//
// --histogram FILE, CSV, one row per non-empty bucket of each latency:
//   phase,latency,lo_us,hi_us,count
//   ingest,request,1792,1824,41
// `latency` is "request" (batch sent -> answer), "corrected" (the same from
// the batch's intended send time under --rate, coordinated omission
// corrected as wrk2 does) or "lag" (due -> delivered). Lines starting with
// '#' are comments. A latency's counts sum to its count in the report.
//
// --series-csv FILE, one row per phase and second since the phase began:
//   phase,second,ok,failed,requests,p50_us,p99_us,max_us
// (requests answered in that second and their request latency).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/load/report.h"

namespace rappel::bench {

class LogLinearHistogram {
 public:
  static constexpr uint32_t kExact = 128;      // values below: one bucket each
  static constexpr uint32_t kSubBuckets = 64;  // per power of two above

  void Add(uint32_t us);
  // Bucket i covers [Low(i), High(i)).
  static uint64_t Low(size_t i);
  static uint64_t High(size_t i);
  const std::vector<uint64_t>& counts() const { return counts_; }

 private:
  static size_t IndexOf(uint32_t us);
  std::vector<uint64_t> counts_;
};

// Writes every phase's latencies as above. Errors: the file cannot be written.
absl::Status WriteHistograms(const std::string& path, const std::vector<Phase>& phases);
absl::Status WriteSeries(const std::string& path, const std::vector<Phase>& phases);

}  // namespace rappel::bench
