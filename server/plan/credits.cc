#include "server/plan/credits.h"

#include "server/common/bytes.h"
#include "server/common/utf8.h"
#include "server/plan/model.h"

namespace rappel::server::plan {
namespace {

// GSM 03.38 basic character set, as Unicode code points (besides the
// printable ASCII handled below).
bool InGsmBasic(char32_t c) {
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  switch (c) {
    case ' ': case '!': case '"': case '#': case '%': case '&': case '\'': case '(':
    case ')': case '*': case '+': case ',': case '-': case '.': case '/': case ':':
    case ';': case '<': case '=': case '>': case '?': case '@': case '$': case '_':
    case '\n': case '\r':
    case U'£': case U'¥': case U'è': case U'é': case U'ù': case U'ì': case U'ò': case U'Ç':
    case U'Ø': case U'ø': case U'Å': case U'å': case U'Δ': case U'Φ': case U'Γ': case U'Λ':
    case U'Ω': case U'Π': case U'Ψ': case U'Σ': case U'Θ': case U'Ξ': case U'Æ': case U'æ':
    case U'ß': case U'É': case U'¤': case U'¡': case U'Ä': case U'Ö': case U'Ñ': case U'Ü':
    case U'§': case U'¿': case U'ä': case U'ö': case U'ñ': case U'ü': case U'à':
      return true;
    default:
      return false;
  }
}
bool InGsmExtension(char32_t c) {
  switch (c) {
    case '^': case '{': case '}': case '\\': case '[': case ']': case '~': case '|':
    case '\f': case U'€':
      return true;
    default:
      return false;
  }
}

constexpr uint8_t kLedgerFormat = 1;

}  // namespace

SmsEncoding CountSms(std::string_view utf8) {
  SmsEncoding e;
  uint32_t septets = 0;
  uint32_t utf16 = 0;
  // Parts of a concatenated text, filled greedily in both encodings at once
  // (the text's encoding is known only at its end): a character takes 1 or
  // 2 units, and one of 2 (an escape pair, a surrogate pair) never straddles
  // two parts (3GPP TS 23.040): it starts the next one.
  uint32_t gsm_parts = 1, gsm_fill = 0, ucs_parts = 1, ucs_fill = 0;
  auto fill = [](uint32_t width, uint32_t part, uint32_t* parts, uint32_t* used) {
    if (*used + width > part) {
      ++*parts;
      *used = 0;
    }
    *used += width;
  };
  // A byte that is not valid UTF-8 counts as one U+FFFD, which is what the
  // worker receives in its place (the JSON writer replaces it, render.cc).
  for (size_t i = 0; i < utf8.size();) {
    Utf8Char ch = DecodeUtf8(utf8, i);
    i += ch.size;
    char32_t c = ch.code_point;
    uint32_t wide = c > 0xFFFF ? 2 : 1;
    utf16 += wide;
    fill(wide, kUcs2PerPart, &ucs_parts, &ucs_fill);
    if (!e.gsm7) continue;
    uint32_t septet_width = InGsmBasic(c) ? 1 : InGsmExtension(c) ? 2 : 0;
    if (septet_width == 0) {
      e.gsm7 = false;
      continue;
    }
    septets += septet_width;
    fill(septet_width, kGsm7PerPart, &gsm_parts, &gsm_fill);
  }
  e.units = e.gsm7 ? septets : utf16;
  uint32_t single = e.gsm7 ? kGsm7Single : kUcs2Single;
  if (e.units == 0) {
    e.segments = 0;
  } else if (e.units <= single) {
    e.segments = 1;
  } else {
    e.segments = e.gsm7 ? gsm_parts : ucs_parts;
  }
  return e;
}

uint32_t MessageCost(const Tenant& tenant, Channel channel, std::string_view text) {
  switch (channel) {
    case Channel::kSms: return std::max<uint32_t>(1, CountSms(text).segments);
    case Channel::kVoice: return tenant.voice_credits;
    default: return 0;
  }
}

std::string LedgerKey(uint32_t tenant) {
  std::string k = "pk/";
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(tenant >> (8 * i)));
  return k;
}

std::string EncodeLedger(const Ledger& l) {
  std::string v(1, static_cast<char>(kLedgerFormat));
  PutBE(&v, static_cast<uint64_t>(l.balance), 8);
  PutBE(&v, static_cast<uint64_t>(l.reserved), 8);
  PutBE(&v, static_cast<uint64_t>(l.added), 8);
  PutBE(&v, static_cast<uint64_t>(l.spent), 8);
  return v;
}

std::optional<Ledger> DecodeLedger(std::string_view b) {
  if (b.size() != 33 || static_cast<uint8_t>(b[0]) != kLedgerFormat) return std::nullopt;
  auto at = [&](size_t off) { return static_cast<int64_t>(GetBE(b, off, 8)); };
  return Ledger{at(1), at(9), at(17), at(25)};
}

}  // namespace rappel::server::plan
