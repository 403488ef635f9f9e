#include "rappel/async_client.h"

#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "client/codec.h"
#include "client/tls.h"

namespace rappel::client {

namespace wire = protocol::wire;
using Clock = std::chrono::steady_clock;
using flatbuffers::DetachedBuffer;
using flatbuffers::FlatBufferBuilder;

class AsyncClient::Impl : public std::enable_shared_from_this<AsyncClient::Impl> {
 public:
  using OnReply = std::function<void(absl::StatusOr<const wire::Frame*>)>;

  Impl(asio::io_context& io, Options options)
      : io_(io),
        options_(std::move(options)),
        resolver_(io),
        reconnect_timer_(io),
        sweep_timer_(io),
        backoff_(options_.reconnect.initial) {
    endpoints_ = options_.endpoints;
    if (endpoints_.empty()) endpoints_.push_back(Endpoint{options_.host, options_.port});
    target_ = endpoints_.front();
    rbuf_.resize(64 << 10);
    if (options_.tls.enabled) {
      auto tls = LoadClientTls(options_.tls);
      if (tls.ok()) {
        tls_ = std::move(*tls);
      } else {
        tls_error_ = tls.status();
      }
    }
  }

  void Start(StatusCallback done) {
    if (state_ != State::kIdle) {
      Post([done = std::move(done)] { done(absl::FailedPreconditionError("already started")); });
      return;
    }
    start_done_ = std::move(done);
    if (!tls_error_.ok()) {
      // Bad TLS files will not get better by retrying.
      final_error_ = tls_error_;
      state_ = State::kClosed;
      FailAll(final_error_);
      return;
    }
    Connect();
  }

  void Close() {
    if (state_ == State::kClosed) return;
    final_error_ = absl::CancelledError("client closed");
    state_ = State::kClosed;
    reconnect_timer_.cancel();
    sweep_timer_.cancel();
    resolver_.cancel();
    CloseSocket();
    FailAll(final_error_);
  }

  bool connected() const { return state_ == State::kReady; }
  std::string endpoint() const { return Where(target_); }
  ShardRole shard_role() const { return role_; }
  size_t outstanding() const { return queued_.size() + sent_.size() + redirected_.size(); }
  void set_connection_handler(StatusCallback h) { connection_handler_ = std::move(h); }

  // Encodes with `encode(builder, request_id)` and sends when connected.
  template <typename Encode>
  void Call(Encode&& encode, wire::Body expected, OnReply on_reply) {
    uint64_t id = next_id_++;
    FlatBufferBuilder b(1024);
    encode(b, id);
    if (state_ == State::kClosed) {
      Post([on_reply = std::move(on_reply), st = final_error_] { on_reply(st); });
      return;
    }
    if (b.GetSize() > protocol::kLengthPrefixBytes + server_max_frame_bytes_) {
      Post([on_reply = std::move(on_reply), size = b.GetSize(), max = server_max_frame_bytes_] {
        on_reply(absl::InvalidArgumentError(absl::StrCat(
            "request of ", size, " bytes is above the server's frame limit of ", max,
            " bytes: split the batch")));
      });
      return;
    }
    Request r{id, expected, std::make_shared<const DetachedBuffer>(b.Release()),
              std::move(on_reply), Clock::now() + options_.timeout};
    if (state_ == State::kReady) {
      Send(std::move(r));
    } else {
      queued_.push_back(std::move(r));
    }
    ArmSweep();
  }

  void Subscribe(const Subscription& s, DeliveryHandler on_messages, StatusCallback done) {
    subscription_ = s;
    on_messages_ = std::move(on_messages);
    std::weak_ptr<Impl> weak = weak_from_this();
    Call([s](FlatBufferBuilder& b, uint64_t id) { codec::EncodeSubscribe(b, id, s); },
         wire::Body::SubscribeReply,
         [weak, done = std::move(done)](absl::StatusOr<const wire::Frame*> f) {
           absl::Status st = f.ok() ? codec::DecodeStatusReply(*f) : f.status();
           // Renewed after reconnects once the server has accepted it.
           if (auto self = weak.lock()) self->subscribed_ = st.ok();
           done(st);
         });
  }

 private:
  // kDraining: a request was refused by a node that does not lead; the
  // replies still due on this connection are awaited, new requests wait,
  // then the client goes to the leader (FinishRedirect).
  enum class State { kIdle, kConnecting, kHello, kReady, kDraining, kBackoff, kClosed };
  struct Request {
    uint64_t id;
    wire::Body expected;
    // Shared with the write queue. Kept until the answer on a node of a
    // replicated shard (to send it again if refused), dropped once queued
    // for writing on a single node.
    std::shared_ptr<const DetachedBuffer> bytes;
    OnReply on_reply;
    Clock::time_point deadline;
    // Sent again elsewhere when a node that does not lead refuses it (it
    // was not applied); false for the client's own Resubscribe, which
    // Hello on the next node repeats anyway.
    bool requeue = true;
  };

