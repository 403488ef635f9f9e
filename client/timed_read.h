// ReadWithTimeout: a blocking read of exactly n bytes from a socket, given
// up after a timeout. Asio's blocking reads have no timeout, so this runs
// one async read and one timer on the socket's own io_context. Internal to
// the client library (and its tests); not a public header.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace rappel::client {

struct TimedRead {
  size_t got = 0;             // bytes read (== n on success)
  bool timed_out = false;
  asio::error_code error;     // eof, reset, ... (empty on success or timeout)
};

inline TimedRead ReadWithTimeout(asio::io_context& io, asio::ip::tcp::socket& socket,
                                 uint8_t* out, size_t n, std::chrono::milliseconds timeout) {
  TimedRead r;
  asio::steady_timer timer(io, timeout);
  std::function<void()> next = [&] {
    socket.async_read_some(asio::buffer(out + r.got, n - r.got), [&](asio::error_code ec, size_t k) {
      r.got += k;
      if (ec || r.got == n) {
        r.error = ec;
        timer.cancel();
      } else {
        next();
      }
    });
  };
  next();
  timer.async_wait([&](asio::error_code ec) {
    if (!ec) {
      r.timed_out = true;
      socket.cancel();
    }
  });
  io.restart();
  io.run();
  if (r.timed_out) r.error = {};  // the cancellation, not a socket error
  return r;
}

}  // namespace rappel::client
