// SMS segment counting and the ledger record (credits.h).
#include "server/plan/credits.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/plan/model.h"

namespace rappel::server::plan {
namespace {

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct Row {
  const char* name;
  std::string text;
  bool gsm7;
  uint32_t units;
  uint32_t segments;
};
// Names the row in test names instead of its bytes (which hold pointers).
void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

class SegmentTest : public ::testing::TestWithParam<Row> {};

TEST_P(SegmentTest, Counts) {
  const Row& row = GetParam();
  SmsEncoding e = CountSms(row.text);
  EXPECT_EQ(e.gsm7, row.gsm7);
  EXPECT_EQ(e.units, row.units);
  EXPECT_EQ(e.segments, row.segments);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, SegmentTest,
    ::testing::Values(
        Row{"empty", "", true, 0, 0},
        Row{"gsm_160_is_one", std::string(160, 'a'), true, 160, 1},
        Row{"gsm_161_is_two", std::string(161, 'a'), true, 161, 2},
        Row{"gsm_306_is_two", std::string(306, 'a'), true, 306, 2},
        Row{"gsm_307_is_three", std::string(307, 'a'), true, 307, 3},
        // é à è ù ì ò Ç É are in GSM-7's basic set: French often stays GSM-7.
        Row{"french_accents_gsm", Repeat("é", 80) + Repeat("à", 80), true, 160, 1},
        // ê is not: the whole text becomes UCS-2.
        Row{"ucs2_70_is_one", "ê" + std::string(69, 'a'), false, 70, 1},
        Row{"ucs2_71_is_two", "ê" + std::string(70, 'a'), false, 71, 2},
        Row{"ucs2_134_is_two", "ê" + std::string(133, 'a'), false, 134, 2},
        Row{"ucs2_135_is_three", "ê" + std::string(134, 'a'), false, 135, 3},
        // Extension characters take two septets.
        Row{"euro_80_is_160_septets", Repeat("€", 80), true, 160, 1},
        Row{"euro_81_is_two", Repeat("€", 81), true, 162, 2},
        Row{"braces", "{}", true, 4, 1},
        // Outside the BMP: two UTF-16 units.
        Row{"emoji_35_is_one", Repeat("\xF0\x9F\x98\x80", 35), false, 70, 1},
        Row{"emoji_36_is_two", Repeat("\xF0\x9F\x98\x80", 36), false, 72, 2},
        // A broken byte is not GSM-7: each counts as the U+FFFD the worker
        // receives in its place (common/utf8.h), overlong forms, surrogates and
        // values above U+10FFFF included.
        Row{"invalid_utf8", std::string("a\xC3"), false, 2, 1},
        Row{"overlong_a", std::string("\xC1\x81"), false, 2, 1},
        Row{"surrogate", std::string("\xED\xA0\x80"), false, 3, 1},
        Row{"above_10ffff", std::string("\xF4\x90\x80\x80"), false, 4, 1},
        // An escape pair or a surrogate pair at a part boundary starts the
        // next part: more parts than units / per-part.
        Row{"euro_153_is_three", Repeat("€", 153), true, 306, 3},
        Row{"escape_at_boundary", std::string(152, 'a') + "€" + std::string(152, 'a'), true, 306, 3},
        Row{"escape_fits_boundary", std::string(151, 'a') + "€" + std::string(153, 'a'), true, 306, 2},
        Row{"form_feed_is_escaped", std::string(152, 'a') + "\f" + std::string(152, 'a'), true, 306, 3},
        Row{"escape_ends_single", std::string(158, 'a') + "€", true, 160, 1},
        Row{"emoji_67_is_three", Repeat("\xF0\x9F\x98\x80", 67), false, 134, 3},
        Row{"surrogate_at_boundary",
            "ê" + std::string(65, 'a') + "\xF0\x9F\x98\x80" + std::string(66, 'a'), false, 134, 3},
        Row{"surrogate_fits_boundary",
            "ê" + std::string(64, 'a') + "\xF0\x9F\x98\x80" + std::string(67, 'a'), false, 134, 2}),
    [](const auto& info) { return std::string(info.param.name); });

// An independent reference: the text is encoded for real (GSM 03.38 septets
// from the spec's table, or UTF-16 code units), then the encoded stream is
// cut every 153 septets / 67 units, one unit earlier when the cut would
// separate an escape from its character or a high surrogate from its low.
namespace reference {

// GSM 03.38 default alphabet, septet 0x00..0x7F; 0x1B (ESC) is a placeholder.
const std::u32string kBasic =
    U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
// The extension table: character -> septet after ESC.
const std::vector<std::pair<char32_t, uint8_t>> kExtension = {
    {U'\f', 0x0A}, {U'^', 0x14}, {U'{', 0x28}, {U'}', 0x29}, {U'\\', 0x2F},
    {U'[', 0x3C},  {U'~', 0x3D}, {U']', 0x3E}, {U'|', 0x40}, {U'€', 0x65}};

struct Result {
  bool gsm7;
  uint32_t units;
  uint32_t segments;
};

Result Count(const std::u32string& text) {
  std::vector<uint8_t> septets;
  bool gsm7 = true;
  for (char32_t c : text) {
    size_t at = c == 0x1B ? std::u32string::npos : kBasic.find(c);
    if (at != std::u32string::npos) {
      septets.push_back(static_cast<uint8_t>(at));
      continue;
    }
    bool found = false;
    for (const auto& [ch, code] : kExtension) {
      if (ch == c) {
        septets.push_back(0x1B);
        septets.push_back(code);
        found = true;
      }
    }
    if (!found) gsm7 = false;
  }
  std::vector<char16_t> utf16;
  for (char32_t c : text) {
    if (c > 0xFFFF) {
      utf16.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      utf16.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    } else {
      utf16.push_back(static_cast<char16_t>(c));
    }
  }
  size_t len = gsm7 ? septets.size() : utf16.size();
  size_t single = gsm7 ? 160 : 70, per = gsm7 ? 153 : 67;
  Result r{gsm7, static_cast<uint32_t>(len), 0};
  if (len == 0) return r;
  if (len <= single) {
    r.segments = 1;
    return r;
  }
  for (size_t pos = 0; pos < len; ++r.segments) {
    size_t end = std::min(pos + per, len);
    if (end < len) {
      bool split = gsm7 ? septets[end - 1] == 0x1B
                        : utf16[end - 1] >= 0xD800 && utf16[end - 1] < 0xDC00;
      if (split) --end;
    }
    pos = end;
  }
  return r;
}

std::string ToUtf8(const std::u32string& text) {
  std::string out;
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace reference

TEST(SegmentReferenceTest, AgreesWithAnIndependentCounterOnRandomTexts) {
  // Pools: every GSM basic character, the extension characters, and
  // characters that force UCS-2 (in and outside the BMP).
  ASSERT_EQ(reference::kBasic.size(), 128u);
  std::u32string gsm = reference::kBasic;
  gsm.erase(gsm.find(char32_t{0x1B}), 1);
  const std::u32string ext = U"€[]{}^~|\\\f";
  const std::u32string other = U"êâ`ç\u00A0\u2019\U0001F600\U0001F44D\U00020000";
  std::mt19937 rng(20);
  int gsm_texts = 0, ucs_texts = 0, multipart = 0;
  for (int n = 0; n < 20000; ++n) {
    // Lengths around the part boundaries are the interesting ones.
    size_t len = std::uniform_int_distribution<size_t>(0, 480)(rng);
    int ext_weight = std::uniform_int_distribution<int>(0, 30)(rng);
    bool ucs = rng() % 2 == 0;
    std::u32string text;
    for (size_t i = 0; i < len; ++i) {
      int pick = std::uniform_int_distribution<int>(0, 99)(rng);
      if (ucs && pick < 8) {
        text.push_back(other[rng() % other.size()]);
      } else if (pick < 8 + ext_weight) {
        text.push_back(ext[rng() % ext.size()]);
      } else {
        text.push_back(gsm[rng() % gsm.size()]);
      }
    }
    reference::Result want = reference::Count(text);
    SmsEncoding got = CountSms(reference::ToUtf8(text));
    ASSERT_EQ(got.gsm7, want.gsm7) << n;
    ASSERT_EQ(got.units, want.units) << n;
    ASSERT_EQ(got.segments, want.segments) << n << " len " << len;
    (want.gsm7 ? gsm_texts : ucs_texts) += 1;
    multipart += want.segments > 1;
  }
  // The sample covers both encodings and split texts.
  EXPECT_GT(gsm_texts, 5000);
  EXPECT_GT(ucs_texts, 5000);
  EXPECT_GT(multipart, 10000);
}

TEST(MessageCostTest, ByChannel) {
  Tenant t;
  t.voice_credits = 3;
  EXPECT_EQ(MessageCost(t, Channel::kSms, std::string(200, 'a')), 2u);
  EXPECT_EQ(MessageCost(t, Channel::kSms, ""), 1u);  // an SMS is at least one segment
  EXPECT_EQ(MessageCost(t, Channel::kVoice, std::string(500, 'a')), 3u);
  EXPECT_EQ(MessageCost(t, Channel::kEmail, std::string(5000, 'a')), 0u);
  EXPECT_EQ(MessageCost(t, Channel::kPush, "x"), 0u);
}

TEST(LedgerTest, RoundTripsAndRefusesCorruption) {
  Ledger l{1000, 40, 1200, 200};
  std::string bytes = EncodeLedger(l);
  ASSERT_EQ(DecodeLedger(bytes), l);
  EXPECT_FALSE(DecodeLedger(bytes.substr(1)));
  bytes[0] = 9;
  EXPECT_FALSE(DecodeLedger(bytes));
  EXPECT_EQ(LedgerKey(7), std::string("pk/\0\0\0\x07", 7));
}

}  // namespace
}  // namespace rappel::server::plan
