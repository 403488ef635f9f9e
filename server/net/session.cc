#include "server/net/session.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/common/log_budget.h"
#include "server/net/tls.h"

namespace rappel::server {

namespace wire = protocol::wire;
using Clock = std::chrono::steady_clock;

Session::Session(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
                 FrameHandler* handler, SessionOptions options,
                 std::shared_ptr<PartialFrameBudget> budget, uint64_t id,
                 std::function<void(Session*)> on_close,
                 std::shared_ptr<RequestLatencies> latencies)
    : socket_(std::move(socket), std::move(tls)),
      idle_timer_(socket_.get_executor()),
      handler_(handler),
      options_(options),
      budget_(std::move(budget)),
      id_(id),
      on_close_(std::move(on_close)),
      latencies_(std::move(latencies)) {}

Session::~Session() { budget_->Release(id_); }

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
  conn_.peer = ec ? std::string("?") : absl::StrCat(peer.address().to_string(), ":", peer.port());
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
  // The budget forgets this connection now; a read in flight into large_
  // is aborted by the close and its handler frees the buffer.
  budget_->Release(id_);
  if (!reading_) DropLarge();
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

void Session::ArmTimer(Clock::time_point at) {
  idle_timer_.expires_at(at);
  idle_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    if (ec || self->closed_) return;
    self->OnTimer();
  });
}

void Session::ArmIdleTimer() {
  ArmTimer(Clock::now() + std::chrono::milliseconds(options_.idle_timeout_ms));
}

void Session::OnTimer() {
  if (closing_) {
    Close();  // the Error frame was not taken within the grace
  } else if (large_ && Clock::now() >= frame_deadline_) {
    AbortFrame(wire::ErrorCode::DeadlineExceeded,
               absl::StrCat("frame of ", frame_size_ - protocol::kLengthPrefixBytes,
                            " bytes not complete within ", options_.frame_timeout_ms,
                            " ms (", received_, " bytes received)"));
  } else {
    Close();  // idle: no complete frame for idle_timeout_ms
  }
}

void Session::ReadPrefix() {
  if (!ShouldRead()) return;
  reading_ = true;
  asio::async_read(
      socket_, asio::buffer(reused_, protocol::kLengthPrefixBytes),
      [self = shared_from_this()](asio::error_code ec, size_t) {
        self->reading_ = false;
        if (self->closed_) return;
        if (ec) {
          self->Close();  // the client went away
          return;
        }
        auto length = protocol::DecodeFrameLength(self->reused_, self->options_.frame_limits);
        if (!length.ok()) {
          self->Fail(absl::IsResourceExhausted(length.status()) ? wire::ErrorCode::FrameTooLarge
                                                                : wire::ErrorCode::MalformedFrame,
                     std::string(length.status().message()));
          return;
        }
        if (!self->conn_.greeted && *length > protocol::kMaxHelloFrameBytes) {
          self->Fail(wire::ErrorCode::FrameTooLarge,
                     absl::StrCat("frame of ", *length, " bytes before Hello; the limit before ",
                                  "Hello is ", protocol::kMaxHelloFrameBytes, " bytes"));
          return;
        }
        self->frame_size_ = protocol::kLengthPrefixBytes + *length;
        self->received_ = protocol::kLengthPrefixBytes;
        if (self->frame_size_ <= kReusedFrameBytes) {
          self->ReadReusedBody();
        } else {
          self->ReadLargeBody();
        }
      });
}

void Session::ReadReusedBody() {
  reading_ = true;
  asio::async_read(socket_, asio::buffer(reused_ + received_, frame_size_ - received_),
                   [self = shared_from_this()](asio::error_code ec, size_t) {
                     self->reading_ = false;
                     if (self->closed_) return;
                     if (ec) {
                       self->Close();  // truncated: the client went away mid-frame
                       return;
                     }
                     self->ArmIdleTimer();
                     self->OnFrame(self->reused_, self->frame_size_);
                   });
}