  static std::string Where(const Endpoint& e) {
    bool v6 = e.host.find(':') != std::string::npos;
    return absl::StrCat(v6 ? "[" : "", e.host, v6 ? "]" : "", ":", e.port);
  }

  void Post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

  StatusCallback TakeStartDone() {
    StatusCallback done = std::move(start_done_);
    start_done_ = nullptr;
    return done;
  }

  void Connect() {
    state_ = State::kConnecting;
    role_ = ShardRole::kSingle;
    if (hint_) {
      target_ = *hint_;
      hint_.reset();
    } else {
      target_ = endpoints_[next_endpoint_ % endpoints_.size()];
      next_endpoint_ = (next_endpoint_ + 1) % endpoints_.size();
    }
    uint64_t gen = ++generation_;
    // A new stream per connection: a TLS session does not start over on a
    // used one. Handlers hold the stream they were started on.
    stream_ = std::make_shared<protocol::Stream>(asio::ip::tcp::socket(io_), tls_);
    auto self = shared_from_this();
    resolver_.async_resolve(
        target_.host, std::to_string(target_.port),
        [this, self, gen](asio::error_code ec, asio::ip::tcp::resolver::results_type endpoints) {
          if (gen != generation_ || state_ == State::kClosed) return;
          if (ec) return Lost(Unreachable(ec));
          auto stream = stream_;
          asio::async_connect(stream->lowest_layer(), endpoints,
                              [this, self, gen, stream](asio::error_code ec,
                                                        const asio::ip::tcp::endpoint&) {
                                if (gen != generation_ || state_ == State::kClosed) return;
                                if (ec) return Lost(Unreachable(ec));
                                Handshake(gen);
                              });
        });
  }

  void Handshake(uint64_t gen) {
    auto stream = stream_;
    if (auto* tls = stream->tls_stream()) {
      PrepareClientStream(
          *tls, options_.tls,
          options_.tls.server_name.empty() ? target_.host : options_.tls.server_name);
    }
    auto self = shared_from_this();
    stream->AsyncHandshake(
        asio::ssl::stream_base::client, options_.timeout,
        [this, self, gen, stream](asio::error_code ec) {
          if (gen != generation_ || state_ == State::kClosed) return;
          if (ec) {
            absl::Status st = absl::UnavailableError(absl::StrCat(
                "TLS handshake with rappeld at ", Where(target_), " failed: ", ec.message()));
            // A certificate that does not verify, or a server that does not
            // speak TLS, will not get better by retrying.
            if (ec.category() == asio::error::get_ssl_category()) final_error_ = st;
            return Lost(st);
          }
          OnConnected();
        });
  }

  absl::Status Unreachable(const asio::error_code& ec) const {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to rappeld at ", Where(target_), ": ", ec.message()));
  }

  void OnConnected() {
    asio::error_code ignored;
    stream_->set_option(asio::ip::tcp::no_delay(true), ignored);
    state_ = State::kHello;
    rlen_ = 0;
    Read();
    uint64_t id = next_id_++;
    FlatBufferBuilder b(256);
    codec::EncodeHello(b, id, options_);
    std::weak_ptr<Impl> weak = weak_from_this();
    Send(Request{id, wire::Body::HelloReply, std::make_shared<const DetachedBuffer>(b.Release()),
                 [weak](absl::StatusOr<const wire::Frame*> f) {
                   if (auto self = weak.lock()) self->OnHelloReply(f);
                 },
                 Clock::now() + options_.timeout});
    ArmSweep();
  }

