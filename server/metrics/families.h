// The exposition of a ServerSnapshot and of the process as Prometheus metric
// families: names under rappel_, counters ending in _total, sizes in
// _bytes, durations in _seconds (README.md, "Metrics", lists them).
// Pure functions: the caller owns the threading.
#pragma once

#include <cstdint>
#include <vector>

#include "prometheus/metric_family.h"
#include "server/metrics/snapshot.h"

namespace rappel::server::metrics {

// Every figure of `rappelctl status` but the per-tenant list, plus the
// engine's and dispatcher's lifetime counters.
std::vector<prometheus::MetricFamily> SnapshotFamilies(const ServerSnapshot& s);

// How the exporter fared: scrapes that served an old snapshot because the
// io thread did not answer in time, and the age of the snapshot served.
std::vector<prometheus::MetricFamily> ExporterFamilies(uint64_t snapshot_misses,
                                                       double snapshot_age_seconds);

// The process's resident memory (/proc/self/statm); none if unreadable.
std::vector<prometheus::MetricFamily> ProcessFamilies();

}  // namespace rappel::server::metrics
