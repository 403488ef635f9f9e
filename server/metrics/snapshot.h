// ServerSnapshot: the figures `rappelctl status` shows, copied on rappeld's
// io thread in one go so that the metrics exporter's threads never read the
// engine or the dispatcher themselves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"
#include "server/net/request_stats.h"

namespace rappel::server::metrics {

struct ServerSnapshot {
  EngineStats engine;
  DispatchStats dispatch;
  uint64_t due_next_hour = 0;
  uint64_t due_next_day = 0;
  uint64_t connections = 0;  // client connections open
  ConnectionsByRole connections_by_role;
  RequestLatencies requests;
  // The busiest tenants by live reminders (at most MetricsOptions::
  // top_tenants), and the rest summed.
  struct Tenant {
    uint32_t tenant = 0;
    uint64_t live = 0;
    uint64_t dead_letters = 0;
  };
  std::vector<Tenant> top_tenants;
  Tenant other_tenants;
  // A primary with a replication listener: the position of its last
  // committed group and what each connected standby has acknowledged.
  struct Replication {
    bool on = false;
    bool shard_leader = false;  // elected through etcd ([shard])
    uint64_t term = 0;
    uint64_t index = 0;
    struct Standby {
      std::string node;
      uint64_t acked_index = 0;
    };
    std::vector<Standby> standbys;
  };
  Replication replication;
};

}  // namespace rappel::server::metrics
