// OpenListener: the listening socket of a TCP listener (the client port, the
// replication port), shared so that both refuse a bad address the same way.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "asio.hpp"

namespace rappel::server {

// Opens, binds (SO_REUSEADDR) and listens `acceptor` on address:port (port
// 0: any free port). InvalidArgument when `address` is not an IP address,
// Unavailable when it cannot be bound; `what` ("the client port") names the
// listener in both.
absl::Status OpenListener(asio::ip::tcp::acceptor& acceptor, const std::string& address,
                          uint16_t port, const char* what);

}  // namespace rappel::server
