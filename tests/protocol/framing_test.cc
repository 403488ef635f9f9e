#include "protocol/framing.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace rappel::protocol {
namespace {

// A Schedule frame with two reminders, size prefix included.
std::vector<uint8_t> ScheduleFrame(uint64_t request_id) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<wire::Reminder>> reminders;
  for (int i = 0; i < 2; ++i) {
    std::vector<uint8_t> payload(10 + i, static_cast<uint8_t>('a' + i));
    reminders.push_back(wire::CreateReminder(
        b, 7, b.CreateString("appt-" + std::to_string(i)), wire::Channel::Sms,
        b.CreateString("+33600000000"), 1'700'000'000'000 + i, 0, b.CreateVector(payload)));
  }
  auto body = wire::CreateSchedule(b, b.CreateVector(reminders));
  FinishFrame(b, request_id, wire::Body::Schedule, body.Union());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

TEST(FramingTest, ScheduleFrameRoundTrips) {
  std::vector<uint8_t> bytes = ScheduleFrame(42);
  auto length = DecodeFrameLength(bytes.data(), FrameLimits{});
  ASSERT_TRUE(length.ok()) << length.status();
  ASSERT_EQ(*length + kLengthPrefixBytes, bytes.size());
  auto frame = VerifyFrame(bytes.data(), bytes.size(), FrameLimits{});
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ((*frame)->request_id(), 42u);
  const wire::Schedule* schedule = (*frame)->body_as_Schedule();
  ASSERT_NE(schedule, nullptr);
  ASSERT_EQ(schedule->reminders()->size(), 2u);
  const wire::Reminder* r = schedule->reminders()->Get(1);
  EXPECT_EQ(r->tenant(), 7u);
  EXPECT_EQ(r->key()->str(), "appt-1");
  EXPECT_EQ(r->channel(), wire::Channel::Sms);
  EXPECT_EQ(r->due_ms(), 1'700'000'000'001);
  EXPECT_EQ(r->payload()->size(), 11u);
}

TEST(FramingTest, LengthAboveTheLimitIsRefusedBeforeReadingTheBody) {
  FrameLimits limits;
  limits.max_frame_bytes = 1000;
  uint8_t prefix[4] = {0xe9, 0x03, 0, 0};  // 1001
  auto length = DecodeFrameLength(prefix, limits);
  EXPECT_TRUE(absl::IsResourceExhausted(length.status())) << length.status();
  uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
  EXPECT_TRUE(absl::IsResourceExhausted(DecodeFrameLength(huge, limits).status()));
  uint8_t tiny[4] = {3, 0, 0, 0};
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeFrameLength(tiny, limits).status()));
  uint8_t exact[4] = {0xe8, 0x03, 0, 0};  // 1000
  EXPECT_EQ(*DecodeFrameLength(exact, limits), 1000u);
}

// A frame cut short, with its prefix rewritten to match (a peer that lies
// consistently), never verifies.
std::vector<uint8_t> Truncate(const std::vector<uint8_t>& frame, size_t body_bytes) {
  std::vector<uint8_t> cut(frame.begin(), frame.begin() + kLengthPrefixBytes + body_bytes);
  for (int i = 0; i < 4; ++i) cut[i] = static_cast<uint8_t>(body_bytes >> (8 * i));
  return cut;
}

TEST(FramingTest, TruncatedFramesFailVerification) {
  std::vector<uint8_t> bytes = ScheduleFrame(1);
  size_t body = bytes.size() - kLengthPrefixBytes;
  for (size_t n = 0; n < body; ++n) {
    std::vector<uint8_t> cut = Truncate(bytes, n);
    // The builder writes back to front, so the last bytes of a frame may be
    // alignment padding: cutting only those leaves a valid frame.
    if (n + 8 > body) continue;
    EXPECT_FALSE(VerifyFrame(cut.data(), cut.size(), FrameLimits{}).ok()) << n;
  }
  // And a prefix that disagrees with the bytes received is refused as such.
  std::vector<uint8_t> lying(bytes.begin(), bytes.end() - 1);
  auto frame = VerifyFrame(lying.data(), lying.size(), FrameLimits{});
  EXPECT_NE(frame.status().message().find("prefix"), std::string::npos);
}

TEST(FramingTest, WrongIdentifierAndMissingBodyAreMalformed) {
  std::vector<uint8_t> bytes = ScheduleFrame(1);
  bytes[kLengthPrefixBytes + 4] = 'X';  // the identifier follows the root offset
  auto frame = VerifyFrame(bytes.data(), bytes.size(), FrameLimits{});
  EXPECT_TRUE(absl::IsInvalidArgument(frame.status()));
  EXPECT_NE(frame.status().message().find("RPL1"), std::string::npos) << frame.status();

  flatbuffers::FlatBufferBuilder b;
  FinishFrame(b, 9, wire::Body::NONE, 0);
  auto empty = VerifyFrame(b.GetBufferPointer(), b.GetSize(), FrameLimits{});
  EXPECT_TRUE(absl::IsInvalidArgument(empty.status()));
  EXPECT_NE(empty.status().message().find("no body"), std::string::npos) << empty.status();
}

// Random corruption: verification either refuses the frame or accepts one
// whose every field can be read safely (AddressSanitizer checks the reads).
TEST(FramingTest, CorruptedFramesNeverReadOutOfBounds) {
  std::vector<uint8_t> good = ScheduleFrame(5);
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::vector<uint8_t> body = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      body[kLengthPrefixBytes + rng() % (body.size() - kLengthPrefixBytes)] =
          static_cast<uint8_t>(rng());
    }
    auto frame = VerifyFrame(body.data(), body.size(), FrameLimits{});
    if (!frame.ok()) continue;
    ++accepted;
    if (const auto* s = (*frame)->body_as_Schedule(); s != nullptr && s->reminders() != nullptr) {
      for (const wire::Reminder* r : *s->reminders()) {
        size_t sum = r->key() != nullptr ? r->key()->size() : 0;
        sum += r->payload() != nullptr ? r->payload()->size() : 0;
        sum += r->recipient() != nullptr ? r->recipient()->str().size() : 0;
        EXPECT_LE(sum, body.size());
      }
    }
  }
  // Most single-byte flips land in payload bytes and stay valid.
  EXPECT_GT(accepted, 0);
}

TEST(FramingTest, StatusesMapToWireCodesAndBack) {
  flatbuffers::FlatBufferBuilder b;
  auto st = ToWireStatus(b, absl::OutOfRangeError("due time beyond the horizon"));
  b.Finish(st);
  auto* wire_status = flatbuffers::GetRoot<wire::Status>(b.GetBufferPointer());
  EXPECT_EQ(wire_status->code(), wire::ErrorCode::OutOfRange);
  absl::Status back = FromWireStatus(wire_status);
  EXPECT_TRUE(absl::IsOutOfRange(back));
  EXPECT_EQ(back.message(), "due time beyond the horizon");
  EXPECT_TRUE(FromWireStatus(nullptr).ok());

  flatbuffers::FlatBufferBuilder b2;
  b2.Finish(wire::CreateStatus(b2, wire::ErrorCode::FrameTooLarge, b2.CreateString("too big")));
  absl::Status big = FromWireStatus(flatbuffers::GetRoot<wire::Status>(b2.GetBufferPointer()));
  EXPECT_TRUE(absl::IsResourceExhausted(big));
  EXPECT_NE(big.message().find("FrameTooLarge"), std::string::npos);
}

}  // namespace
}  // namespace rappel::protocol
