#include "server/common/utf8.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rappel::server {
namespace {

// gtest cannot print a char32_t.
uint32_t U(char32_t c) { return static_cast<uint32_t>(c); }

// The encoder the decoder must invert.
std::string Encode(char32_t c) {
  std::string out;
  auto put = [&out](char32_t b) { out.push_back(static_cast<char>(b)); };
  if (c < 0x80) {
    put(c);
  } else if (c < 0x800) {
    put(0xC0 | c >> 6);
    put(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    put(0xE0 | c >> 12);
    put(0x80 | (c >> 6 & 0x3F));
    put(0x80 | (c & 0x3F));
  } else {
    put(0xF0 | c >> 18);
    put(0x80 | (c >> 12 & 0x3F));
    put(0x80 | (c >> 6 & 0x3F));
    put(0x80 | (c & 0x3F));
  }
  return out;
}

// The reference, by another route than the table: read the lead byte's
// length and the continuation bits without any range check, then accept
// only a Unicode scalar value whose shortest encoding is what was read.
Utf8Char Reference(std::string_view s, size_t i) {
  constexpr Utf8Char kInvalid{kReplacementCharacter, 1, false};
  auto b0 = static_cast<unsigned char>(s[i]);
  int size = b0 < 0x80 ? 1 : b0 >> 5 == 6 ? 2 : b0 >> 4 == 14 ? 3 : b0 >> 3 == 30 ? 4 : 0;
  if (size == 0 || i + size > s.size()) return kInvalid;
  char32_t c = size == 1 ? b0 : b0 & (0x7F >> size);
  for (int k = 1; k < size; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if (b >> 6 != 2) return kInvalid;
    c = c << 6 | (b & 0x3F);
  }
  bool scalar = c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF);
  if (!scalar || Encode(c) != s.substr(i, size)) return kInvalid;
  return {c, static_cast<uint8_t>(size), true};
}

void ExpectSame(const std::string& s) {
  Utf8Char got = DecodeUtf8(s, 0);
  Utf8Char want = Reference(s, 0);
  ASSERT_EQ(got.valid, want.valid) << testing::PrintToString(s);
  ASSERT_EQ(got.size, want.size) << testing::PrintToString(s);
  ASSERT_EQ(U(got.code_point), U(want.code_point)) << testing::PrintToString(s);
}

TEST(Utf8Test, EveryScalarValueRoundTrips) {
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string e = Encode(c);
    Utf8Char got = DecodeUtf8(e, 0);
    ASSERT_TRUE(got.valid) << std::hex << U(c);
    ASSERT_EQ(U(got.code_point), U(c));
    ASSERT_EQ(got.size, e.size());
    // Cut short anywhere, it is invalid; followed by anything, it is the same.
    for (size_t n = 1; n < e.size(); ++n) ASSERT_FALSE(DecodeUtf8(e.substr(0, n), 0).valid);
    ASSERT_EQ(DecodeUtf8(e + "\x80", 0).size, e.size());
  }
}

// Every first and second byte, with the third and fourth from the values
// where the table's ranges change, and each string also cut at every length.
TEST(Utf8Test, AgreesWithTheReferenceOnEveryLeadingPair) {
  const std::vector<unsigned char> edges = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90,
                                            0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF};
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      for (unsigned char b2 : edges) {
        for (unsigned char b3 : edges) {
          std::string s = {static_cast<char>(b0), static_cast<char>(b1), static_cast<char>(b2),
                           static_cast<char>(b3)};
          for (size_t n = 1; n <= 4; ++n) ExpectSame(s.substr(0, n));
        }
      }
    }
  }
}

