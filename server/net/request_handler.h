// RequestHandler: turns verified request frames into calls on the core and
// their results into reply frames. Knows nothing about sockets (Asio's HTTP
// server example: connection vs request handler).
//
// It is a router: it answers Hello (authentication: the token's role, name
// and tenants) and Ping itself, checks the role, refuses a request with a
// text field that is not valid UTF-8 (InvalidArgument naming the field,
// TextFields: every string of the schema, so the families only ever see
// valid text), and hands each other request to its family, one file each:
//
//   family               requests                                      role
//   ReminderRequests     Schedule, Cancel, Reschedule                  producer
//   WorkerRequests       Subscribe, Ack (and the Delivery pushes)      worker
//   AdminRequests        Stats, Compact, Inspect, KeyList,             admin
//                        DeadLetterList, DeadLetterReplay, Backup
//   AppointmentRequests  objects, appointment events, tokens, show     producer
//                        (AppointmentShow and Credits: admin)
//   RateRequests         RateLimitSet, RateList                        admin
//   MessageRequests      OutcomeReport                                 worker, producer
//                        MessageSummary, MessageList                   producer
//
// Admins may send everything; every role may Ping. Each family checks the
// tenants a request names against the token's (tenant_access.h). Each
// family's header states what it replies and when.
//
// Thread: the io thread, like the engine it drives. Backup is the exception
// (AdminRequests): the copy runs on a thread of its own and its reply is
// posted back to the io thread (HandlerOptions::post).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"
#include "server/net/admin_requests.h"
#include "server/net/appointment_requests.h"
#include "server/net/connection.h"
#include "server/net/credentials.h"
#include "server/net/frame_handler.h"
#include "server/net/message_requests.h"
#include "server/net/rate_requests.h"
#include "server/net/reminder_requests.h"
#include "server/net/replication_view.h"
#include "server/net/request_wire.h"
#include "server/net/worker_requests.h"

namespace rappel::server {

struct HandlerOptions {
  // The tokens accepted at Hello (secrets hashed). Empty: every connection
  // may say Hello with an empty token and is admin for every tenant (the
  // loopback default).
  std::vector<Credential> tokens;
  std::string server_name = "rappeld";
  protocol::FrameLimits frame_limits;
  // Announced in HelloReply; set from EngineOptions::max_payload_bytes, which
  // enforces it.
  size_t max_payload_bytes = 64 * 1024;
  // Runs a closure on the io thread (asio::post); the backup thread hands
  // its result back with it. Null: Backup runs inline on the io thread.
  std::function<void(std::function<void()>)> post;
  // Tests: runs on the backup thread before the copy starts.
  std::function<void()> before_backup;
  // Announced in HelloReply.shard_role: Leader on a primary with a
  // replication listener, Single otherwise.
  protocol::wire::ShardRole shard_role = protocol::wire::ShardRole::Single;
  // StatsReply.replication (admin with every tenant); null: role Single,
  // nothing else.
  std::function<ReplicationView()> replication;
};

class RequestHandler : public FrameHandler {
 public:
  // `book` may be null: the appointment requests are then UnknownRequest.
  RequestHandler(HandlerOptions options, Engine* engine, Dispatcher* dispatcher,
                 plan::AppointmentBook* book);
  // Waits for a backup in progress.
  ~RequestHandler();

  // Handles one verified frame. `reply` is called exactly once, maybe later
  // (after a durable commit), with the reply frame and whether the
  // connection must be closed after it is sent.
  using Reply = ReplyFn;
  void Handle(Connection& conn, const protocol::wire::Frame& frame, Reply reply) override;
  // The connection is gone: its leases go to other workers.
  void OnClose(Connection& conn) override;

  // True if the tokens still grant `conn` what its Hello gave it: its token
  // is there with the same role and tenants (or, with no tokens at all, it
  // said Hello with none). A reload closes the connections for which it is
  // false.
  bool StillGranted(const Connection& conn) const override;
  // Replaces the tokens (SIGHUP); the next Hello uses them.
  void SetTokens(decltype(HandlerOptions::tokens) tokens) { options_.tokens = std::move(tokens); }

  // True while a backup copy runs (its reply not yet sent).
  bool backup_running() const { return admin_.backup_running(); }
  // Blocks until the backup thread, if any, has finished (the store must
  // outlive the copy). Its reply is dropped if not yet sent.
  void JoinBackup();

  // An Error frame (also used by the session for frames that fail
  // verification).
  static FrameBytes ErrorFrame(uint64_t request_id, protocol::wire::ErrorCode code,
                               const std::string& message);

 private:
  bool Allowed(const Connection& conn, protocol::wire::Body body) const;
  void Hello(Connection& conn, uint64_t id, const protocol::wire::Hello& hello, Reply reply);
  // True when a text field is not valid UTF-8: then replied with
  // InvalidArgument (and `close`).
  bool RefuseInvalidText(const protocol::wire::Frame& frame, Reply& reply, bool close);

  HandlerOptions options_;
  ReminderRequests reminders_;
  WorkerRequests workers_;
  std::optional<AppointmentRequests> appointments_;
  std::optional<MessageRequests> messages_;
  RateRequests rates_;
  // Last, so destroyed first: it waits for a backup copy before anything
  // else goes.
  AdminRequests admin_;
};

}  // namespace rappel::server
