// ServerSnapshot: the figures `rappelctl status` shows, copied on rappeld's
// io thread in one go so that the metrics exporter's threads never read the
// engine or the dispatcher themselves.
#pragma once

#include <cstdint>

#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"

namespace rappel::server::metrics {

struct ServerSnapshot {
  EngineStats engine;
  DispatchStats dispatch;
  uint64_t due_next_hour = 0;
  uint64_t due_next_day = 0;
  uint64_t connections = 0;  // client connections open
};

}  // namespace rappel::server::metrics
