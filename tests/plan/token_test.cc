#include "server/plan/token.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rappel::server::plan {
namespace {

TokenClaims Sample() {
  return TokenClaims{.tenant = 42,
                     .appointment_id = "apt-2026-03-29/éà",
                     .revision = 7,
                     .action = Action::kCancel,
                     .expires_ms = 1'774'771'200'000};
}

bool UrlSafe(const std::string& s) {
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

TEST(TokenTest, RoundTripPreservesClaimsExactly) {
  std::string secret = NewSecret();
  for (Action a : {Action::kConfirm, Action::kCancel, Action::kArrival}) {
    TokenClaims c = Sample();
    c.action = a;
    std::string token = IssueToken(c, secret);
    EXPECT_TRUE(UrlSafe(token)) << token;
    EXPECT_EQ(token.find('='), std::string::npos);
    auto got = VerifyToken(token, secret);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, c);
  }
}

TEST(TokenTest, ExtremeValuesSurvive) {
  std::string secret = NewSecret();
  TokenClaims c{.tenant = 0xFFFFFFFF,
                .appointment_id = "",
                .revision = 0xFFFFFFFF,
                .action = Action::kArrival,
                .expires_ms = -1};
  auto got = VerifyToken(IssueToken(c, secret), secret);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, c);
  c.expires_ms = INT64_MAX;
  c.appointment_id = std::string(300, 'x');
  got = VerifyToken(IssueToken(c, secret), secret);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, c);
}

// The exact text, computed outside rappel (Python's base64.urlsafe_b64encode
// without padding and hmac/sha256), with payloads of 37, 26 and 20 bytes so
// that every base64 tail (2, 0 and 3 characters) is pinned.
TEST(TokenTest, KnownTokensAreExact) {
  EXPECT_EQ(IssueToken(Sample(), "fixed-secret"),
            "AQIAAAAqAAAABwAAAZ04m2AAYXB0LTIwMjYtMDMtMjkvw6nDoA."
            "QmwrBwKl9LBibaj0m2bz5I4c77iBzVrysi_vW9ISbPk");
  TokenClaims ones{.tenant = 0xFFFFFFFF,
                   .appointment_id = "",
                   .revision = 0xFFFFFFFF,
                   .action = Action::kArrival,
                   .expires_ms = -1};
  EXPECT_EQ(IssueToken(ones, "k"),
            "AQP_____________________.8CVExQ9Jp9U9es-C5bi1wAhbIfUyzmd3u3-XZEQ2OW0");
  TokenClaims small{.tenant = 1,
                    .appointment_id = "ab",
                    .revision = 1,
                    .action = Action::kConfirm,
                    .expires_ms = 0};
  std::string token = "AQEAAAABAAAAAQAAAAAAAAAAYWI.ARpfCVyBmKgRoXoleh-Zm9_IhielYyTcUbXgyygnxfo";
  EXPECT_EQ(IssueToken(small, "k"), token);
  auto got = VerifyToken(token, "k");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, small);
}

TEST(TokenTest, EveryAlteredCharacterIsRefused) {
  std::string secret = NewSecret();
  std::string token = IssueToken(Sample(), secret);
  for (size_t i = 0; i < token.size(); ++i) {
    for (char delta : {1, 2, 4, 8, 16, 32}) {
      std::string bad = token;
      bad[i] = static_cast<char>(bad[i] ^ delta);
      EXPECT_FALSE(VerifyToken(bad, secret).ok()) << "position " << i << " xor " << int(delta);
    }
  }
}

TEST(TokenTest, NonCanonicalBase64IsRefused) {
  // The last character of the MAC carries 4 unused bits: 'A' and 'B' may
  // decode to the same bytes, but the token text differs and is refused.
  std::string secret = NewSecret();
  std::string token = IssueToken(Sample(), secret);
  for (char c : std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")) {
    if (c == token.back()) continue;
    std::string bad = token;
    bad.back() = c;
    EXPECT_FALSE(VerifyToken(bad, secret).ok()) << c;
  }
}

TEST(TokenTest, OtherTenantSecretIsRefused) {
  std::string mine = NewSecret();
  std::string theirs = NewSecret();
  EXPECT_NE(mine, theirs);
  auto got = VerifyToken(IssueToken(Sample(), mine), theirs);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(got.status().message(), "token signature does not match");
}

