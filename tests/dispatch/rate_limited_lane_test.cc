// RateLimitedLane on its own (no engine: messages are references, their
// keys given by the test): limits move messages between the FIFO and the
// fair queue, tokens pace them and set the wake, tenants take turns, an
// expired message gives its token back, lateness is reported once, and the
// records of limits are validated before anything is written.
#include "server/dispatch/rate_limited_lane.h"

#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rappel::server {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

WaitingMessage Message(uint32_t tenant, uint64_t seq, int64_t due_ms, int64_t expiry_ms = 0) {
  WaitingMessage m;
  m.ref.seq = seq;
  m.ref.tenant = TenantId{tenant};
  m.ref.hash = KeyHash{seq, tenant};
  m.ref.due_ms = due_ms;
  m.ref.expiry_ms = expiry_ms;
  m.ref.channel = Channel::kSms;
  return m;
}

RateLimit Limit(uint32_t count, uint32_t period_ms, std::optional<TenantId> tenant = {}) {
  RateLimit l;
  l.channel = Channel::kSms;
  l.tenant = tenant;
  l.count = count;
  l.period_ms = period_ms;
  return Normalized(l);
}

class RateLimitedLaneTest : public ::testing::Test {
 protected:
  RateLimitedLaneTest() : lane_(Options()) {}
  RateGateOptions Options() {
    RateGateOptions o;
    o.late_after_ms = 60'000;
    o.log = [this](const std::string& line) { log_.push_back(line); };
    return o;
  }
  // Pops every message that may go now; returns their seqs.
  std::vector<uint64_t> PopAll(int64_t now_ms) {
    std::vector<uint64_t> seqs;
    while (auto p = lane_.Pop(Channel::kSms, now_ms, key_of_)) {
      EXPECT_FALSE(p->expired);
      seqs.push_back(p->msg.ref.seq);
    }
    return seqs;
  }

  std::vector<std::string> log_;
  int keys_asked_ = 0;
  RateLimitedLane lane_;
  std::function<std::string(const WaitingMessage&)> key_fn_ = [this](const WaitingMessage& m) {
    ++keys_asked_;
    return "key-" + std::to_string(m.ref.seq);
  };
  RateLimitedLane::KeyOf key_of_{key_fn_};
  TenantFifo<WaitingMessage> fifo_;
};

TEST_F(RateLimitedLaneTest, ALimitTakesTheFifoAndRemovingItGivesItBackEarliestDeadlineFirst) {
  EXPECT_FALSE(lane_.Gated(Channel::kSms));
  fifo_.Push(TenantId{1}, Message(1, 1, kT0 + 30));
  fifo_.Push(TenantId{1}, Message(1, 2, kT0 + 10));
  fifo_.Push(TenantId{2}, Message(2, 3, kT0 + 20));
  lane_.SetLimit(Limit(1, 1000), kT0, &fifo_, key_of_);
  EXPECT_TRUE(lane_.Gated(Channel::kSms));
  EXPECT_FALSE(lane_.Gated(Channel::kEmail));
  EXPECT_TRUE(fifo_.empty());
  EXPECT_EQ(lane_.waiting(Channel::kSms), 3u);
  EXPECT_EQ(lane_.Limits().size(), 1u);

  lane_.SetLimit(Limit(0, 1000), kT0, &fifo_, key_of_);
  EXPECT_FALSE(lane_.Gated(Channel::kSms));
  EXPECT_EQ(lane_.waiting(Channel::kSms), 0u);
  ASSERT_EQ(fifo_.size(), 3u);
  EXPECT_EQ(fifo_.PopOf(TenantId{1})->ref.seq, 2u) << "tenant 1, earliest deadline first";
  EXPECT_EQ(fifo_.PopOf(TenantId{1})->ref.seq, 1u);
  EXPECT_EQ(fifo_.PopOf(TenantId{2})->ref.seq, 3u);
  EXPECT_TRUE(lane_.Limits().empty());
  EXPECT_EQ(keys_asked_, 0) << "nothing late: no key read";
}

