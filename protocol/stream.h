// Stream: the byte stream rappel's frames travel on, plain TCP or TLS
// (Asio's ssl::stream over OpenSSL), behind one type. It satisfies Asio's
// AsyncReadStream and AsyncWriteStream (asio::async_read / async_write work
// on it), so the code that reads and writes frames does not know which it
// has. TLS runs on the same port as the protocol, from the first byte: there
// is no STARTTLS (protocol/README.md, "TLS").
//
// Lifetime: like any Asio stream, it must outlive its pending operations
// (their handlers keep its owner alive). A TLS stream keeps the
// ssl::context it was made with alive, so replacing the context (a reloaded
// certificate) leaves the streams made with the old one untouched.
//
// Thread: the thread that runs its executor.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

namespace rappel::protocol {

class Stream {
 public:
  using Tcp = asio::ip::tcp::socket;
  using Tls = asio::ssl::stream<Tcp>;
  using executor_type = Tcp::executor_type;
  using lowest_layer_type = Tcp;

  // Plain TCP.
  explicit Stream(Tcp socket) { tcp_.emplace(std::move(socket)); }
  // TLS over `socket` (connected or not yet) with `context`; plain TCP
  // when `context` is null.
  Stream(Tcp socket, std::shared_ptr<asio::ssl::context> context) : context_(std::move(context)) {
    if (context_) {
      tls_.emplace(std::move(socket), *context_);
    } else {
      tcp_.emplace(std::move(socket));
    }
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool tls() const { return tls_.has_value(); }
  // The TLS stream itself (nullptr for plain TCP), e.g. for SNI or a
  // verification callback before the handshake.
  Tls* tls_stream() { return tls_ ? &*tls_ : nullptr; }

  Tcp& lowest_layer() { return tls_ ? tls_->next_layer() : *tcp_; }
  executor_type get_executor() { return lowest_layer().get_executor(); }

  // The socket calls a session makes, on the TCP socket underneath.
  template <typename Option>
  void set_option(const Option& option, asio::error_code& ec) {
    lowest_layer().set_option(option, ec);
  }
  void shutdown(Tcp::shutdown_type what, asio::error_code& ec) { lowest_layer().shutdown(what, ec); }
  void close(asio::error_code& ec) { lowest_layer().close(ec); }
  bool is_open() { return lowest_layer().is_open(); }
  Tcp::endpoint_type remote_endpoint(asio::error_code& ec) { return lowest_layer().remote_endpoint(ec); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            tcp_->async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            tcp_->async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // The TLS handshake, as `type` (client or server); `done(error_code)`.
  // Plain TCP has none: `done` is posted with success. When it has not
  // finished within `timeout` (a peer that connects and sends nothing, or
  // sends too slowly), the socket is closed and `done` gets
  // asio::error::timed_out.
  template <typename Handler>
  void AsyncHandshake(asio::ssl::stream_base::handshake_type type,
                      std::chrono::milliseconds timeout, Handler done) {
    if (!tls_) {
      asio::post(get_executor(), [done = std::move(done)]() mutable { done(asio::error_code()); });
      return;
    }
    // The state lives as long as the stream: a handler that runs after the
    // stream is gone finds it expired and touches nothing.
    handshake_ = std::make_shared<Handshake>(get_executor(), timeout);
    std::weak_ptr<Handshake> weak = handshake_;
    Tcp* socket = &tls_->next_layer();
    handshake_->timer.async_wait([weak, socket](asio::error_code ec) {
      auto h = weak.lock();
      if (ec || !h || h->finished) return;
      h->timed_out = true;
      asio::error_code ignored;
      socket->close(ignored);  // the handshake completes with an error
    });
    tls_->async_handshake(type, [weak, done = std::move(done)](asio::error_code ec) mutable {
      if (auto h = weak.lock()) {
        h->finished = true;
        h->timer.cancel();
        if (h->timed_out) ec = asio::error::timed_out;
      }
      done(ec);
    });
  }

 private:
  struct Handshake {
    Handshake(executor_type ex, std::chrono::milliseconds timeout) : timer(ex, timeout) {}
    asio::steady_timer timer;
    bool finished = false;
    bool timed_out = false;
  };

  std::shared_ptr<asio::ssl::context> context_;  // before tls_: outlives it
  std::optional<Tcp> tcp_;  // plain TCP, or
  std::optional<Tls> tls_;  // TLS
  std::shared_ptr<Handshake> handshake_;
};

}  // namespace rappel::protocol
