// Signed action tokens, for patient self-service: the links in a message let
// the patient confirm, cancel or announce arrival, each within a window the
// tenant sets (Tenant in model.h); the platform hands the token back to
// rappel, which verifies it here and then checks expiry, the schedule
// revision, the action's used mark and the tenant's windows against its own
// clock and state (book.cc, not done here).
//
// Format (URL-safe, no padding, nothing to escape in a query string):
//   base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))
// payload, big-endian: u8 version (1), u8 action, u32 tenant, u32 revision,
//   i64 expires_ms, then the appointment id bytes (the rest).
// The MAC covers the encoded payload text and is compared as text, so any
// change to any character of the token is refused (base64 has several texts
// for one byte string; comparing bytes would let some edits through).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rappel::server::plan {

enum class Action : uint8_t { kConfirm = 1, kCancel = 2, kArrival = 3 };
std::string_view ActionName(Action a);

struct TokenClaims {
  uint32_t tenant = 0;
  std::string appointment_id;
  uint32_t revision = 0;  // the appointment's schedule_revision (model.h) at issue
  Action action = Action::kConfirm;
  int64_t expires_ms = 0;

  friend bool operator==(const TokenClaims&, const TokenClaims&) = default;
};

// Longest token VerifyToken accepts; longer text is malformed. Issue only
// ids well below it (ids are short in practice).
inline constexpr size_t kMaxTokenSize = 2048;

// The secret is used as the HMAC key byte for byte (a NewSecret() string is
// 64 hex characters: the key is those characters). It must not be empty.
std::string IssueToken(const TokenClaims& claims, std::string_view secret);

// Checks the format and the MAC (constant-time compare) and returns the
// claims. Errors: InvalidArgument "malformed token" (empty, truncated,
// garbage, bad version or action), PermissionDenied "token signature does not
// match" (altered, or another tenant's secret), FailedPrecondition if the
// secret is empty. Expiry is NOT checked.
absl::StatusOr<TokenClaims> VerifyToken(std::string_view token, std::string_view secret);

// The tenant id of a token, without verifying it: only to find the secret to
// verify it with. InvalidArgument if the token is malformed.
absl::StatusOr<uint32_t> TokenTenant(std::string_view token);

// 32 random bytes (OpenSSL RAND_bytes) as 64 lowercase hex characters, so a
// secret survives JSON and TOML unchanged. Aborts if the RNG fails.
std::string NewSecret();

}  // namespace rappel::server::plan
