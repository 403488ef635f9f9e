// AddTlsFlags: the TLS flags rappel's own programs share (rappelctl,
// rappel-load, the examples) on a CLI11 app, into client::TlsOptions:
//
//   --tls                 speak TLS to rappeld
//   --ca FILE             the CA the server's certificate must verify against
//   --cert FILE, --key FILE   this client's certificate (mutual TLS)
//   --server-name NAME    the name the server's certificate must carry
//
// --ca, --cert, --key and --server-name imply --tls. Header-only, needs
// CLI11; not part of the installed library.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "rappel/types.h"

namespace rappel::client {

inline void AddTlsFlags(CLI::App& app, TlsOptions& tls) {
  auto turns_on = [&tls](const std::string&) { tls.enabled = true; };
  app.add_flag("--tls", tls.enabled,
               "speak TLS to rappeld (TLS 1.2 or later; rappeld must have a certificate)");
  app.add_option("--ca", tls.ca_file,
                 "PEM CA certificates the server's certificate must verify against (default: "
                 "the system's trust store); implies --tls")
      ->each(turns_on)
      ->type_name("FILE");
  app.add_option("--cert", tls.cert_file,
                 "PEM certificate of this client, for a rappeld that asks for one (mutual TLS), "
                 "with --key; implies --tls")
      ->each(turns_on)
      ->type_name("FILE");
  app.add_option("--key", tls.key_file, "PEM private key of --cert; implies --tls")
      ->each(turns_on)
      ->type_name("FILE");
  app.add_option("--server-name", tls.server_name,
                 "the name (or address) rappeld's certificate must carry (default: --host); "
                 "implies --tls")
      ->each(turns_on)
      ->type_name("NAME");
}

}  // namespace rappel::client