  void OnHelloReply(absl::StatusOr<const wire::Frame*> f) {
    if (state_ != State::kHello) return;  // the connection it was on is gone
    if (!f.ok()) {
      absl::Status st = f.status();
      // A bad token or an unsupported version will not get better by retrying.
      if (absl::IsUnauthenticated(st) || absl::IsPermissionDenied(st) ||
          absl::IsFailedPrecondition(st) || absl::IsInvalidArgument(st)) {
        final_error_ = st;
      }
      return Lost(st);
    }
    const wire::HelloReply* hello = (*f)->body_as_HelloReply();
    // Trusted within sane bounds only: a server's word must not make every
    // frame fail (0) nor let it make us allocate gigabytes.
    constexpr uint32_t kMinFrame = 64u << 10;
    constexpr uint32_t kMaxFrame = 256u << 20;
    server_max_frame_bytes_ = std::clamp(hello->max_frame_bytes(), kMinFrame, kMaxFrame);
    limits_.max_frame_bytes = std::max(protocol::FrameLimits{}.max_frame_bytes, server_max_frame_bytes_);
    role_ = hello->shard_role() == wire::ShardRole::Standby  ? ShardRole::kStandby
            : hello->shard_role() == wire::ShardRole::Leader ? ShardRole::kLeader
                                                             : ShardRole::kSingle;
    if (role_ == ShardRole::kStandby && options_.follow_leader == FollowLeader::kAlways) {
      std::string leader = hello->leader() ? hello->leader()->str() : std::string();
      if (Follow(leader)) {
        // Nothing else is on the wire before Hello is answered.
        CloseSocket();
        state_ = State::kBackoff;
        return Reconnect(std::chrono::milliseconds(0));
      }
      return Lost(absl::UnavailableError(
          leader.empty()
              ? absl::StrCat("rappeld at ", Where(target_), " is a standby and knows no leader yet")
              : absl::StrCat("rappeld at ", Where(target_), " is a standby naming ", leader,
                             " as the leader, after ", redirects_,
                             " leaders followed in a row: not followed")));
    }
    state_ = State::kReady;
    failures_in_round_ = 0;
    if (role_ != ShardRole::kStandby) redirects_ = 0;
    backoff_ = options_.reconnect.initial;
    if (subscribed_) Resubscribe();
    while (!queued_.empty()) {
      Request r = std::move(queued_.front());
      queued_.pop_front();
      Send(std::move(r));
    }
    if (auto done = TakeStartDone()) done(absl::OkStatus());
    if (connection_handler_) connection_handler_(absl::OkStatus());
  }

  void Resubscribe() {
    uint64_t id = next_id_++;
    FlatBufferBuilder b(256);
    codec::EncodeSubscribe(b, id, subscription_);
    std::weak_ptr<Impl> weak = weak_from_this();
    Send(Request{id, wire::Body::SubscribeReply,
                 std::make_shared<const DetachedBuffer>(b.Release()),
                 [weak](absl::StatusOr<const wire::Frame*> f) {
                   auto self = weak.lock();
                   if (!self) return;
                   absl::Status st = f.ok() ? codec::DecodeStatusReply(*f) : f.status();
                   if (!st.ok() && self->connection_handler_) {
                     self->connection_handler_(absl::Status(
                         st.code(), absl::StrCat("renewing the subscription: ", st.message())));
                   }
                 },
                 Clock::now() + options_.timeout, /*requeue=*/false});
  }

  // Puts a request on the wire (after the ones already there).
  void Send(Request r) {
    wqueue_.push_back(r.bytes);
    if (role_ == ShardRole::kSingle) r.bytes.reset();
    sent_.push_back(std::move(r));
    Flush();
  }

  void Flush() {
    if (writing_ || wqueue_.empty()) return;
    writing_ = true;
    // Many small frames in one gathered write: one syscall, one TCP segment run.
    size_t n = std::min<size_t>(wqueue_.size(), 256);
    in_write_.clear();
    for (size_t i = 0; i < n; ++i) {
      in_write_.push_back(std::move(wqueue_.front()));
      wqueue_.pop_front();
    }
    write_buffers_.clear();
    if (stream_->tls()) {
      // TLS writes one record per buffer: one buffer, not one per frame.
      tls_write_.clear();
      for (const auto& d : in_write_) {
        tls_write_.insert(tls_write_.end(), d->data(), d->data() + d->size());
      }
      write_buffers_.emplace_back(tls_write_.data(), tls_write_.size());
    } else {
      for (const auto& d : in_write_) write_buffers_.emplace_back(d->data(), d->size());
    }
    uint64_t gen = generation_;
    auto self = shared_from_this();
    auto stream = stream_;
    asio::async_write(*stream, write_buffers_, [this, self, gen, stream](asio::error_code ec,
                                                                        size_t) {
      if (gen != generation_ || state_ == State::kClosed) return;
      writing_ = false;
      in_write_.clear();
      if (ec) return Lost(absl::UnavailableError(
                  absl::StrCat("connection to rappeld lost: ", ec.message())));
      Flush();
    });
  }

