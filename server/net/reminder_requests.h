// ReminderRequests: the reminder part of the protocol (Schedule, Cancel,
// Reschedule), turned into engine and dispatcher calls and their results
// into reply frames. The RequestHandler hands it every frame of those
// types, after Hello and the role check (producers and admins).
//
// Replies, once the change is durable: Schedule and Cancel with one result
// per item, in the request's order (an item whose key starts with "@",
// which belongs to the appointment book, or whose tenant the token may not
// act for, is refused in its place); Reschedule with one status (at once
// for an "@" key). A Reschedule for a tenant the token may not act for is
// an Error frame (PermissionDenied) and changes nothing. Schedule and Cancel
// answer an Error frame (InvalidArgument) instead, before anything is
// copied, when the request names more bytes than the copy budget
// (request_wire.h).
//
// Thread: the io thread, like the engine.
#pragma once

#include <cstddef>

#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"
#include "server/net/connection.h"
#include "server/net/request_wire.h"

namespace rappel::server {

class ReminderRequests {
 public:
  using Reply = ReplyFn;

  // Neither is owned; both outlive this. `max_frame_bytes` sets the copy
  // budget.
  ReminderRequests(Engine* engine, Dispatcher* dispatcher, size_t max_frame_bytes)
      : engine_(engine), dispatcher_(dispatcher), max_frame_bytes_(max_frame_bytes) {}

  // True if `type` is one of ours (then `reply` is called exactly once).
  static bool Handles(protocol::wire::Body type);
  void Handle(const Connection& conn, const protocol::wire::Frame& frame, Reply reply);

 private:
  void Schedule(const Connection& conn, uint64_t id, const protocol::wire::Schedule& req,
                Reply reply);
  void Cancel(const Connection& conn, uint64_t id, const protocol::wire::Cancel& req, Reply reply);
  void Reschedule(const Connection& conn, uint64_t id, const protocol::wire::Reschedule& req,
                  Reply reply);

  Engine* engine_;
  Dispatcher* dispatcher_;  // Cancel goes through it (attempt counts)
  size_t max_frame_bytes_;
};

}  // namespace rappel::server
