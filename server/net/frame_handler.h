// FrameHandler: what a Session hands the verified frames of its connection
// to. The primary's RequestHandler (request_handler.h) and a standby's
// StandbyHandler (standby_handler.h) are the two; the Server and its
// sessions do not know which one they serve.
//
// Thread: the io thread.
#pragma once

#include "protocol/framing.h"
#include "server/net/connection.h"
#include "server/net/request_wire.h"

namespace rappel::server {

class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // Handles one verified frame. `reply` is called exactly once, maybe later
  // (after a durable commit), with the reply frame and whether the
  // connection must be closed after it is sent.
  virtual void Handle(Connection& conn, const protocol::wire::Frame& frame, ReplyFn reply) = 0;
  // The connection is gone.
  virtual void OnClose(Connection& conn) = 0;
  // True if the current tokens still grant `conn` what its Hello gave it
  // (Server::CloseRevoked closes the others).
  virtual bool StillGranted(const Connection& conn) const = 0;
};

}  // namespace rappel::server