  void Read() {
    if (rlen_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
    uint64_t gen = generation_;
    auto self = shared_from_this();
    auto stream = stream_;
    stream->async_read_some(
        asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
        [this, self, gen, stream](asio::error_code ec, size_t n) {
          if (gen != generation_ || state_ == State::kClosed) return;
          if (ec) {
            // Closed before answering Hello, on plain TCP: most likely a TLS port.
            bool hint = state_ == State::kHello && !stream->tls() && ec == asio::error::eof;
            return Lost(absl::UnavailableError(absl::StrCat(
                "connection to rappeld lost: ",
                ec == asio::error::eof ? "closed by the server" : ec.message(),
                hint ? " before answering Hello (if its port speaks TLS, connect with TLS)"
                     : "")));
          }
          rlen_ += n;
          if (!ParseFrames(gen)) return;
          Read();
        });
  }

  // Handles every whole frame in the read buffer; false when the connection
  // was dropped meanwhile (bad frame, or a callback closed the client).
  bool ParseFrames(uint64_t gen) {
    size_t off = 0;
    while (rlen_ - off >= protocol::kLengthPrefixBytes) {
      auto length = protocol::DecodeFrameLength(rbuf_.data() + off, limits_);
      if (!length.ok()) {
        Lost(absl::DataLossError(absl::StrCat("bad frame from rappeld: ", length.status().message())));
        return false;
      }
      size_t total = protocol::kLengthPrefixBytes + *length;
      if (rlen_ - off < total) {
        if (total > rbuf_.size()) rbuf_.resize(total);
        break;
      }
      // FlatBuffers reads scalars in place: keep them aligned.
      const uint8_t* data = rbuf_.data() + off;
      if (off % 8 != 0) {
        aligned_.assign(data, data + total);
        data = aligned_.data();
      }
      auto frame = protocol::VerifyFrame(data, total, limits_);
      if (!frame.ok()) {
        Lost(absl::DataLossError(absl::StrCat("bad frame from rappeld: ", frame.status().message())));
        return false;
      }
      OnFrame(*frame);
      if (gen != generation_ || state_ == State::kClosed) return false;
      off += total;
    }
    if (off > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + off, rlen_ - off);
      rlen_ -= off;
    }
    return true;
  }

  void OnFrame(const wire::Frame* f) {
    if (f->body_type() == wire::Body::Delivery) {
      if (on_messages_) on_messages_(codec::DecodeDelivery(f));
      return;
    }
    if (f->request_id() == 0 && f->body_type() == wire::Body::Error) {
      // About the connection, not a request (too many connections, idle).
      return Lost(protocol::FromWireStatus(f->body_as_Error()->status()));
    }
    // Replies come in request order; the id says which one this is.
    auto it = std::find_if(sent_.begin(), sent_.end(),
                           [&](const Request& r) { return r.id == f->request_id(); });
    if (it == sent_.end()) {
      return Lost(absl::DataLossError(
          absl::StrCat("rappeld answered request ", f->request_id(), ", which was not asked")));
    }
    Request r = std::move(*it);
    sent_.erase(it);
    if (f->body_type() == wire::Body::Error) {
      const wire::Status* status = f->body_as_Error()->status();
      if (Refused(status)) {
        OnRefused(std::move(r), status);
      } else {
        r.on_reply(protocol::FromWireStatus(status));
      }
      if (state_ == State::kDraining && sent_.empty()) FinishRedirect();
    } else if (f->body_type() != r.expected) {
      Lost(absl::DataLossError("rappeld answered with the wrong reply type"));
      r.on_reply(absl::DataLossError("rappeld answered with the wrong reply type"));
    } else {
      r.on_reply(f);
      if (state_ == State::kDraining && sent_.empty()) FinishRedirect();
    }
  }

  // An Unavailable refusal from a node that does not lead: it names the
  // leader, or the node said it is a standby at Hello.
  bool Refused(const wire::Status* status) const {
    if (status == nullptr || status->code() != wire::ErrorCode::Unavailable) return false;
    bool names_leader = status->leader() != nullptr && status->leader()->size() > 0;
    return names_leader || role_ == ShardRole::kStandby;
  }

  // `r` was refused, not applied: keep it for the leader unless following
  // is off or the redirects in a row are spent.
  void OnRefused(Request r, const wire::Status* status) {
    std::string leader = status->leader() ? status->leader()->str() : std::string();
    if (options_.follow_leader == FollowLeader::kNever ||
        (state_ != State::kDraining && redirects_ >= options_.max_redirects)) {
      return r.on_reply(protocol::FromWireStatus(status));
    }
    if (state_ != State::kDraining) {
      state_ = State::kDraining;
      redirect_to_ = leader;
    }
    if (!r.bytes) return r.on_reply(protocol::FromWireStatus(status));  // not kept: cannot resend
    if (r.requeue) redirected_.push_back(std::move(r));
  }

