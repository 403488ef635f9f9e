// SMS segment counting and the ledger record (credits.h).
#include "server/plan/credits.h"

#include <string>

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
        Row{"above_10ffff", std::string("\xF4\x90\x80\x80"), false, 4, 1}),
    [](const auto& info) { return std::string(info.param.name); });

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
