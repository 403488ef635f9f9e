// Connection: what the request handler keeps per connection. The session
// owns one per socket; the RequestHandler sets it up at Hello and reads its
// role, and WorkerRequests records the subscription in it.
//
// Thread: the io thread, like the session that owns it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "server/engine/reminder.h"
#include "server/net/request_wire.h"

namespace rappel::server {

struct Connection {
  bool greeted = false;
  protocol::wire::Role role = protocol::wire::Role::Producer;
  // The name of the token it said Hello with (for logs; never the secret),
  // and that token's SHA-256 (all zero: no token, the loopback default), by
  // which a reload finds whether the token still grants what it did.
  std::string token_name;
  std::array<uint8_t, 32> token_hash{};
  // The tenants its token may act for, sorted; nullopt: every tenant.
  std::optional<std::vector<TenantId>> tenants;
  uint64_t worker_id = 0;  // non-zero once subscribed
  std::string client_name;
  // The client's address ("203.0.113.7:52144"), set by the session; for
  // the refusal lines in the log.
  std::string peer;
  // Sends a server push (a Delivery) on this connection.
  std::function<void(FrameBytes)> push;
  // Set by the session: the bytes queued on this connection and not yet
  // written to the socket.
  std::function<size_t()> unsent_bytes;
  // Set by the subscriber (WorkerRequests); the session calls it each time
  // it has written everything it had queued.
  std::function<void()> drained;


  // True if its token may act for `tenant`.
  bool MayActFor(TenantId tenant) const {
    return !tenants || std::binary_search(tenants->begin(), tenants->end(), tenant,
                                          [](TenantId a, TenantId b) { return a.value < b.value; });
  }
  // True if its token may act for every tenant (instance-wide requests).
  bool AllTenants() const { return !tenants.has_value(); }
};

}  // namespace rappel::server
