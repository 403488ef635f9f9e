// FrameIo: reads and writes protocol frames (protocol/framing.h) on one TCP
// socket of the replication port, for both ends: one read and one write in
// flight at most, each frame verified before its handler sees it.
//
// Thread: the io thread. Handlers run there; the FrameIo must outlive them
// (owners hold it by shared_ptr and capture it).
#pragma once

#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "protocol/framing.h"
#include "server/replication/shared_bytes.h"

namespace rappel::server {

class FrameIo : public std::enable_shared_from_this<FrameIo> {
 public:
  FrameIo(asio::ip::tcp::socket socket, protocol::FrameLimits limits)
      : socket_(std::move(socket)), limits_(limits) {}

  // Reads one frame. `fn` gets OK and the verified frame (valid during the
  // call only), or the error: a socket error (Unavailable), a frame too
  // large (ResourceExhausted) or malformed (InvalidArgument).
  using ReadFn = std::function<void(absl::Status, const protocol::wire::Frame*)>;
  void Read(ReadFn fn);

  // Queues bytes (whole frames) and sends them in order. `done` (may be
  // empty) runs once they are written, with the socket error if any.
  void Write(std::vector<SharedBytes> frames,
             std::function<void(absl::Status)> done = {});
  // A builder finished with protocol::FinishFrame.
  void Write(const flatbuffers::FlatBufferBuilder& builder,
             std::function<void(absl::Status)> done = {});

  bool writing() const { return writing_; }
  void Close();
  bool closed() const { return closed_; }
  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  struct Pending {
    std::vector<SharedBytes> frames;
    std::function<void(absl::Status)> done;
  };
  void WriteNext();

  asio::ip::tcp::socket socket_;
  protocol::FrameLimits limits_;
  std::vector<uint8_t> buffer_;
  std::deque<Pending> queue_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace rappel::server
