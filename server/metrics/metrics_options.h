// Where rappeld serves its Prometheus metrics and health endpoints: an HTTP
// listener of its own, apart from the client port ([metrics] in the
// configuration, server/main/config.h).
#pragma once

#include <cstdint>
#include <string>

namespace rappel::server::metrics {

struct MetricsOptions {
  // Loopback only for now: the endpoints have neither TLS nor a token
  // (CheckOptions refuses another address).
  std::string listen = "127.0.0.1";
  // -1: no listener; 0: any free port (printed at start); else the port.
  int32_t port = -1;
  // A scrape waits this long for the io thread's figures; past it, it
  // serves the last ones and counts a miss.
  int64_t snapshot_timeout_ms = 2000;
  // Per-tenant series: the busiest this many tenants by live reminders,
  // the others summed under tenant="other" (a bound on the series).
  uint32_t top_tenants = 20;

  bool enabled() const { return port >= 0; }
};

}  // namespace rappel::server::metrics