TEST(Utf8Test, TheTableBoundaries) {
  struct Case {
    std::string bytes;
    char32_t code_point;  // 0: invalid
  };
  for (const Case& c : std::vector<Case>{
           {"\x7F", 0x7F},
           {"\xC2\x80", 0x80},
           {"\xDF\xBF", 0x7FF},
           {"\xE0\xA0\x80", 0x800},
           {"\xED\x9F\xBF", 0xD7FF},
           {"\xEE\x80\x80", 0xE000},
           {"\xEF\xBF\xBF", 0xFFFF},
           {"\xF0\x90\x80\x80", 0x10000},
           {"\xF4\x8F\xBF\xBF", 0x10FFFF},
           {"\xC0\x80", 0},              // overlong NUL
           {"\xC1\xBF", 0},              // overlong U+007F
           {"\xE0\x9F\xBF", 0},          // overlong U+07FF
           {"\xF0\x8F\xBF\xBF", 0},      // overlong U+FFFF
           {"\xED\xA0\x80", 0},          // surrogate U+D800
           {"\xED\xBF\xBF", 0},          // surrogate U+DFFF
           {"\xF4\x90\x80\x80", 0},      // U+110000
           {"\xF5\x80\x80\x80", 0},      // lead byte past F4
           {"\xF8\x88\x80\x80\x80", 0},  // five-byte form
           {"\xFF", 0},
           {"\x80", 0},      // stray continuation
           {"\xE2\x82", 0},  // cut short
           {"\xE2\x82\x41", 0},
       }) {
    Utf8Char got = DecodeUtf8(c.bytes, 0);
    if (c.code_point == 0) {
      EXPECT_FALSE(got.valid) << testing::PrintToString(c.bytes);
      EXPECT_EQ(U(got.code_point), 0xFFFDu);
      EXPECT_EQ(got.size, 1);
    } else {
      EXPECT_TRUE(got.valid) << testing::PrintToString(c.bytes);
      EXPECT_EQ(U(got.code_point), U(c.code_point));
      EXPECT_EQ(got.size, c.bytes.size());
    }
  }
}

TEST(Utf8Test, ABadSequenceIsOneReplacementPerByte) {
  std::string s = "a\xE2\x82" "b\xF0\x9F\x98\x80";  // a cut euro sign, then an emoji
  std::vector<uint32_t> got;
  for (size_t i = 0; i < s.size();) {
    Utf8Char c = DecodeUtf8(s, i);
    got.push_back(U(c.code_point));
    i += c.size;
  }
  EXPECT_EQ(got, (std::vector<uint32_t>{'a', 0xFFFD, 0xFFFD, 'b', 0x1F600}));
}

TEST(Utf8Test, UsableAtCompileTime) {
  static_assert(DecodeUtf8("\xE2\x82\xAC", 0).code_point == 0x20AC);
  static_assert(!DecodeUtf8("\xED\xA0\x80", 0).valid);
}

// The word-at-a-time scan agrees with decoding one code point at a time,
// wherever the bad byte falls relative to the 8-byte runs.
TEST(Utf8Test, FirstInvalidAgreesWithTheDecoderAtEveryPosition) {
  const std::string bads[] = {"\xFF", "\x80", "\xC3", "\xE2\x82", "\xED\xA0\x80", "\xC0\xAF"};
  for (const std::string& bad : bads) {
    for (size_t at = 0; at <= 20; ++at) {
      std::string s = std::string(at, 'x') + bad + "\xC3\xA9tail";
      size_t expect = s.size();
      for (size_t i = 0; i < s.size();) {
        Utf8Char c = DecodeUtf8(s, i);
        if (!c.valid) {
          expect = i;
          break;
        }
        i += c.size;
      }
      EXPECT_EQ(FirstInvalidUtf8(s), expect) << at;
      EXPECT_EQ(FirstInvalidUtf8(s), at) << at;
      EXPECT_FALSE(IsValidUtf8(s));
    }
  }
  EXPECT_TRUE(IsValidUtf8("0123456789abcdef\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_TRUE(IsValidUtf8(""));
}

TEST(Utf8Test, ReplaceKeepsValidTextAndReplacesEachBadByte) {
  EXPECT_EQ(ReplaceInvalidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ReplaceInvalidUtf8("a\xE2\x82" "b"), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  EXPECT_EQ(ReplaceInvalidUtf8("\xFF"), "\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8(ReplaceInvalidUtf8("\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80")));
}

}  // namespace
}  // namespace rappel::server
