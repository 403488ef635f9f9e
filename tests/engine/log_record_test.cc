#include "server/engine/log_record.h"

#include "gtest/gtest.h"

namespace rappel::server {
namespace {

ReminderSpec Sample() {
  return ReminderSpec{TenantId{7}, "appt-42/reminder-24h", Channel::kVoice, "+33611223344",
                      1'700'000'000'123, 1'700'000'100'000, std::string("pay\0load", 8)};
}

TEST(LogRecordTest, ReminderRoundTrips) {
  std::string bytes;
  EncodeReminder(Sample(), &bytes);
  EXPECT_EQ(bytes.size(), kRecordOverheadBytes + 20 + 12 + 8);
  auto rec = DecodeRecord(bytes);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->type, RecordType::kReminder);
  EXPECT_EQ(rec->ToSpec(), Sample());
}

TEST(LogRecordTest, TombstoneRoundTrips) {
  std::string bytes;
  EncodeTombstone(TenantId{3}, "k", EndReason::kExpired, 99, &bytes);
  auto rec = DecodeRecord(bytes);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->type, RecordType::kTombstone);
  EXPECT_EQ(rec->reason, EndReason::kExpired);
  EXPECT_EQ(rec->tenant, TenantId{3});
  EXPECT_EQ(rec->key, "k");
  EXPECT_EQ(rec->due_ms, 99);
}

TEST(LogRecordTest, EveryTruncationAndEveryFlippedByteIsDataLoss) {
  std::string bytes;
  EncodeReminder(Sample(), &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(bytes.substr(0, n)).status())) << n;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(bad).status())) << i;
  }
}

TEST(LogRecordTest, KeyHashSeparatesTenants) {
  EXPECT_EQ(HashKey(TenantId{1}, "k"), HashKey(TenantId{1}, "k"));
  EXPECT_FALSE(HashKey(TenantId{1}, "k") == HashKey(TenantId{2}, "k"));
  EXPECT_FALSE(HashKey(TenantId{1}, "k") == HashKey(TenantId{1}, "k2"));
}

TEST(LogRecordTest, ChannelNamesRoundTrip) {
  for (auto c : {Channel::kSms, Channel::kEmail, Channel::kVoice, Channel::kPush}) {
    EXPECT_EQ(ParseChannel(ChannelName(c)), c);
  }
  EXPECT_FALSE(ParseChannel("fax").has_value());
}

}  // namespace
}  // namespace rappel::server
