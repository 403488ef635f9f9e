#include "bench/load/histogram.h"

#include <bit>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace rappel::bench {

size_t LogLinearHistogram::IndexOf(uint32_t us) {
  if (us < kExact) return us;
  const int msb = std::bit_width(us) - 1;  // >= 7
  const int shift = msb - 6;               // 64 buckets in [2^msb, 2^(msb+1))
  return kExact + static_cast<size_t>(msb - 7) * kSubBuckets + ((us >> shift) - kSubBuckets);
}

uint64_t LogLinearHistogram::Low(size_t i) {
  if (i < kExact) return i;
  const size_t octave = (i - kExact) / kSubBuckets;  // msb - 7
  const size_t sub = (i - kExact) % kSubBuckets;
  return (uint64_t{kSubBuckets} + sub) << (octave + 1);
}

uint64_t LogLinearHistogram::High(size_t i) {
  if (i < kExact) return i + 1;
  const size_t octave = (i - kExact) / kSubBuckets;
  return Low(i) + (uint64_t{1} << (octave + 1));
}

void LogLinearHistogram::Add(uint32_t us) {
  size_t i = IndexOf(us);
  if (i >= counts_.size()) counts_.resize(i + 1, 0);
  ++counts_[i];
}

namespace {

absl::Status Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

void AppendHistogram(const std::string& phase, const char* latency, const LatencySamples& s,
                     std::string* out) {
  LogLinearHistogram h;
  for (uint32_t us : s.samples()) h.Add(us);
  for (size_t i = 0; i < h.counts().size(); ++i) {
    if (h.counts()[i] == 0) continue;
    absl::StrAppend(out, phase, ",", latency, ",", LogLinearHistogram::Low(i), ",",
                    LogLinearHistogram::High(i), ",", h.counts()[i], "\n");
  }
}

}  // namespace

absl::Status WriteHistograms(const std::string& path, const std::vector<Phase>& phases) {
  std::string text =
      "# rappel-load latency histograms: log-linear buckets in microseconds, [lo_us, hi_us)\n"
      "phase,latency,lo_us,hi_us,count\n";
  for (const Phase& p : phases) {
    const bool lag = p.latency_of == kLagLatency;
    AppendHistogram(p.name, lag ? "lag" : "request", p.latency, &text);
    AppendHistogram(p.name, "corrected", p.corrected, &text);
  }
  return Write(path, text);
}

absl::Status WriteSeries(const std::string& path, const std::vector<Phase>& phases) {
  std::string text = "phase,second,ok,failed,requests,p50_us,p99_us,max_us\n";
  for (const Phase& p : phases) {
    for (size_t s = 0; s < p.series.size(); ++s) {
      Phase::Second sec = p.series[s];  // a copy: Summarize sorts
      Percentiles q = sec.latency.Summarize();
      absl::StrAppend(&text, p.name, ",", s, ",", sec.ok, ",", sec.failed, ",", q.count, ",",
                      q.p50_us, ",", q.p99_us, ",", q.max_us, "\n");
    }
  }
  return Write(path, text);
}

}  // namespace rappel::bench
