#include "server/net/credentials.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace rappel::server {

SecretHash HashSecret(std::string_view secret) {
  SecretHash out;
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), out.data());
  return out;
}

Credential MakeCredential(std::string_view secret, protocol::wire::Role role, std::string name,
                          std::optional<std::vector<TenantId>> tenants) {
  return Credential{HashSecret(secret), role, std::move(name), std::move(tenants)};
}

const Credential* FindCredential(const std::vector<Credential>& credentials,
                                 std::string_view secret) {
  SecretHash hash = HashSecret(secret);
  const Credential* found = nullptr;
  for (const Credential& c : credentials) {
    // No early exit: every hash is compared. Secrets are unique (the
    // configuration refuses duplicates), so at most one matches.
    bool equal = CRYPTO_memcmp(c.hash.data(), hash.data(), hash.size()) == 0;
    if (equal) found = &c;
  }
  OPENSSL_cleanse(hash.data(), hash.size());
  return found;
}

}  // namespace rappel::server
