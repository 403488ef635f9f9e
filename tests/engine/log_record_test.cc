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

// Structure only (Poll's header read): the layout is still checked, the
// content is not; a flipped content byte is caught by the full decode.
TEST(LogRecordTest, StructureOnlyDecodeChecksTheLayoutNotTheContent) {
  std::string bytes;
  EncodeReminder(Sample(), &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(bytes.substr(0, n), Verify::kStructure).status()))
        << n;
  }
  std::string bad = bytes;
  bad[bytes.size() - 9] ^= 0x20;  // the payload's last byte
  auto rec = DecodeRecord(bad, Verify::kStructure);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->tenant, Sample().tenant);
  EXPECT_EQ(rec->channel, Sample().channel);
  EXPECT_EQ(rec->due_ms, Sample().due_ms);
  EXPECT_EQ(rec->expiry_ms, Sample().expiry_ms);
  EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(bad).status()));
  bad = bytes;
  bad[2] = 9;  // no such channel
  EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(bad, Verify::kStructure).status()));
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
