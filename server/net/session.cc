#include "server/net/session.h"

#include "absl/strings/str_cat.h"
#include "server/net/tls.h"

namespace rappel::server {

namespace wire = protocol::wire;

Session::Session(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
                 RequestHandler* handler, SessionOptions options,
                 std::function<void(Session*)> on_close)
    : socket_(std::move(socket), std::move(tls)),
      idle_timer_(socket_.get_executor()),
      handler_(handler),
      options_(options),
      on_close_(std::move(on_close)) {}

void Session::Start() {
  std::weak_ptr<Session> weak = weak_from_this();
  conn_.push = [weak](FrameBytes bytes) {
    if (auto self = weak.lock()) self->Send(std::move(bytes));
  };
  conn_.unsent_bytes = [weak]() -> size_t {
    auto self = weak.lock();
    return self ? self->outbound_bytes_ : 0;
  };
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  ArmIdleTimer();
  // Taken now: a handshake that timed out has closed the socket.
  asio::ip::tcp::endpoint peer = socket_.remote_endpoint(ec);
  socket_.AsyncHandshake(asio::ssl::stream_base::server,
                         std::chrono::milliseconds(options_.handshake_timeout_ms),
                         [self = shared_from_this(), peer](asio::error_code ec) {
                           if (self->closed_) return;
                           if (ec) {
                             LogHandshakeFailure(peer, ec);
                             self->Close();
                             return;
                           }
                           self->ReadPrefix();
                         });
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  idle_timer_.cancel();
  handler_->OnClose(conn_);
  conn_.push = nullptr;
  if (on_close_) on_close_(this);
}

bool Session::ShouldRead() const {
  return !closed_ && !closing_ && !reading_ && outbound_bytes_ <= options_.max_outbound_bytes &&
         slots_.size() < options_.max_pipelined;
}

void Session::MaybeResumeReading() {
  if (ShouldRead()) ReadPrefix();
}

void Session::ArmIdleTimer() {
  idle_timer_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
  idle_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    if (ec || self->closed_) return;
    self->Close();  // idle: nothing read for idle_timeout_ms
  });
}

void Session::ReadPrefix() {
  if (!ShouldRead()) return;
  reading_ = true;
  asio::async_read(socket_, asio::buffer(prefix_),
                   [self = shared_from_this()](asio::error_code ec, size_t) {
                     self->reading_ = false;
                     if (self->closed_) return;
                     if (ec) {
                       self->Close();  // the client went away
                       return;
                     }
                     auto length = protocol::DecodeFrameLength(self->prefix_,
                                                               self->options_.frame_limits);
                     if (!length.ok()) {
                       self->Fail(absl::IsResourceExhausted(length.status())
                                      ? wire::ErrorCode::FrameTooLarge
                                      : wire::ErrorCode::MalformedFrame,
                                  std::string(length.status().message()));
                       return;
                     }
                     self->ReadBody(*length);
                   });
}

void Session::ReadBody(uint32_t length) {
  frame_.resize(protocol::kLengthPrefixBytes + length);
  std::memcpy(frame_.data(), prefix_, protocol::kLengthPrefixBytes);
  reading_ = true;
  asio::async_read(socket_, asio::buffer(frame_.data() + protocol::kLengthPrefixBytes, length),
                   [self = shared_from_this()](asio::error_code ec, size_t) {
                     self->reading_ = false;
                     if (self->closed_) return;
                     if (ec) {
                       self->Close();  // truncated: the client went away mid-frame
                       return;
                     }
                     self->ArmIdleTimer();
                     self->OnFrame();
                   });
}

void Session::OnFrame() {
  auto frame = protocol::VerifyFrame(frame_.data(), frame_.size(), options_.frame_limits);
  if (!frame.ok()) {
    Fail(wire::ErrorCode::MalformedFrame, std::string(frame.status().message()));
    return;
  }
  uint64_t seq = first_slot_seq_ + slots_.size();
  slots_.emplace_back();
  std::weak_ptr<Session> weak = weak_from_this();
  handler_->Handle(conn_, **frame, [weak, seq](FrameBytes bytes, bool close) {
    if (auto self = weak.lock()) self->CompleteSlot(seq, std::move(bytes), close);
  });
  MaybeResumeReading();
}

void Session::Fail(wire::ErrorCode code, const std::string& message) {
  // After a bad frame the stream is out of step: say why, then close.
  Send(RequestHandler::ErrorFrame(0, code, message));
  closing_ = true;
  if (!writing_) Close();
}

void Session::CompleteSlot(uint64_t seq, FrameBytes bytes, bool close) {
  if (closed_ || seq < first_slot_seq_) return;
  Slot& slot = slots_[seq - first_slot_seq_];
  slot.ready = true;
  slot.close = close;
  slot.bytes = std::move(bytes);
  while (!slots_.empty() && slots_.front().ready) {
    Slot s = std::move(slots_.front());
    slots_.pop_front();
    ++first_slot_seq_;
    Send(std::move(s.bytes));
    if (s.close) {
      closing_ = true;
      break;
    }
  }
  MaybeResumeReading();
}

void Session::Send(FrameBytes bytes) {
  if (closed_) return;
  outbound_bytes_ += bytes.size();
  outbound_.push_back(std::move(bytes));
  Write();
}

void Session::Write() {
  if (writing_ || outbound_.empty() || closed_) return;
  writing_ = true;
  asio::async_write(socket_, asio::buffer(outbound_.front()),
                    [self = shared_from_this()](asio::error_code ec, size_t) {
                      self->writing_ = false;
                      if (self->closed_) return;
                      if (ec) {
                        self->Close();
                        return;
                      }
                      self->outbound_bytes_ -= self->outbound_.front().size();
                      self->outbound_.pop_front();
                      if (!self->outbound_.empty()) {
                        self->Write();
                      } else if (self->closing_) {
                        self->Close();
                        return;
                      } else if (self->conn_.drained) {
                        self->conn_.drained();  // a worker held back by its output: lease again
                      }
                      self->MaybeResumeReading();
                    });
}

}  // namespace rappel::server
