#include "server/net/tls.h"

#include <openssl/ssl.h>

#include <chrono>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace rappel::server {
namespace {

absl::Status FileError(const char* what, const std::string& path, const asio::error_code& ec) {
  return absl::InvalidArgumentError(
      absl::StrCat("cannot load the TLS ", what, " ", path, ": ", ec.message()));
}

}  // namespace

absl::StatusOr<std::shared_ptr<asio::ssl::context>> LoadServerTls(const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate chain file and a key file");
  }
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError("OpenSSL refused TLS 1.2 as the minimum version");
  }
  asio::error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                           asio::ssl::context::single_dh_use,
                       ec);
  if (ec) return absl::InternalError(absl::StrCat("TLS options: ", ec.message()));
  if (context->use_certificate_chain_file(options.cert_file, ec); ec) {
    return FileError("certificate chain", options.cert_file, ec);
  }
  if (context->use_private_key_file(options.key_file, asio::ssl::context::pem, ec); ec) {
    return FileError("key", options.key_file, ec);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the TLS key ", options.key_file,
                                                   " does not match the certificate ",
                                                   options.cert_file));
  }
  if (!options.client_ca_file.empty()) {
    if (context->load_verify_file(options.client_ca_file, ec); ec) {
      return FileError("client CA", options.client_ca_file, ec);
    }
    // Tell clients which CAs are accepted, so one with several certificates
    // can pick the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str());
    if (names == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("cannot load the TLS client CA ",
                                                     options.client_ca_file,
                                                     ": no certificate in it"));
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    context->set_verify_mode(
        asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return absl::InternalError(absl::StrCat("TLS verify mode: ", ec.message()));
  }
  return context;
}

void LogHandshakeFailure(const asio::ip::tcp::endpoint& peer, const asio::error_code& ec) {
  using Clock = std::chrono::steady_clock;
  static std::mutex mu;
  static Clock::time_point window_start;
  static int logged = 0;
  static int left_out = 0;
  std::lock_guard<std::mutex> lock(mu);
  Clock::time_point now = Clock::now();
  if (now - window_start >= std::chrono::minutes(1)) {
    window_start = now;
    logged = 0;
  }
  if (logged >= kHandshakeLogsPerMinute) {
    ++left_out;
    return;
  }
  ++logged;
  std::string line = absl::StrCat("TLS handshake with ", peer.address().to_string(), ":",
                                  peer.port(), " failed: ", ec.message());
  if (left_out > 0) {
    absl::StrAppend(&line, " (", left_out, " earlier failures not logged)");
    left_out = 0;
  }
  LogWarn(line);
}

}  // namespace rappel::server
