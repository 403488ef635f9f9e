#include "server/net/listen.h"

#include "absl/strings/str_cat.h"

namespace rappel::server {

absl::Status OpenListener(asio::ip::tcp::acceptor& acceptor, const std::string& address,
                          uint16_t port, const char* what) {
  asio::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address '", address, "' for ", what, ": ", ec.message()));
  }
  asio::ip::tcp::endpoint endpoint(ip, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ":", port, " for ", what, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace rappel::server
