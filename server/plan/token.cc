#include "server/plan/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "server/common/bytes.h"
#include "server/common/check.h"

namespace rappel::server::plan {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kFixedPayload = 1 + 1 + 4 + 4 + 8;
constexpr size_t kMacSize = 32;      // SHA-256
constexpr size_t kMacTextSize = 43;  // base64url of 32 bytes, no padding

absl::Status Malformed() { return absl::InvalidArgumentError("malformed token"); }

// Inverse of absl::WebSafeBase64Escape (which writes no padding). Abseil's
// decoder also takes padding ('=' or '.') and skips whitespace; a token has
// neither, so the text must be in the URL alphabet first: one accepted
// spelling per payload (up to the unused bits of the last character, which
// the MAC over the text then refuses).
bool FromBase64Url(std::string_view text, std::string* out) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  // Debian's Abseil has its own string_view type, not std::string_view.
  return absl::WebSafeBase64Unescape(absl::string_view(text.data(), text.size()), out);
}

void PutU32(std::string* s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s->push_back(static_cast<char>(v >> shift));
}

std::string MacText(std::string_view payload_text, std::string_view secret) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> mac;
  unsigned int mac_len = 0;
  // OpenSSL wants a non-null key pointer even for an empty key.
  static const char kEmpty = 0;
  const uint8_t* ok =
      HMAC(EVP_sha256(), secret.empty() ? &kEmpty : secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(payload_text.data()), payload_text.size(),
           mac.data(), &mac_len);
  RAPPEL_CHECK(ok != nullptr && mac_len == kMacSize);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(mac.data()), mac_len));
}

struct Split {
  std::string_view payload_text;
  std::string_view mac_text;
};

absl::StatusOr<Split> SplitToken(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenSize) return Malformed();
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0) return Malformed();
  Split s{token.substr(0, dot), token.substr(dot + 1)};
  if (s.mac_text.size() != kMacTextSize) return Malformed();
  return s;
}

absl::StatusOr<TokenClaims> ParsePayload(std::string_view payload_text) {
  std::string p;
  if (!FromBase64Url(payload_text, &p) || p.size() < kFixedPayload) return Malformed();
  if (static_cast<uint8_t>(p[0]) != kVersion) return Malformed();
  uint8_t action = static_cast<uint8_t>(p[1]);
  if (action < 1 || action > 3) return Malformed();
  TokenClaims c;
  c.action = static_cast<Action>(action);
  c.tenant = static_cast<uint32_t>(GetBE(p, 2, 4));
  c.revision = static_cast<uint32_t>(GetBE(p, 6, 4));
  c.expires_ms = static_cast<int64_t>(GetBE(p, 10, 8));
  c.appointment_id = p.substr(kFixedPayload);
  return c;
}

}  // namespace

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kConfirm:
      return "confirm";
    case Action::kCancel:
      return "cancel";
    case Action::kArrival:
      return "arrival";
  }
  return "unknown";
}

std::string IssueToken(const TokenClaims& claims, std::string_view secret) {
  std::string p;
  p.reserve(kFixedPayload + claims.appointment_id.size());
  p.push_back(static_cast<char>(kVersion));
  p.push_back(static_cast<char>(claims.action));
  PutU32(&p, claims.tenant);
  PutU32(&p, claims.revision);
  PutBE(&p, static_cast<uint64_t>(claims.expires_ms), 8);
  p.append(claims.appointment_id);
  std::string token = absl::WebSafeBase64Escape(p);
  std::string mac = MacText(token, secret);
  token.push_back('.');
  token.append(mac);
  return token;
}

absl::StatusOr<TokenClaims> VerifyToken(std::string_view token, std::string_view secret) {
  if (secret.empty()) return absl::FailedPreconditionError("no token secret for this tenant");
  absl::StatusOr<Split> split = SplitToken(token);
  if (!split.ok()) return split.status();
  // Decode before the MAC check so that garbage is reported as malformed
  // rather than as a bad signature; the MAC is still checked before any
  // claim is returned.
  absl::StatusOr<TokenClaims> claims = ParsePayload(split->payload_text);
  if (!claims.ok()) return claims.status();
  std::string expected = MacText(split->payload_text, secret);
  if (CRYPTO_memcmp(expected.data(), split->mac_text.data(), kMacTextSize) != 0) {
    return absl::PermissionDeniedError("token signature does not match");
  }
  return claims;
}

absl::StatusOr<uint32_t> TokenTenant(std::string_view token) {
  absl::StatusOr<Split> split = SplitToken(token);
  if (!split.ok()) return split.status();
  absl::StatusOr<TokenClaims> claims = ParsePayload(split->payload_text);
  if (!claims.ok()) return claims.status();
  return claims->tenant;
}

std::string NewSecret() {
  std::array<uint8_t, 32> bytes;
  RAPPEL_CHECK(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace rappel::server::plan
