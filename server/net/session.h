// Session: one client connection: one reader, one writer (Asio's
// connection). Frames are length-checked before anything is allocated and
// verified before anything is read; replies go out in request order even
// when later requests finish first; server pushes (deliveries) go out as
// they come.
//
// Backpressure: while more than max_outbound_bytes wait to be written, or
// max_pipelined requests wait for their replies, the session stops reading
// from the socket, so a client that does not read cannot make the server
// buffer without bound.
//
// Thread: the io thread.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "protocol/stream.h"
#include "server/net/request_handler.h"

namespace rappel::server {

struct SessionOptions {
  protocol::FrameLimits frame_limits;
  size_t max_outbound_bytes = 8u << 20;
  size_t max_pipelined = 1024;
  int64_t idle_timeout_ms = 300'000;
  // A TLS client that has not finished its handshake by then is closed.
  int64_t handshake_timeout_ms = 10'000;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `tls`: the server's TLS context for this connection; null: plain TCP.
  Session(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
          RequestHandler* handler, SessionOptions options, std::function<void(Session*)> on_close);
  // The TLS handshake (if any), then reading. A failed handshake is logged
  // (rate-limited) and closes the connection.
  void Start();
  // Closes the socket; outstanding replies are dropped.
  void Close();

 private:
  struct Slot {
    bool ready = false;
    bool close = false;
    FrameBytes bytes;
  };
  void ReadPrefix();
  void ReadBody(uint32_t length);
  void OnFrame();
  void Fail(protocol::wire::ErrorCode code, const std::string& message);
  void CompleteSlot(uint64_t seq, FrameBytes bytes, bool close);
  void Send(FrameBytes bytes);
  void Write();
  void ArmIdleTimer();
  bool ShouldRead() const;
  void MaybeResumeReading();

  protocol::Stream socket_;  // plain TCP or TLS
  asio::steady_timer idle_timer_;
  RequestHandler* handler_;
  SessionOptions options_;
  std::function<void(Session*)> on_close_;
  Connection conn_;
  uint8_t prefix_[protocol::kLengthPrefixBytes];
  FrameBytes frame_;
  std::deque<Slot> slots_;     // replies not yet sent, in request order
  uint64_t first_slot_seq_ = 0;
  std::deque<FrameBytes> outbound_;
  size_t outbound_bytes_ = 0;
  bool writing_ = false;
  bool reading_ = false;
  bool closing_ = false;       // close once everything queued is written
  bool closed_ = false;
};

}  // namespace rappel::server
