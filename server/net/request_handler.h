// RequestHandler: turns verified request frames into engine and dispatcher
// calls, and their results into reply frames. Knows nothing about sockets
// (Asio's HTTP server example: connection vs request handler).
//
// Thread: the io thread, like the engine it drives.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"

namespace rappel::server {

using FrameBytes = std::vector<uint8_t>;

struct HandlerOptions {
  // token -> role. Empty: every connection may say Hello with an empty token
  // and gets the admin role (the loopback default).
  std::map<std::string, protocol::wire::Role> tokens;
  std::string server_name = "rappeld";
  protocol::FrameLimits frame_limits;
  // Announced in HelloReply; set from EngineOptions::max_payload_bytes, which
  // enforces it.
  size_t max_payload_bytes = 64 * 1024;
};

// What the handler keeps per connection.
struct Connection {
  bool greeted = false;
  protocol::wire::Role role = protocol::wire::Role::Producer;
  uint64_t worker_id = 0;  // non-zero once subscribed
  std::string client_name;
  // Sends a server push (a Delivery) on this connection.
  std::function<void(FrameBytes)> push;
};

class RequestHandler {
 public:
  RequestHandler(HandlerOptions options, Engine* engine, Dispatcher* dispatcher);

  // Handles one verified frame. `reply` is called exactly once, maybe later
  // (after a durable commit), with the reply frame and whether the
  // connection must be closed after it is sent.
  using Reply = std::function<void(FrameBytes, bool close)>;
  void Handle(Connection& conn, const protocol::wire::Frame& frame, Reply reply);
  // The connection is gone: its leases go to other workers.
  void OnClose(Connection& conn);

  // An Error frame (also used by the session for frames that fail
  // verification).
  static FrameBytes ErrorFrame(uint64_t request_id, protocol::wire::ErrorCode code,
                               const std::string& message);

 private:
  bool Allowed(const Connection& conn, protocol::wire::Body body) const;
  void Hello(Connection& conn, uint64_t id, const protocol::wire::Hello& hello, Reply reply);

  HandlerOptions options_;
  Engine* engine_;
  Dispatcher* dispatcher_;
};

}  // namespace rappel::server
