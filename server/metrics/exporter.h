// MetricsExporter: rappeld's HTTP listener for Prometheus (/metrics, through
// prometheus-cpp's Exposer) and for health checks (/healthz, /readyz:
// health.h). It serves from its own threads; every figure of the server is
// copied on the io thread (IoSnapshots), the process's own are read
// directly.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "server/metrics/metrics_options.h"
#include "server/metrics/snapshot.h"

namespace prometheus {
class Exposer;
}

namespace rappel::server::metrics {

class IoSnapshots;
class SnapshotCollectable;

class MetricsExporter {
 public:
  // Listens on options.listen:options.port (options.enabled() must hold).
  // `take` runs on `io`'s thread. Unavailable if the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(
      asio::io_context& io, const MetricsOptions& options, std::function<ServerSnapshot()> take);
  // Stops serving; scrapes in progress return at once. On the io thread or
  // once it no longer runs.
  ~MetricsExporter();

  uint16_t port() const { return port_; }

 private:
  MetricsExporter() = default;

  std::shared_ptr<IoSnapshots> snapshots_;
  std::shared_ptr<SnapshotCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t port_ = 0;
};

}  // namespace rappel::server::metrics