  // Every reply due on the refusing connection has come: go to the leader
  // (or, with none known, on to the next endpoint after the usual wait),
  // the refused requests first.
  void FinishRedirect() {
    while (!redirected_.empty()) {
      queued_.push_front(std::move(redirected_.back()));
      redirected_.pop_back();
    }
    std::string leader = std::move(redirect_to_);
    redirect_to_.clear();
    absl::Status why = absl::UnavailableError(
        leader.empty()
            ? absl::StrCat("rappeld at ", Where(target_), " does not lead and knows no leader")
            : absl::StrCat("rappeld at ", Where(target_), " does not lead; following ", leader));
    if (Follow(leader)) {
      CloseSocket();
      state_ = State::kBackoff;
      if (connection_handler_) connection_handler_(why);
      return Reconnect(std::chrono::milliseconds(0));
    }
    state_ = State::kReady;  // so that Lost reports the loss
    Lost(why);
  }

  // Sets the next connection's target to `leader` (HOST:PORT) if it can be
  // followed: well formed, and fewer than max_redirects followed in a row.
  bool Follow(const std::string& leader) {
    if (leader.empty() || redirects_ >= options_.max_redirects) return false;
    auto parsed = ParseEndpoints(leader, target_.port);
    if (!parsed.ok() || parsed->size() != 1) return false;
    ++redirects_;
    hint_ = parsed->front();
    return true;
  }

  void Reconnect(std::chrono::milliseconds after) {
    reconnect_timer_.expires_after(after);
    std::weak_ptr<Impl> weak = weak_from_this();
    reconnect_timer_.async_wait([weak](asio::error_code ec) {
      auto self = weak.lock();
      if (!ec && self && self->state_ == State::kBackoff) self->Connect();
    });
  }

  void CloseSocket() {
    ++generation_;
    asio::error_code ignored;
    if (stream_) stream_->close(ignored);
    writing_ = false;
    wqueue_.clear();
    in_write_.clear();
    rlen_ = 0;
  }

  // The connection is gone (or never came): fail what was on the wire, then
  // reconnect after a backoff, or give up for good.
  void Lost(absl::Status why) {
    if (state_ == State::kClosed) return;
    CloseSocket();
    bool was_ready = state_ == State::kReady || state_ == State::kDraining;
    // Refused requests were not applied: they wait for the next connection.
    while (!redirected_.empty()) {
      queued_.push_front(std::move(redirected_.back()));
      redirected_.pop_back();
    }
    if (!redirect_to_.empty()) {
      Follow(redirect_to_);
      redirect_to_.clear();
    }
    std::deque<Request> on_wire = std::move(sent_);
    sent_.clear();
    for (Request& r : on_wire) {
      r.on_reply(absl::UnavailableError(absl::StrCat(
          why.message(), r.expected == wire::Body::HelloReply
                             ? ""
                             : " (the request may or may not have been applied)")));
    }
    if (state_ == State::kClosed) return;  // a callback closed us
    // Without reconnecting, the first connection still tries every
    // endpoint and follows the leader named.
    bool untried = failures_in_round_ + 1 < endpoints_.size();
    bool retry =
        final_error_.ok() && (options_.reconnect.enabled || (start_done_ && (hint_ || untried)));
    if (!retry) {
      if (final_error_.ok()) final_error_ = why;
      state_ = State::kClosed;
      sweep_timer_.cancel();
      FailAll(final_error_);
    } else {
      state_ = State::kBackoff;
      if (hint_) {
        // A leader named by the node refusing: go there now.
        Reconnect(std::chrono::milliseconds(0));
      } else if (++failures_in_round_ < endpoints_.size()) {
        // Another endpoint not tried since the last good connection: now.
        Reconnect(std::chrono::milliseconds(0));
      } else {
        // Every endpoint failed: wait, then start a new round.
        failures_in_round_ = 0;
        redirects_ = 0;
        Reconnect(backoff_);
        backoff_ = std::min(backoff_ * 2, options_.reconnect.max);
        if (auto done = TakeStartDone()) done(why);
      }
    }
    if (state_ == State::kClosed) {
      if (auto done = TakeStartDone()) done(final_error_);
    }
    if (was_ready && connection_handler_) connection_handler_(why);
  }

  void FailAll(const absl::Status& st) {
    std::deque<Request> all = std::move(sent_);
    sent_.clear();
    for (Request& r : redirected_) all.push_back(std::move(r));
    redirected_.clear();
    for (Request& r : queued_) all.push_back(std::move(r));
    queued_.clear();
    for (Request& r : all) r.on_reply(st);
    if (auto done = TakeStartDone()) done(st);
  }

  // One timer for every deadline: requests are made (and answered) in
  // order, so the oldest one is the next to expire.
  void ArmSweep() {
    if (sweep_armed_ || (queued_.empty() && sent_.empty())) return;
    Clock::time_point next = Clock::time_point::max();
    if (!sent_.empty()) next = sent_.front().deadline;
    if (!queued_.empty()) next = std::min(next, queued_.front().deadline);
    sweep_armed_ = true;
    sweep_timer_.expires_at(next);
    std::weak_ptr<Impl> weak = weak_from_this();
    sweep_timer_.async_wait([weak](asio::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      self->sweep_armed_ = false;
      if (!ec) self->Sweep();
    });
  }

