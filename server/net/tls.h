// TLS on the client port: the server's settings, loading its certificate
// into an Asio ssl::context, and the log of failed handshakes.
//
// The context is built once per load and shared (std::shared_ptr) by every
// connection made with it; Server::SetTls swaps in a newly loaded one for
// the connections to come, the open ones keep theirs.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rappel::server {

struct TlsOptions {
  // PEM certificate chain (the server's certificate first) and its private
  // key. Both empty: no TLS (plain TCP).
  std::string cert_file;
  std::string key_file;
  // PEM CA certificates. Set: every client must present a certificate that
  // verifies against them (mutual TLS), or its handshake fails. Empty: no
  // client certificate is asked for.
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// A server context from `options`: TLS 1.2 at least, the chain and the key
// (which must match), and the client CA when given. InvalidArgument naming
// the file and OpenSSL's reason when a file is missing, unreadable, not
// PEM, or the key does not match the certificate. Any thread.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> LoadServerTls(const TlsOptions& options);

// One log line for a failed handshake (a plaintext client on the TLS port,
// an untrusted or missing client certificate, a timeout), rate-limited: at
// most kHandshakeLogsPerMinute lines a minute across the process, the next
// line saying how many were left out. Any thread.
inline constexpr int kHandshakeLogsPerMinute = 10;
void LogHandshakeFailure(const asio::ip::tcp::endpoint& peer, const asio::error_code& ec);

}  // namespace rappel::server
