// The client side of TLS: the context built from TlsOptions, and each
// connection's checks (SNI, the server's name). Internal to the client
// library.
#pragma once

#include <asio/ssl.hpp>
#include <memory>

#include "absl/status/statusor.h"
#include "protocol/stream.h"
#include "rappel/types.h"

namespace rappel::client {

// A client context: TLS 1.2 at least; the CA file (or the system's trust
// store) when verifying; the client certificate and key when given.
// InvalidArgument naming the file and OpenSSL's reason when one cannot be
// loaded or the key does not match the certificate.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> LoadClientTls(const TlsOptions& tls);

// Sets what one connection checks before its handshake: SNI (for a host
// name) and, when verifying, that the certificate names `name` (a host
// name or an IP address).
void PrepareClientStream(protocol::Stream::Tls& stream, const TlsOptions& tls,
                         const std::string& name);

}  // namespace rappel::client