  void Sweep() {
    if (state_ == State::kClosed) return;
    Clock::time_point now = Clock::now();
    while (!queued_.empty() && queued_.front().deadline <= now) {
      Request r = std::move(queued_.front());
      queued_.pop_front();
      r.on_reply(
          absl::DeadlineExceededError(absl::StrCat("not connected to rappeld at ", Where(target_),
                                                   " within ", options_.timeout.count(), " ms")));
      if (state_ == State::kClosed) return;
    }
    if (!sent_.empty() && sent_.front().deadline <= now) {
      // Unanswered in time: the stream is out of step; start afresh.
      Request r = std::move(sent_.front());
      sent_.pop_front();
      r.on_reply(absl::DeadlineExceededError(
          absl::StrCat("no answer from rappeld within ", options_.timeout.count(), " ms")));
      Lost(absl::UnavailableError("rappeld stopped answering"));
    }
    ArmSweep();
  }

  asio::io_context& io_;
  Options options_;
  std::shared_ptr<asio::ssl::context> tls_;  // null: plain TCP
  absl::Status tls_error_;                   // the TLS files could not be loaded
  std::shared_ptr<protocol::Stream> stream_;  // this connection's; a new one each time
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer sweep_timer_;
  State state_ = State::kIdle;
  uint64_t generation_ = 0;  // bumped per connection: late handlers of old ones do nothing
  uint64_t next_id_ = 1;
  std::chrono::milliseconds backoff_;
  absl::Status final_error_;
  StatusCallback start_done_;
  StatusCallback connection_handler_;
  bool sweep_armed_ = false;

  std::deque<Request> queued_;  // made while not connected
  std::deque<Request> sent_;    // written (or being written), unanswered, in order
  std::deque<std::shared_ptr<const DetachedBuffer>> wqueue_;
  std::vector<std::shared_ptr<const DetachedBuffer>> in_write_;
  std::vector<asio::const_buffer> write_buffers_;
  std::vector<uint8_t> tls_write_;  bool writing_ = false;

  std::vector<uint8_t> rbuf_;
  size_t rlen_ = 0;
  std::vector<uint8_t> aligned_;
  protocol::FrameLimits limits_;
  uint32_t server_max_frame_bytes_ = protocol::FrameLimits{}.max_frame_bytes;

  bool subscribed_ = false;
  Subscription subscription_;
  DeliveryHandler on_messages_;

  // Where to connect: the endpoints in turn, or a leader a node named.
  std::vector<Endpoint> endpoints_;
  Endpoint target_;  // the current (or last) connection's
  size_t next_endpoint_ = 0;
  std::optional<Endpoint> hint_;         // the next connection's, once
  size_t failures_in_round_ = 0;         // connections lost since the last good one
  int redirects_ = 0;                    // leaders followed in a row
  ShardRole role_ = ShardRole::kSingle;  // from the HelloReply
  std::string redirect_to_;              // kDraining: the leader named (may be empty)
  std::deque<Request> redirected_;       // kDraining: refused, to send again
};

// ---- AsyncClient: encode, call, decode ----

AsyncClient::AsyncClient(asio::io_context& io, Options options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

AsyncClient::~AsyncClient() { impl_->Close(); }

void AsyncClient::Start(StatusCallback done) { impl_->Start(std::move(done)); }
void AsyncClient::Close() { impl_->Close(); }
void AsyncClient::set_connection_handler(StatusCallback handler) {
  impl_->set_connection_handler(std::move(handler));
}
bool AsyncClient::connected() const { return impl_->connected(); }
std::string AsyncClient::endpoint() const { return impl_->endpoint(); }
ShardRole AsyncClient::shard_role() const { return impl_->shard_role(); }
size_t AsyncClient::outstanding() const { return impl_->outstanding(); }

namespace {

// Adapts a typed callback to the raw reply: errors pass through, a reply is
// decoded by `decode`.
template <typename T, typename Decode>
std::function<void(absl::StatusOr<const wire::Frame*>)> Decoded(
    AsyncClient::Callback<T> done, Decode decode) {
  return [done = std::move(done), decode](absl::StatusOr<const wire::Frame*> f) {
    if (!f.ok()) return done(f.status());
    done(decode(*f));
  };
}

std::function<void(absl::StatusOr<const wire::Frame*>)> StatusOnly(
    AsyncClient::StatusCallback done) {
  return [done = std::move(done)](absl::StatusOr<const wire::Frame*> f) {
    done(f.ok() ? codec::DecodeStatusReply(*f) : f.status());
  };
}

}  // namespace

void AsyncClient::Schedule(const std::vector<Reminder>& reminders,
                           Callback<ScheduleResults> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeSchedule(b, id, reminders); },
              wire::Body::ScheduleReply,
              Decoded<ScheduleResults>(std::move(done), codec::DecodeScheduleReply));
}

