#include "client/tls.h"

#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"

namespace rappel::client {

absl::StatusOr<std::shared_ptr<asio::ssl::context>> LoadClientTls(const TlsOptions& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a TLS client certificate needs its key, and a key its certificate");
  }
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION) != 1) {
    return absl::InternalError("OpenSSL refused TLS 1.2 as the minimum version");
  }
  asio::error_code ec;
  if (tls.verify) {
    if (tls.ca_file.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->load_verify_file(tls.ca_file, ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot load the TLS CA ", tls.ca_file.empty() ? "(system store)" : tls.ca_file, ": ",
          ec.message()));
    }
    context->set_verify_mode(asio::ssl::verify_peer, ec);
  } else {
    context->set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("TLS verify mode: ", ec.message()));
  if (!tls.cert_file.empty()) {
    if (context->use_certificate_chain_file(tls.cert_file, ec); ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load the TLS certificate ", tls.cert_file, ": ", ec.message()));
    }
    if (context->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec); ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load the TLS key ", tls.key_file, ": ", ec.message()));
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the TLS key ", tls.key_file, " does not match the certificate ", tls.cert_file));
    }
  }
  return context;
}

void PrepareClientStream(protocol::Stream::Tls& stream, const TlsOptions& tls,
                         const std::string& name) {
  asio::error_code ec;
  asio::ip::make_address(name, ec);
  if (ec) {
    // SNI carries host names only (RFC 6066), never addresses.
    SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
  }
  if (tls.verify) {
    stream.set_verify_callback(asio::ssl::host_name_verification(name), ec);
  }
}

}  // namespace rappel::client
