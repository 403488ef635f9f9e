// AppointmentRequests: the appointment part of the protocol (configuration
// objects, appointment events, self-service tokens, show / dry run), turned
// into AppointmentBook calls and their results into reply frames. The
// RequestHandler hands it every frame of those types, after Hello and the
// role check.
//
// Tenants (tenant_access.h): an item of AppointmentUpsert or
// AppointmentCommands for a tenant the token may not act for is refused in
// its place (PermissionDenied), the others go on; any other request for
// such a tenant (a TokenRedeem: the action token's tenant, read before
// anything is verified or applied) is an Error frame PermissionDenied and
// changes nothing.
//
// Thread: the io thread, like the book.
#pragma once

#include "protocol/framing.h"
#include "server/net/connection.h"
#include "server/net/request_wire.h"
#include "server/plan/book.h"

namespace rappel::server {

class AppointmentRequests {
 public:
  using Reply = ReplyFn;

  explicit AppointmentRequests(plan::AppointmentBook* book) : book_(book) {}

  // True if `type` is one of ours (then `reply` is called exactly once).
  static bool Handles(protocol::wire::Body type);
  // Which roles may send it: producers (platforms) all but AppointmentShow;
  // admins everything.
  static bool AllowedForProducer(protocol::wire::Body type);
  void Handle(const Connection& conn, const protocol::wire::Frame& frame, Reply reply);

 private:
  plan::AppointmentBook* book_;
};

}  // namespace rappel::server