void Session::ReadLargeBody() {
  uint8_t* buffer = reused_;
  size_t capacity = kReusedFrameBytes;
  if (large_ || received_ == kReusedFrameBytes) {
    // The kept buffer is full (or the larger one is): grow by what has
    // arrived, never past the declared length, with the budget's leave.
    if (!large_ || received_ == large_capacity_) {
      size_t next = std::min(frame_size_, std::max(2 * large_capacity_, kFirstLargeBytes));
      bool first = !large_;
      if (!budget_->Take(id_, next - large_capacity_, [this] {
            AbortFrame(wire::ErrorCode::ResourceExhausted,
                       absl::StrCat("closed to make room: frames being received on all ",
                                    "connections passed the budget of ", budget_->limit_bytes(),
                                    " bytes (newest connections first)"));
          })) {
        AbortFrame(wire::ErrorCode::ResourceExhausted,
                   absl::StrCat("frames being received on all connections would pass the ",
                                "budget of ", budget_->limit_bytes(), " bytes"));
        return;
      }
      auto grown = std::make_unique_for_overwrite<uint8_t[]>(next);
      std::memcpy(grown.get(), first ? reused_ : large_.get(), received_);
      large_ = std::move(grown);
      large_capacity_ = next;
      if (first) {
        frame_deadline_ = Clock::now() + std::chrono::milliseconds(options_.frame_timeout_ms);
        if (frame_deadline_ < idle_timer_.expiry()) ArmTimer(frame_deadline_);
      }
    }
    buffer = large_.get();
    capacity = large_capacity_;
  }
  reading_ = true;
  socket_.async_read_some(
      asio::buffer(buffer + received_, capacity - received_),
      [self = shared_from_this()](asio::error_code ec, size_t n) {
        self->reading_ = false;
        if (self->closed_ || self->closing_) {
          self->DropLarge();  // aborted (evicted, timed out) or closed meanwhile
          return;
        }
        if (ec) {
          self->Close();  // truncated: the client went away mid-frame
          return;
        }
        self->received_ += n;
        if (self->received_ < self->frame_size_) {
          self->ReadLargeBody();
          return;
        }
        self->ArmIdleTimer();
        self->OnFrame(self->large_.get(), self->frame_size_);
      });
}

void Session::DropLarge() {
  budget_->Release(id_);
  large_.reset();
  large_capacity_ = 0;
}

void Session::AbortFrame(wire::ErrorCode code, const std::string& message) {
  // Every connection shares it: a flood of offenders writes a few lines a
  // second, the rest counted.
  static LogBudget log_budget(10);
  if (LogBudget::Grant g = log_budget.Take(SystemNowMs()); g.log) {
    asio::error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    LogWarn(absl::StrCat("closing connection from ", ec ? std::string("?") : peer.address().to_string(),
                         ": ", message,
                         g.suppressed > 0 ? absl::StrCat(" (", g.suppressed, " more not logged)")
                                          : std::string()));
  }
  budget_->Release(id_);
  if (reading_) {
    // The read in flight writes into large_: end it at once (it returns
    // what is queued or end of stream) and let its handler free the buffer.
    asio::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
  } else {
    DropLarge();
  }
  Fail(code, message);
}

void Session::OnFrame(const uint8_t* data, size_t size) {
  auto frame = protocol::VerifyFrame(data, size, options_.frame_limits);
  if (!frame.ok()) {
    DropLarge();
    Fail(wire::ErrorCode::MalformedFrame, std::string(frame.status().message()));
    return;
  }
  uint64_t seq = first_slot_seq_ + slots_.size();
  Slot& slot = slots_.emplace_back();
  slot.type = (*frame)->body_type();
  slot.arrived = Clock::now();
  std::weak_ptr<Session> weak = weak_from_this();
  // The handler copies what it keeps: the frame's buffer is reused or freed
  // as soon as it returns.
  handler_->Handle(conn_, **frame, [weak, seq](FrameBytes bytes, bool close) {
    if (auto self = weak.lock()) self->CompleteSlot(seq, std::move(bytes), close);
  });
  if (large_) DropLarge();
  MaybeResumeReading();
}

void Session::Fail(wire::ErrorCode code, const std::string& message) {
  if (closing_ || closed_) return;
  // After a bad frame the stream is out of step: say why, then close.
  Send(ErrorFrame(0, code, message));
  closing_ = true;
  if (!writing_) {
    Close();
    return;
  }
  ArmTimer(Clock::now() + std::chrono::milliseconds(kCloseGraceMs));
}

void Session::CompleteSlot(uint64_t seq, FrameBytes bytes, bool close) {
  if (closed_ || seq < first_slot_seq_) return;
  Slot& slot = slots_[seq - first_slot_seq_];
  slot.ready = true;
  slot.close = close;
  slot.bytes = std::move(bytes);
  latencies_->by_type[static_cast<size_t>(slot.type)].Observe(
      std::chrono::duration<double>(Clock::now() - slot.arrived).count());
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
  // No SIGPIPE from a peer that has gone: Asio sends with MSG_NOSIGNAL on
  // Linux (asio/detail/impl/socket_ops.ipp), a TLS stream too since it
  // writes through the socket; session_test checks it with SIGPIPE at its
  // default action.
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
