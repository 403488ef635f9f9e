// WorkerRequests: the worker part of the protocol (Subscribe, Ack), turned
// into Dispatcher calls and their results into reply frames; and the
// Delivery pushes a subscribed connection receives. The RequestHandler
// hands it every frame of those types, after Hello and the role check
// (workers and admins).
//
// Replies: Subscribe at once (a status: unknown channel, no channels, a
// cap exceeded, or already subscribed refuse it); the worker receives only
// the tenants of its connection's token (Connection::tenants), and is
// leased nothing while its connection's output is backed up
// (Connection::unsent_bytes, drained); Ack with one status per item, in order,
// once every item's effect is durable (an unknown outcome is refused in
// place).
//
// Thread: the io thread, like the dispatcher.
#pragma once

#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/net/connection.h"
#include "server/net/request_wire.h"

namespace rappel::server {

class WorkerRequests {
 public:
  using Reply = ReplyFn;

  // Not owned; outlives this.
  explicit WorkerRequests(Dispatcher* dispatcher) : dispatcher_(dispatcher) {}

  // True if `type` is one of ours (then `reply` is called exactly once).
  static bool Handles(protocol::wire::Body type);
  // Subscribe records the worker in `conn` (worker_id, and `drained`, which
  // the session calls once it has written all it held) and pushes its
  // deliveries through conn.push.
  void Handle(Connection& conn, const protocol::wire::Frame& frame, Reply reply);
  // The connection is gone: its leases go to other workers.
  void OnClose(Connection& conn);

 private:
  void Subscribe(Connection& conn, uint64_t id, const protocol::wire::Subscribe& req, Reply reply);
  void Ack(const Connection& conn, uint64_t id, const protocol::wire::Ack& req, Reply reply);

  Dispatcher* dispatcher_;
};

}  // namespace rappel::server