void AsyncClient::Cancel(const std::vector<Key>& keys, Callback<ItemStatuses> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeCancel(b, id, keys); },
              wire::Body::CancelReply,
              Decoded<ItemStatuses>(std::move(done), codec::DecodeItemStatuses));
}

void AsyncClient::Reschedule(const Key& key, int64_t due_ms, StatusCallback done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeReschedule(b, id, key, due_ms); },
      wire::Body::RescheduleReply, StatusOnly(std::move(done)));
}

void AsyncClient::Ping(StatusCallback done) {
  impl_->Call([](FlatBufferBuilder& b, uint64_t id) { codec::EncodePing(b, id); },
              wire::Body::Pong, StatusOnly(std::move(done)));
}

void AsyncClient::Subscribe(const Subscription& subscription, DeliveryHandler on_messages,
                            StatusCallback done) {
  impl_->Subscribe(subscription, std::move(on_messages), std::move(done));
}

namespace {

void SendAck(AsyncClient::Impl& impl, const std::vector<AckItem>& items,
             AsyncClient::Callback<AsyncClient::ItemStatuses> done) {
  impl.Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeAck(b, id, items); },
            wire::Body::AckReply,
            Decoded<AsyncClient::ItemStatuses>(std::move(done), codec::DecodeItemStatuses));
}

}  // namespace

void AsyncClient::Serve(const Subscription& subscription, MessageHandler handler,
                        StatusCallback done, Callback<ItemStatuses> on_ack) {
  // The delivery handler is owned by impl_: reach it weakly, not by a cycle.
  std::weak_ptr<Impl> weak = impl_;
  if (!on_ack) on_ack = [](absl::StatusOr<ItemStatuses>) {};
  Subscribe(
      subscription,
      [weak, handler = std::move(handler), on_ack](std::vector<Message> messages) {
        auto impl = weak.lock();
        if (!impl) return;
        std::vector<AckItem> acks;
        acks.reserve(messages.size());
        for (const Message& m : messages) acks.push_back(AckItem{m.lease_id, handler(m), {}});
        SendAck(*impl, acks, on_ack);
      },
      std::move(done));
}

void AsyncClient::Ack(const std::vector<AckItem>& items, Callback<ItemStatuses> done) {
  SendAck(*impl_, items, std::move(done));
}

void AsyncClient::Stats(Callback<ServerStats> done, uint32_t max_tenants) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeStats(b, id, max_tenants); },
              wire::Body::StatsReply,
              Decoded<ServerStats>(std::move(done), codec::DecodeStatsReply));
}

void AsyncClient::Inspect(const Key& key, Callback<ReminderState> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeInspect(b, id, key); },
              wire::Body::InspectReply,
              Decoded<ReminderState>(std::move(done), codec::DecodeInspectReply));
}

void AsyncClient::ListKeys(const KeyListQuery& query, Callback<KeyPage> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeKeyList(b, id, query); },
              wire::Body::KeyListReply, Decoded<KeyPage>(std::move(done), codec::DecodeKeyListReply));
}

void AsyncClient::ListDeadLetters(uint32_t tenant, uint32_t limit,
                                  Callback<std::vector<DeadLetter>> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeDeadLetterList(b, id, tenant, limit); },
      wire::Body::DeadLetterListReply,
      Decoded<std::vector<DeadLetter>>(std::move(done), codec::DecodeDeadLetterListReply));
}

void AsyncClient::ReplayDeadLetters(const std::vector<Key>& keys, Callback<ItemStatuses> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeDeadLetterReplay(b, id, keys); },
      wire::Body::DeadLetterReplayReply,
      Decoded<ItemStatuses>(std::move(done), codec::DecodeItemStatuses));
}

void AsyncClient::Backup(const std::string& dir, StatusCallback done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeBackup(b, id, dir); },
              wire::Body::BackupReply, StatusOnly(std::move(done)));
}

void AsyncClient::Compact(Callback<CompactResult> done) {
  impl_->Call([](FlatBufferBuilder& b, uint64_t id) { codec::EncodeCompact(b, id); },
              wire::Body::CompactReply,
              Decoded<CompactResult>(std::move(done), codec::DecodeCompactReply));
}

void AsyncClient::SetRateLimits(const std::vector<RateLimit>& limits, StatusCallback done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeRateLimitSet(b, id, limits); },
              wire::Body::RateLimitSetReply, StatusOnly(std::move(done)));
}

