// Credentials: the tokens rappeld accepts at Hello, each with a role and the
// tenants it may act for. A secret is kept only as its SHA-256: the clear
// secret is hashed when the configuration is read and not kept, so a core
// dump or a memory read shows no usable token.
//
// Thread: immutable once built; read on the io thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/rappel_generated.h"
#include "server/engine/reminder.h"

namespace rappel::server {

using SecretHash = std::array<uint8_t, 32>;

// SHA-256 of the secret's bytes (OpenSSL).
SecretHash HashSecret(std::string_view secret);

struct Credential {
  SecretHash hash{};
  protocol::wire::Role role = protocol::wire::Role::Producer;
  // For logs: "clinic-a", or "token #N" when the configuration names none.
  std::string name;
  // The tenants it may act for, sorted by value, no duplicates; nullopt:
  // every tenant.
  std::optional<std::vector<TenantId>> tenants;
};

// A credential for `secret` (tests and embedders; rappeld builds them from
// its configuration, server/main/config.h). An empty name stays empty.
Credential MakeCredential(std::string_view secret, protocol::wire::Role role, std::string name = "",
                          std::optional<std::vector<TenantId>> tenants = std::nullopt);

// The credential whose secret is `secret`, or null. Every credential's hash
// is compared, in constant time (CRYPTO_memcmp), whichever matches: the
// time taken says nothing about which bytes or which token matched.
const Credential* FindCredential(const std::vector<Credential>& credentials,
                                 std::string_view secret);

}  // namespace rappel::server
