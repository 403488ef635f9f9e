// UTF-8 decoding, one code point at a time, for the places that read text
// the platform sent: the JSON writer (render.cc), which passes valid
// sequences through and replaces the rest, and SMS segment counting
// (credits.cc), which needs the code points. On top of it, whole strings:
// the check of every text field of a request (FirstInvalidUtf8) and the
// replacement of bad bytes in data stored before that check
// (ReplaceInvalidUtf8).
//
// Valid means well-formed as RFC 3629 and Unicode's Table 3-7 define it:
//
//   code points          byte 1   byte 2   byte 3   byte 4
//   U+0000..U+007F       00..7F
//   U+0080..U+07FF       C2..DF   80..BF
//   U+0800..U+0FFF       E0       A0..BF   80..BF
//   U+1000..U+CFFF       E1..EC   80..BF   80..BF
//   U+D000..U+D7FF       ED       80..9F   80..BF
//   U+E000..U+FFFF       EE..EF   80..BF   80..BF
//   U+10000..U+3FFFF     F0       90..BF   80..BF   80..BF
//   U+40000..U+FFFFF     F1..F3   80..BF   80..BF   80..BF
//   U+100000..U+10FFFF   F4       80..8F   80..BF   80..BF
//
// Anything else is invalid: overlong forms (C0, C1, E0 80..9F, F0 80..8F),
// surrogates (ED A0..BF), values above U+10FFFF (F4 90..BF, F5..FF), a stray
// continuation byte (80..BF first), a sequence cut short by the end of the
// text or by a byte that is not a continuation.
//
// An invalid byte decodes as U+FFFD of size 1, so decoding resumes at the
// next byte: one U+FFFD per byte of a bad sequence. For example "a\xE2\x82"
// (a euro sign cut short) is 'a', U+FFFD, U+FFFD.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rappel::server {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

struct Utf8Char {
  char32_t code_point;  // kReplacementCharacter when !valid
  uint8_t size;         // bytes it takes: 1 to 4 (1 when !valid)
  bool valid;
};

// The code point that starts at s[i]. Requires i < s.size(). Pure, no
// allocation; any thread.
constexpr Utf8Char DecodeUtf8(std::string_view s, size_t i) {
  auto at = [s](size_t k) -> char32_t {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0;
  };
  auto cont = [](char32_t b) { return (b & 0xC0) == 0x80; };
  constexpr Utf8Char kInvalid{kReplacementCharacter, 1, false};
  char32_t b0 = at(i);
  if (b0 < 0x80) return {b0, 1, true};
  char32_t b1 = at(i + 1);
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(b1)) return kInvalid;
    return {(b0 & 0x1F) << 6 | (b1 & 0x3F), 2, true};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    // The second byte's range rules out overlongs (E0) and surrogates (ED).
    char32_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    char32_t b2 = at(i + 2);
    if (b1 < lo || b1 > hi || !cont(b2)) return kInvalid;
    return {(b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | (b2 & 0x3F), 3, true};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    // Overlongs (F0) and values above U+10FFFF (F4).
    char32_t lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    char32_t b2 = at(i + 2), b3 = at(i + 3);
    if (b1 < lo || b1 > hi || !cont(b2) || !cont(b3)) return kInvalid;
    return {(b0 & 0x07) << 18 | (b1 & 0x3F) << 12 | (b2 & 0x3F) << 6 | (b3 & 0x3F), 4, true};
  }
  return kInvalid;
}

// The offset of the first byte of `s` that does not start a valid sequence,
// or s.size() when all of `s` is valid. ASCII runs go 8 bytes at a time:
// this runs on every text field of every request.
inline size_t FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (i + 8 <= s.size()) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Char ch = DecodeUtf8(s, i);
    if (!ch.valid) return i;
    i += ch.size;
  }
  return s.size();
}

inline bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == s.size(); }

// `s` with every invalid byte replaced by U+FFFD (as DecodeUtf8 reads it:
// one per byte of a bad sequence); valid sequences unchanged.
inline std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    Utf8Char ch = DecodeUtf8(s, i);
    if (ch.valid) {
      out.append(s.substr(i, ch.size));
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
    }
    i += ch.size;
  }
  return out;
}

}  // namespace rappel::server
