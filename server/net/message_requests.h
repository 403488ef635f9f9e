// MessageRequests: what became of a tenant's messages (protocol/README.md
// "Message outcomes"): OutcomeReport (outcomes known after the ack, from a
// worker, producer or admin), MessageSummary and MessageList (producer or
// admin), turned into AppointmentBook calls and their results into reply
// frames. The RequestHandler hands it every frame of those types, after
// Hello and the role check.
//
// Tenants (tenant_access.h): an OutcomeReport item whose message belongs
// to a tenant the token may not act for is refused in its place
// (PermissionDenied), the others go on; a summary or list of such a tenant
// is an Error frame PermissionDenied.
//
// Thread: the io thread, like the book.
#pragma once

#include "protocol/framing.h"
#include "server/net/connection.h"
#include "server/net/request_wire.h"
#include "server/plan/book.h"

namespace rappel::server {

class MessageRequests {
 public:
  using Reply = ReplyFn;

  explicit MessageRequests(plan::AppointmentBook* book) : book_(book) {}

  // True if `type` is one of ours (then `reply` is called exactly once).
  static bool Handles(protocol::wire::Body type);
  // Workers may report outcomes, not read the summary or the list.
  static bool Allowed(protocol::wire::Role role, protocol::wire::Body type);
  void Handle(const Connection& conn, const protocol::wire::Frame& frame, Reply reply);

 private:
  plan::AppointmentBook* book_;
};

}  // namespace rappel::server