void AsyncClient::Rates(Callback<RateList> done, uint32_t max_rows) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeRateList(b, id, max_rows); },
              wire::Body::RateListReply,
              Decoded<RateList>(std::move(done), codec::DecodeRateListReply));
}

void AsyncClient::PutObject(ObjectKind kind, uint32_t tenant, const std::string& id,
                            const std::string& json, Callback<std::string> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t rid) {
        codec::EncodeObjectPut(b, rid, kind, tenant, id, json);
      },
      wire::Body::ObjectReply, Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

void AsyncClient::GetObject(ObjectKind kind, uint32_t tenant, const std::string& id,
                            Callback<std::string> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t rid) { codec::EncodeObjectGet(b, rid, kind, tenant, id); },
      wire::Body::ObjectReply, Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

void AsyncClient::UpsertAppointments(const std::vector<AppointmentInput>& items,
                                     Callback<AppointmentResults> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeAppointmentUpsert(b, id, items); },
      wire::Body::AppointmentUpsertReply,
      Decoded<AppointmentResults>(std::move(done), codec::DecodeAppointmentResults));
}

void AsyncClient::AppointmentCommands(const std::vector<AppointmentCommand>& commands,
                                      Callback<AppointmentResults> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeAppointmentCommands(b, id, commands); },
      wire::Body::AppointmentCommandsReply,
      Decoded<AppointmentResults>(std::move(done), codec::DecodeAppointmentResults));
}

void AsyncClient::PostAbsence(uint32_t tenant, const std::string& calendar, int64_t from_ms,
                              int64_t to_ms, Callback<uint32_t> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) {
        codec::EncodeCalendarAbsence(b, id, tenant, calendar, from_ms, to_ms);
      },
      wire::Body::CalendarReply, Decoded<uint32_t>(std::move(done), codec::DecodeCalendarReply));
}

void AsyncClient::DelayAlert(uint32_t tenant, const std::string& calendar, int64_t delay_ms,
                             Callback<uint32_t> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) {
        codec::EncodeDelayAlert(b, id, tenant, calendar, delay_ms);
      },
      wire::Body::CalendarReply, Decoded<uint32_t>(std::move(done), codec::DecodeCalendarReply));
}

void AsyncClient::PatientReply(uint32_t tenant, const std::string& patient,
                               const std::string& appointment, PatientReplyKind kind,
                               Callback<AppointmentResult> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) {
        codec::EncodePatientReply(b, id, tenant, patient, appointment, kind);
      },
      wire::Body::AppointmentCommandsReply,
      Decoded<AppointmentResult>(std::move(done), codec::DecodeSingleAppointmentResult));
}

void AsyncClient::RedeemToken(const std::string& token, Callback<TokenRedeemResult> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeTokenRedeem(b, id, token); },
              wire::Body::TokenRedeemReply,
              Decoded<TokenRedeemResult>(std::move(done), codec::DecodeTokenRedeemReply));
}

void AsyncClient::ShowAppointment(uint32_t tenant, const std::string& id,
                                  Callback<std::string> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t rid) {
        codec::EncodeAppointmentShow(b, rid, tenant, id, nullptr);
      },
      wire::Body::AppointmentShowReply,
      Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

void AsyncClient::Credits(uint32_t tenant, int64_t add, Callback<std::string> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeCredits(b, id, tenant, add); },
              wire::Body::ObjectReply, Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

void AsyncClient::ReportOutcomes(const std::vector<OutcomeItem>& items,
                                 Callback<OutcomeResults> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeOutcomeReport(b, id, items); },
              wire::Body::OutcomeReportReply,
              Decoded<OutcomeResults>(std::move(done), codec::DecodeOutcomeReportReply));
}

void AsyncClient::MessageSummary(uint32_t tenant, const std::string& from_day,
                                 const std::string& to_day, Callback<std::string> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) {
        codec::EncodeMessageSummary(b, id, tenant, from_day, to_day);
      },
      wire::Body::ObjectReply, Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

void AsyncClient::MessageList(const MessageListQuery& query, Callback<std::string> done) {
  impl_->Call([&](FlatBufferBuilder& b, uint64_t id) { codec::EncodeMessageList(b, id, query); },
              wire::Body::ObjectReply, Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

void AsyncClient::DryRun(const AppointmentInput& appointment, Callback<std::string> done) {
  impl_->Call(
      [&](FlatBufferBuilder& b, uint64_t id) {
        codec::EncodeAppointmentShow(b, id, appointment.tenant, appointment.id, &appointment);
      },
      wire::Body::AppointmentShowReply,
      Decoded<std::string>(std::move(done), codec::DecodeJsonReply));
}

}  // namespace rappel::client