TEST_F(RateLimitedLaneTest, TokensPaceMessagesAndSetTheWake) {
  lane_.SetLimit(Limit(2, 1000), kT0, &fifo_, key_of_);  // burst 2
  for (uint64_t s = 1; s <= 5; ++s) lane_.Push(Message(1, s, kT0), kT0, key_of_);
  EXPECT_EQ(PopAll(kT0), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(lane_.NextWakeMs().has_value());
  EXPECT_FALSE(lane_.HoldBack(Channel::kSms, kT0, /*room_left=*/false))
      << "workers, not tokens, held it back: no wake";
  EXPECT_FALSE(lane_.NextWakeMs().has_value());
  EXPECT_TRUE(lane_.HoldBack(Channel::kSms, kT0, /*room_left=*/true));
  ASSERT_TRUE(lane_.NextWakeMs().has_value());
  EXPECT_EQ(*lane_.NextWakeMs(), kT0 + 500);
  EXPECT_FALSE(lane_.ClearWakesDue(kT0 + 499));
  EXPECT_TRUE(lane_.ClearWakesDue(kT0 + 500));
  EXPECT_FALSE(lane_.NextWakeMs().has_value());
  EXPECT_EQ(PopAll(kT0 + 500), (std::vector<uint64_t>{3}));
  EXPECT_EQ(PopAll(kT0 + 1500), (std::vector<uint64_t>{4, 5}));
  EXPECT_FALSE(lane_.HoldBack(Channel::kSms, kT0 + 1500, true)) << "nothing waits";
}

TEST_F(RateLimitedLaneTest, TenantsTakeTurnsAndAMessageThatDoesNotGoIsRefunded) {
  lane_.SetLimit(Limit(4, 1000), kT0, &fifo_, key_of_);
  for (uint64_t s = 1; s <= 6; ++s) lane_.Push(Message(1, s, kT0), kT0, key_of_);
  lane_.Push(Message(2, 100, kT0), kT0, key_of_);
  lane_.Push(Message(2, 101, kT0), kT0, key_of_);
  auto first = lane_.Pop(Channel::kSms, kT0, key_of_);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->msg.ref.seq, 1u);
  lane_.Refund(Channel::kSms, first->tenant);  // it did not go after all
  EXPECT_EQ(PopAll(kT0), (std::vector<uint64_t>{100, 2, 101, 3}));
}

TEST_F(RateLimitedLaneTest, AnExpiredMessageGivesItsTokenBackAndLatenessIsReportedOnce) {
  lane_.SetLimit(Limit(1, 1000), kT0, &fifo_, key_of_);
  lane_.Push(Message(1, 1, kT0, /*expiry_ms=*/kT0 + 100), kT0, key_of_);
  lane_.Push(Message(1, 2, kT0 + 1000), kT0, key_of_);
  auto expired = lane_.Pop(Channel::kSms, kT0 + 200, key_of_);
  ASSERT_TRUE(expired.has_value());
  EXPECT_TRUE(expired->expired);
  EXPECT_EQ(expired->msg.ref.seq, 1u);
  EXPECT_FALSE(expired->reported_late);
  lane_.ReportLate(expired->msg, kT0 + 200, key_of_);
  lane_.CountExpired(expired->msg.ref);
  EXPECT_EQ(lane_.expired_total(), 1u);
  EXPECT_EQ(lane_.late_total(), 1u);
  EXPECT_EQ(PopAll(kT0 + 200), (std::vector<uint64_t>{2})) << "its token was given back";

  // Queued far beyond what the rate lets through before its deadline:
  // reported when it joins, not again when it goes.
  for (uint64_t s = 10; s < 80; ++s) lane_.Push(Message(1, s, kT0 + 200), kT0 + 200, key_of_);
  uint64_t late = lane_.late_total();
  EXPECT_GT(late, 1u);
  int64_t later = kT0 + 200 + 3'600'000;
  auto p = lane_.Pop(Channel::kSms, later, key_of_);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->msg.ref.seq, 10u);
  EXPECT_FALSE(p->reported_late) << "the first ones could make it at the rate";
  EXPECT_EQ(lane_.late_total(), late + 1) << "past its deadline when it goes: reported now";
  std::vector<RateRow> rows = lane_.Rows(later);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows[0].tenant.has_value());
  EXPECT_EQ(rows[0].waiting, 69u);
  EXPECT_EQ(rows[0].late, late + 1) << "a channel's row counts its tenants'";
  EXPECT_EQ(rows[0].expired, 1u);
  ASSERT_TRUE(rows[1].tenant.has_value());
  EXPECT_EQ(rows[1].tenant->value, 1u);
  EXPECT_EQ(rows[1].waiting, 69u);
  EXPECT_FALSE(log_.empty());
}

TEST_F(RateLimitedLaneTest, RecordsOfValidatesBeforeWritingAnything) {
  std::vector<RateLimit> limits{Limit(10, 1000), Limit(0, 1000, TenantId{7})};
  limits[0].burst = 0;
  Engine::StateWrites writes;
  ASSERT_TRUE(RateLimitedLane::RecordsOf(&limits, &writes).ok());
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_FALSE(writes[0].is_delete);
  EXPECT_TRUE(writes[1].is_delete) << "count 0 removes the limit";
  EXPECT_EQ(limits[0].burst, 10u) << "normalised";

  RateLimit bad = Limit(10, 0);
  bad.period_ms = 0;
  std::vector<RateLimit> invalid{Limit(10, 1000), bad};
  writes.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(RateLimitedLane::RecordsOf(&invalid, &writes)));
  EXPECT_TRUE(writes.empty());
}

}  // namespace
}  // namespace rappel::server
