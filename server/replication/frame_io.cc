#include "server/replication/frame_io.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace rappel::server {

void FrameIo::Read(ReadFn fn) {
  auto self = shared_from_this();
  buffer_.resize(protocol::kLengthPrefixBytes);
  asio::async_read(
      socket_, asio::buffer(buffer_),
      [self, fn = std::move(fn)](asio::error_code ec, size_t) mutable {
        if (ec) return fn(absl::UnavailableError(ec.message()), nullptr);
        auto length = protocol::DecodeFrameLength(self->buffer_.data(), self->limits_);
        if (!length.ok()) return fn(length.status(), nullptr);
        self->buffer_.resize(protocol::kLengthPrefixBytes + *length);
        asio::async_read(
            self->socket_,
            asio::buffer(self->buffer_.data() + protocol::kLengthPrefixBytes, *length),
            [self, fn = std::move(fn)](asio::error_code ec, size_t) {
              if (ec) return fn(absl::UnavailableError(ec.message()), nullptr);
              auto frame =
                  protocol::VerifyFrame(self->buffer_.data(), self->buffer_.size(), self->limits_);
              if (!frame.ok()) return fn(frame.status(), nullptr);
              fn(absl::OkStatus(), *frame);
            });
      });
}

void FrameIo::Write(std::vector<SharedBytes> frames,
                    std::function<void(absl::Status)> done) {
  if (closed_) return;
  queue_.push_back({std::move(frames), std::move(done)});
  if (!writing_) WriteNext();
}

void FrameIo::Write(const flatbuffers::FlatBufferBuilder& builder,
                    std::function<void(absl::Status)> done) {
  SharedBytes bytes = ShareBytes(
      std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize()));
  Write(std::vector<SharedBytes>{std::move(bytes)}, std::move(done));
}

void FrameIo::WriteNext() {
  if (queue_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(queue_.front().frames.size());
  for (const auto& f : queue_.front().frames) buffers.push_back(asio::buffer(*f));
  asio::async_write(socket_, buffers, [self](asio::error_code ec, size_t) {
    Pending done = std::move(self->queue_.front());
    self->queue_.pop_front();
    if (ec) {
      self->writing_ = false;
      self->queue_.clear();
      if (done.done) done.done(absl::UnavailableError(ec.message()));
      return;
    }
    self->WriteNext();
    if (done.done) done.done(absl::OkStatus());
  });
}

void FrameIo::Close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace rappel::server