TEST(TokenTest, AlteredClaimsWithOldMacAreRefused) {
  std::string secret = NewSecret();
  std::string token = IssueToken(Sample(), secret);
  TokenClaims other = Sample();
  other.action = Action::kConfirm;
  std::string forged = IssueToken(other, "attacker");
  std::string spliced = forged.substr(0, forged.find('.')) + token.substr(token.find('.'));
  EXPECT_EQ(VerifyToken(spliced, secret).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(TokenTest, MalformedIsInvalidArgument) {
  std::string secret = NewSecret();
  std::string token = IssueToken(Sample(), secret);
  std::string dot_at = token.substr(0, token.find('.'));
  for (std::string bad :
       {std::string(), std::string("."), std::string("garbage"), std::string("a.b"), dot_at,
        dot_at + ".", token.substr(0, token.size() - 1), token.substr(1), token + "A",
        std::string("!!!!.") + token.substr(token.find('.') + 1),
        std::string("AAAA.") + token.substr(token.find('.') + 1),
        std::string(kMaxTokenSize + 1, 'A')}) {
    auto got = VerifyToken(bad, secret);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << "'" << bad << "'";
    EXPECT_EQ(TokenTenant(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(VerifyToken("", secret).status().message(), "malformed token");
}

// Text that a lenient base64 decoder would take for the same payload
// (padding, whitespace anywhere, '+' and '/' of the standard alphabet) is
// malformed, as is an impossible length: a token has exactly the characters
// IssueToken writes.
TEST(TokenTest, PaddingWhitespaceAndOtherAlphabetsAreMalformed) {
  std::string secret = NewSecret();
  for (const TokenClaims& c :
       {Sample(), TokenClaims{.tenant = 1, .appointment_id = "ab", .action = Action::kConfirm},
        TokenClaims{.tenant = 1, .appointment_id = "abcdef", .action = Action::kConfirm}}) {
    std::string token = IssueToken(c, secret);
    size_t dot = token.find('.');
    std::string payload = token.substr(0, dot);  // 50, 27 and 32 characters
    std::string mac = token.substr(dot);  // with its dot
    std::vector<std::string> bad = {payload + "====" + mac, "=" + payload + mac,
                                    // a length of 4n + 1, which no byte string has
                                    payload + std::string((5 - payload.size() % 4) % 4, 'A') + mac};
    if (size_t pad = (4 - payload.size() % 4) % 4; pad != 0) {
      bad.push_back(payload + std::string(pad, '=') + mac);
      bad.push_back(payload + std::string(pad, '.') + mac);  // Abseil's other pad; the dot splits
    }
    for (const char* ws : {" ", "\n", "\r", "\t", "\v", "\f"}) {
      bad.push_back(ws + payload + mac);
      bad.push_back(payload + ws + mac);
      bad.push_back(payload.substr(0, 4) + ws + payload.substr(4) + mac);
    }
    std::string standard = payload;
    for (char& ch : standard) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    if (standard != payload) bad.push_back(standard + mac);
    for (const std::string& b : bad) {
      EXPECT_EQ(VerifyToken(b, secret).status().code(), absl::StatusCode::kInvalidArgument)
          << "'" << b << "'";
      EXPECT_EQ(TokenTenant(b).status().code(), absl::StatusCode::kInvalidArgument) << b;
    }
  }
}

// The unused low bits of the payload's last character are not checked when
// decoding: such a text decodes to the same claims, and the MAC (over the
// text) refuses it.
TEST(TokenTest, NonCanonicalPayloadIsASignatureMismatch) {
  std::string secret = NewSecret();
  TokenClaims c = Sample();  // 37 bytes: the payload ends in 2 characters, 4 unused bits
  std::string token = IssueToken(c, secret);
  size_t dot = token.find('.');
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t value = alphabet.find(token[dot - 1]);
  ASSERT_EQ(value & 15, 0u);  // canonical: the unused bits are zero
  std::string bad = token;
  bad[dot - 1] = alphabet[value | 1];
  EXPECT_EQ(VerifyToken(bad, secret).status().code(), absl::StatusCode::kPermissionDenied);
  auto tenant = TokenTenant(bad);
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  EXPECT_EQ(*tenant, c.tenant);
}

TEST(TokenTest, EmptySecretIsRefused) {
  std::string token = IssueToken(Sample(), "k");
  EXPECT_EQ(VerifyToken(token, "").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TokenTest, TenantPeekWithoutSecret) {
  TokenClaims c = Sample();
  c.tenant = 123456;
  auto tenant = TokenTenant(IssueToken(c, NewSecret()));
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  EXPECT_EQ(*tenant, 123456u);
}

TEST(TokenTest, SecretsAreHexAndDistinct) {
  std::string s = NewSecret();
  ASSERT_EQ(s.size(), 64u);
  for (char c : s) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  EXPECT_NE(s, NewSecret());
}

}  // namespace
}  // namespace rappel::server::plan
