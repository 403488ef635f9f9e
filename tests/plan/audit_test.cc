// Audit records: the binary lines read back as written, the text records
// of older stores still read, damage never thrown on.
#include "server/plan/audit.h"

#include <gtest/gtest.h>

namespace rappel::server::plan {
namespace {

TEST(AuditTest, BinaryLinesReadBackAsWritten) {
  std::string record;
  const int64_t at = 1'795'000'000'000;
  AppendAuditLine(&record, at, "planned", MessageKind::kReminder, Channel::kSms, 2,
                  at + 2 * 86'400'000, "created; 1 credit(s) reserved");
  AppendAuditLine(&record, at + 5, "omitted", MessageKind::kPreVisit, std::nullopt, 0, 0,
                  "no address\tfor\r\nit");
  AppendAuditLine(&record, at - 3, "dropped", MessageKind::kConfirmation, Channel::kEmail, 1,
                  at - 10, "moved");
  auto entries = ParseAuditRecord(record);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].at_ms, at);
  EXPECT_EQ(entries[0].what, "planned");
  EXPECT_EQ(entries[0].kind, "reminder");
  EXPECT_EQ(entries[0].channel, "sms");
  EXPECT_EQ(entries[0].occurrence, 2u);
  EXPECT_EQ(entries[0].due_ms, at + 2 * 86'400'000);
  EXPECT_EQ(entries[0].reason, "created; 1 credit(s) reserved");
  EXPECT_EQ(entries[1].at_ms, at + 5);
  EXPECT_EQ(entries[1].channel, "*");
  EXPECT_EQ(entries[1].due_ms, 0);
  EXPECT_EQ(entries[1].reason, "no address for  it");  // shown as one line
  EXPECT_EQ(entries[2].at_ms, at - 3);
  EXPECT_EQ(entries[2].kind, "confirmation");
  EXPECT_EQ(entries[2].channel, "email");
  EXPECT_EQ(entries[2].due_ms, at - 10);
  // The point of the format: a typical line is a few dozen bytes, not the
  // seventy-odd of its text form.
  EXPECT_LT(record.size(), 110u);
}

TEST(AuditTest, TextRecordsOfOlderStoresStillRead) {
  std::string text =
      "1795000000000\tplanned\treminder\tsms\t1\t1795172800000\tcreated\n"
      "not a line\n"
      "1795000000001\tdropped\tchange\t*\t0\t0\tcancelled\n";
  auto entries = ParseAuditRecord(text);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].at_ms, 1795000000000);
  EXPECT_EQ(entries[0].due_ms, 1795172800000);
  EXPECT_EQ(entries[0].reason, "created");
  EXPECT_EQ(entries[1].what, "dropped");
  EXPECT_EQ(entries[1].channel, "*");
}

TEST(AuditTest, ADamagedRecordKeepsTheLinesBeforeTheDamage) {
  std::string record;
  AppendAuditLine(&record, 1000, "planned", MessageKind::kReminder, Channel::kSms, 1, 2000, "a");
  size_t first = record.size();
  AppendAuditLine(&record, 1001, "sent", MessageKind::kReminder, Channel::kSms, 1, 2000, "b");
  for (size_t cut = first; cut < record.size(); ++cut) {
    auto entries = ParseAuditRecord(std::string_view(record).substr(0, cut));
    ASSERT_EQ(entries.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(entries[0].reason, "a");
  }
  std::string bad_kind = record.substr(0, first);
  AppendAuditLine(&bad_kind, 1002, "x", MessageKind::kReminder, Channel::kSms, 1, 2000, "c");
  bad_kind[first + 1 + 1 + 1] = 99;  // at, what's length, 'x': the kind byte
  EXPECT_EQ(ParseAuditRecord(bad_kind).size(), 1u);
  EXPECT_TRUE(ParseAuditRecord("").empty());
}

}  // namespace
}  // namespace rappel::server::plan
