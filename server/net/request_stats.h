// RequestLatencies: how long requests took on the server, by request type:
// from the frame's arrival (verified, about to be handled) to its reply
// being queued on the connection (after a durable commit for writes).
// Pushes (Delivery) and frames refused before handling are not counted.
//
// Thread: the io thread only. The server and its sessions share it (a
// session may outlive the server by a handler); the metrics snapshot copies
// it on the io thread.
#pragma once

#include <array>
#include <cstddef>

#include "protocol/rappel_generated.h"
#include "server/common/histogram.h"

namespace rappel::server {

struct RequestLatencies {
  static constexpr size_t kTypes = static_cast<size_t>(protocol::wire::Body::MAX) + 1;
  // Indexed by protocol::wire::Body; seconds.
  std::array<LatencyHistogram, kTypes> by_type;
};

// Open connections by the role their Hello gave them; `none`: no Hello yet.
struct ConnectionsByRole {
  uint64_t none = 0;
  uint64_t producer = 0;
  uint64_t worker = 0;
  uint64_t admin = 0;
};

}  // namespace rappel::server
