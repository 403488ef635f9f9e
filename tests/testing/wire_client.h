// WireClient: a blocking test client speaking raw frames to rappeld over
// loopback: it can send anything, including frames a real client never
// would. (The client library proper is client/, issue 3.)
#pragma once

#include <asio.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client/timed_read.h"
#include "protocol/framing.h"

namespace rappel::testing {

namespace wire = ::rappel::protocol::wire;

class WireClient {
 public:
  explicit WireClient(uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    socket_.set_option(asio::ip::tcp::no_delay(true));
  }

  void SendRaw(const std::vector<uint8_t>& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // For a server that may close mid-write: false instead of an exception.
  bool TrySendRaw(const std::vector<uint8_t>& bytes) {
    asio::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
    return !ec;
  }
  void Send(flatbuffers::FlatBufferBuilder& b, uint64_t id, wire::Body type,
            flatbuffers::Offset<void> body) {
    protocol::FinishFrame(b, id, type, body);
    asio::write(socket_, asio::buffer(b.GetBufferPointer(), b.GetSize()));
  }

  // Reads one frame; nullopt when the server closed the connection or
  // nothing came within the timeout.
  std::optional<std::vector<uint8_t>> Read(std::chrono::milliseconds timeout =
                                               std::chrono::seconds(10)) {
    std::vector<uint8_t> frame(4);
    if (!ReadExactly(frame.data(), 4, timeout)) return std::nullopt;
    uint32_t n = frame[0] | frame[1] << 8 | frame[2] << 16 | static_cast<uint32_t>(frame[3]) << 24;
    frame.resize(4 + n);
    if (!ReadExactly(frame.data() + 4, n, timeout)) return std::nullopt;
    return frame;
  }
  // Next reply (any frame but a Delivery); deliveries read meanwhile are
  // kept for ReadDelivery. nullptr on timeout or close.
  const wire::Frame* ReadReply(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!Fill(&replies_, timeout)) return nullptr;
    last_ = std::move(replies_.front());
    replies_.erase(replies_.begin());
    return wire::GetSizePrefixedFrame(last_.data());
  }
  // Next Delivery push; replies read meanwhile are kept for ReadReply.
  const wire::Delivery* ReadDelivery(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!Fill(&deliveries_, timeout)) return nullptr;
    last_ = std::move(deliveries_.front());
    deliveries_.erase(deliveries_.begin());
    return wire::GetSizePrefixedFrame(last_.data())->body_as_Delivery();
  }
  // True when the server has closed the connection.
  bool Closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    uint8_t byte;
    while (ReadExactly(&byte, 1, timeout)) {
    }
    return eof_;
  }

  const wire::Frame* Hello(const std::string& token = "") {
    flatbuffers::FlatBufferBuilder b;
    auto body = wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString(token),
                                  b.CreateString("test"));
    Send(b, 1, wire::Body::Hello, body.Union());
    return ReadReply();
  }

 private:
  // Reads frames into their queues until `queue` has one.
  bool Fill(std::vector<std::vector<uint8_t>>* queue, std::chrono::milliseconds timeout) {
    while (queue->empty()) {
      auto f = Read(timeout);
      if (!f) return false;
      bool delivery = wire::GetSizePrefixedFrame(f->data())->body_type() == wire::Body::Delivery;
      (delivery ? deliveries_ : replies_).push_back(std::move(*f));
    }
    return true;
  }

  bool ReadExactly(uint8_t* out, size_t n, std::chrono::milliseconds timeout) {
    client::TimedRead r = client::ReadWithTimeout(io_, socket_, out, n, timeout);
    if (r.error == asio::error::eof || r.error == asio::error::connection_reset) eof_ = true;
    return !r.timed_out && !r.error && r.got == n;
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::vector<uint8_t> last_;
  std::vector<std::vector<uint8_t>> deliveries_;
  std::vector<std::vector<uint8_t>> replies_;
  bool eof_ = false;
};

}  // namespace rappel::testing
