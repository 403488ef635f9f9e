#include "server/metrics/exporter.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "server/metrics/families.h"
#include "server/metrics/health.h"
#include "server/metrics/io_snapshots.h"

namespace rappel::server::metrics {

// What the Exposer calls at each scrape, on its own thread.
class SnapshotCollectable : public prometheus::Collectable {
 public:
  explicit SnapshotCollectable(std::shared_ptr<IoSnapshots> snapshots)
      : snapshots_(std::move(snapshots)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    IoSnapshots::Result r = snapshots_->Take();
    std::vector<prometheus::MetricFamily> out = SnapshotFamilies(r.snapshot);
    double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.taken_at)
                     .count();
    for (auto& f : ExporterFamilies(snapshots_->misses(), age)) out.push_back(std::move(f));
    for (auto& f : ProcessFamilies()) out.push_back(std::move(f));
    return out;
  }

 private:
  std::shared_ptr<IoSnapshots> snapshots_;
};

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(
    asio::io_context& io, const MetricsOptions& options, std::function<ServerSnapshot()> take) {
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  e->snapshots_ = std::make_shared<IoSnapshots>(
      io, std::move(take), std::chrono::milliseconds(options.snapshot_timeout_ms));
  e->collectable_ = std::make_shared<SnapshotCollectable>(e->snapshots_);
  asio::error_code ec;
  auto address = asio::ip::make_address(options.listen, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("metrics listen '", options.listen,
                                                         "' is not an IP address"));
  // civetweb's listening_ports syntax: IPv6 in brackets.
  std::string bind = address.is_v6() ? absl::StrCat("[", options.listen, "]:", options.port)
                                     : absl::StrCat(options.listen, ":", options.port);
  try {
    e->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", bind, "num_threads", "2"},
        HealthCallbacks());
  } catch (const std::exception& ex) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", bind, ": ", ex.what()));
  }
  std::vector<int> ports = e->exposer_->GetListeningPorts();
  if (ports.empty()) return absl::UnavailableError(absl::StrCat("metrics: no port for ", bind));
  e->port_ = static_cast<uint16_t>(ports.front());
  e->exposer_->RegisterCollectable(e->collectable_);
  RegisterHealth(e->port_, e->snapshots_);
  return e;
}

MetricsExporter::~MetricsExporter() {
  if (port_ != 0) UnregisterHealth(port_);
  if (snapshots_) snapshots_->Stop();  // scrapes waiting return now
  exposer_.reset();                     // joins civetweb's threads
}

}  // namespace rappel::server::metrics
