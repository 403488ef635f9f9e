// RateRequests: the rate-limit part of the protocol (RateLimitSet,
// RateList; protocol/README.md "Rate limits"), turned into Dispatcher calls
// and their results into reply frames. The RequestHandler hands it every
// frame of those types, after Hello and the role check (admin only).
//
// Tenants (tenant_access.h): a RateLimitSet with a limit of a tenant the
// token may not act for, or a channel's overall limit (all_tenants) from a
// token limited to some tenants, is an Error frame PermissionDenied and
// sets nothing; RateList shows such a token only its tenants' rows.
//
// Thread: the io thread, like the dispatcher.
#pragma once

#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/net/connection.h"
#include "server/net/request_wire.h"

namespace rappel::server {

class RateRequests {
 public:
  using Reply = ReplyFn;

  explicit RateRequests(Dispatcher* dispatcher) : dispatcher_(dispatcher) {}

  // True if `type` is one of ours (then `reply` is called exactly once).
  static bool Handles(protocol::wire::Body type);
  void Handle(const Connection& conn, const protocol::wire::Frame& frame, Reply reply);

 private:
  Dispatcher* dispatcher_;
};

}  // namespace rappel::server
