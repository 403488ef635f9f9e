// TestPki: certificates made at test time with the `openssl` command (the
// Debian package openssl), in a directory of the caller's:
//
//   ca.pem, ca.key                   a CA
//   server.pem, server.key           signed by it, for 127.0.0.1 and localhost
//   client.pem, client.key           signed by it, for client authentication
//   other-ca.pem, other-ca.key       a second, unrelated CA
//   other-server.pem, other-server.key   the other CA's server certificate
//   other-client.pem, other-client.key   the other CA's client certificate
//
// EC P-256 keys, valid two days. Make() returns false (with openssl's
// output on stderr) if any step failed.
#pragma once

#include <cstdlib>
#include <string>

namespace rappel::testing {

class TestPki {
 public:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}

  bool Make() const {
    std::string script = "set -e; cd '" + dir_ + "'\n" + R"(
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() { key "$1"; openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" 2>/dev/null; }
# leaf NAME CA CN EXTENSIONS
leaf() {
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
}
ca ca rappel-test-ca
ca other-ca rappel-other-ca
server='subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth'
client='extendedKeyUsage=clientAuth'
leaf server ca localhost "$server"
leaf client ca rappel-test-client "$client"
leaf other-server other-ca localhost "$server"
leaf other-client other-ca rappel-other-client "$client"
chmod 600 *.key
)";
    return std::system(script.c_str()) == 0;
  }

  std::string operator()(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

}  // namespace rappel::testing
