// Session: one client connection: one reader, one writer (Asio's
// connection). Frames are length-checked before anything is allocated and
// verified before anything is read; replies go out in request order even
// when later requests finish first; server pushes (deliveries) go out as
// they come.
//
// Receiving: before Hello a frame body is at most protocol::kMaxHelloFrameBytes
// (4 KiB); a larger declared length is FrameTooLarge and closes the
// connection. A frame that fits kReusedFrameBytes is read into a buffer the
// session keeps (no allocation per frame). A larger one is read into a buffer
// that grows with the bytes that arrive (doubling from kFirstLargeBytes, up
// to the declared length), taken from the server's PartialFrameBudget and
// freed once the frame is handled. When the budget refuses, or evicts this
// connection for an older one, or the frame has not arrived whole
// frame_timeout_ms after it first took budget, the session sends an Error
// (ResourceExhausted, DeadlineExceeded) and closes.
//
// Backpressure: while more than max_outbound_bytes wait to be written, or
// max_pipelined requests wait for their replies, the session stops reading
// from the socket (between frames), so a client that does not read cannot
// make the server buffer without bound.
//
// Timers: idle_timeout_ms after the last complete frame the connection is
// closed; after an Error frame it is closed once that is written, or
// kCloseGraceMs later if the client does not read it.
//
// Thread: the io thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "protocol/stream.h"
#include "server/net/frame_handler.h"
#include "server/net/partial_frame_budget.h"
#include "server/net/request_stats.h"

namespace rappel::server {

struct SessionOptions {
  protocol::FrameLimits frame_limits;
  size_t max_outbound_bytes = 8u << 20;
  size_t max_pipelined = 1024;
  int64_t idle_timeout_ms = 300'000;
  // A TLS client that has not finished its handshake by then is closed.
  int64_t handshake_timeout_ms = 10'000;
  // A frame that holds receive budget must be complete this long after it
  // first took some: 16 MiB in 60 s is 280 KB/s, slower than any client
  // rappel serves, and a client trickling a frame cannot hold budget longer.
  int64_t frame_timeout_ms = 60'000;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // The prefix and a body up to the Hello limit fit the kept buffer.
  static constexpr size_t kReusedFrameBytes =
      protocol::kLengthPrefixBytes + protocol::kMaxHelloFrameBytes;
  // The first buffer of a larger frame; each growth doubles it.
  static constexpr size_t kFirstLargeBytes = 2 * kReusedFrameBytes;
  static constexpr int64_t kCloseGraceMs = 1000;

  // `tls`: the server's TLS context for this connection; null: plain TCP.
  // `id` orders connections by age for the budget (larger: newer).
  Session(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
          FrameHandler* handler, SessionOptions options, std::shared_ptr<PartialFrameBudget> budget,
          uint64_t id, std::function<void(Session*)> on_close,
          std::shared_ptr<RequestLatencies> latencies);
  ~Session();
  // The TLS handshake (if any), then reading. A failed handshake is logged
  // (rate-limited) and closes the connection.
  void Start();
  // Closes the socket; outstanding replies are dropped.
  void Close();
  // Sends an Unauthenticated error saying why, then closes: its token was
  // removed or changed by a reload.
  void Revoke(const std::string& message) {
    Fail(protocol::wire::ErrorCode::Unauthenticated, message);
  }
  const Connection& connection() const { return conn_; }

 private:
  struct Slot {
    bool ready = false;
    bool close = false;
    protocol::wire::Body type = protocol::wire::Body::NONE;
    std::chrono::steady_clock::time_point arrived;
    FrameBytes bytes;
  };
  void ReadPrefix();
  void ReadReusedBody();
  void ReadLargeBody();
  void OnFrame(const uint8_t* data, size_t size);
  void AbortFrame(protocol::wire::ErrorCode code, const std::string& message);
  void DropLarge();
  void Fail(protocol::wire::ErrorCode code, const std::string& message);
  void CompleteSlot(uint64_t seq, FrameBytes bytes, bool close);
  void Send(FrameBytes bytes);
  void Write();
  void ArmTimer(std::chrono::steady_clock::time_point at);
  void ArmIdleTimer();
  void OnTimer();
  bool ShouldRead() const;
  void MaybeResumeReading();

  protocol::Stream socket_;  // plain TCP or TLS
  asio::steady_timer idle_timer_;  // idle, frame deadline, close grace
  FrameHandler* handler_;
  SessionOptions options_;
  std::shared_ptr<PartialFrameBudget> budget_;
  uint64_t id_;
  std::function<void(Session*)> on_close_;
  Connection conn_;
  std::shared_ptr<RequestLatencies> latencies_;
  // The frame being read: 4 + N bytes, `received_` of them so far, in
  // reused_ until it is full, then in large_ (large_capacity_ bytes, charged
  // to the budget). FlatBuffers needs the frame 8-aligned.
  alignas(8) uint8_t reused_[kReusedFrameBytes];
  std::unique_ptr<uint8_t[]> large_;
  size_t large_capacity_ = 0;
  size_t frame_size_ = 0;
  size_t received_ = 0;
  std::chrono::steady_clock::time_point frame_deadline_;
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
