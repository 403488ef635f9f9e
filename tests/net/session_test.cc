// Session's receive side against rappeld in-process on 127.0.0.1:<any port>:
// the limit before Hello, buffers that grow with the bytes that arrive, the
// budget of partial frames (newest connections closed first), the frame
// timeout, and writes to a peer that has gone (no SIGPIPE).
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "gtest/gtest.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wire_client.h"

namespace rappel::server {
namespace {

using rappel::testing::TempDir;
using rappel::testing::WireClient;
namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;

constexpr size_t kKiB = 1024;

class SessionTest : public ::testing::Test {
 protected:
  void TearDown() override { StopServer(); }

  void StartServer(const std::function<void(RappeldOptions&)>& tweak = {}) {
    RappeldOptions options;
    options.engine.store.path = dir_.Sub("db");
    options.server.port = 0;
    options.server.session.frame_limits.max_frame_bytes = 1 << 20;
    options.server.partial_frame_budget_bytes = 1536 * kKiB;
    if (tweak) tweak(options);
    absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started;
    port_ = server_.port();
  }
  void StopServer() {
    server_.Stop();
  }
  // The budget's figures, read on the io thread.
  std::pair<size_t, size_t> Budget() {
    std::promise<std::pair<size_t, size_t>> p;
    asio::post(server_.io(), [&] {
      const auto& b = server_.rappeld().server().partial_frame_budget();
      p.set_value({b.held_bytes(), b.holders()});
    });
    return p.get_future().get();
  }
  // Waits (bounded) until the budget holds at least `bytes`.
  bool WaitHeld(size_t bytes) {
    for (int i = 0; i < 500; ++i) {
      if (Budget().first >= bytes) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // A Schedule frame of `count` reminders with `payload_bytes` each, whole.
  static std::vector<uint8_t> ScheduleFrame(uint64_t id, const std::string& prefix, int count,
                                            size_t payload_bytes) {
    FlatBufferBuilder b;
    std::vector<flatbuffers::Offset<wire::Reminder>> rs;
    for (int i = 0; i < count; ++i) {
      std::vector<uint8_t> payload(payload_bytes, static_cast<uint8_t>('a' + i % 26));
      rs.push_back(wire::CreateReminder(b, 1, b.CreateString(prefix + std::to_string(i)),
                                        wire::Channel::Sms, b.CreateString("+33600000000"),
                                        SystemNowMs() + 3'600'000, 0, b.CreateVector(payload)));
    }
    protocol::FinishFrame(b, id, wire::Body::Schedule,
                          wire::CreateSchedule(b, b.CreateVector(rs)).Union());
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
  }
  static std::vector<uint8_t> Slice(const std::vector<uint8_t>& v, size_t from, size_t to) {
    return {v.begin() + from, v.begin() + to};
  }
  static bool AllScheduled(const wire::Frame* f, uint64_t id, size_t count) {
    if (f == nullptr || f->request_id() != id || f->body_type() != wire::Body::ScheduleReply) {
      return false;
    }
    const auto* results = f->body_as_ScheduleReply()->results();
    if (results->size() != count) return false;
    for (const auto* r : *results) {
      if (r->status() != nullptr && r->status()->code() != wire::ErrorCode::Ok) return false;
    }
    return true;
  }
  static wire::ErrorCode ErrorCodeOf(const wire::Frame* f) {
    if (f == nullptr || f->body_type() != wire::Body::Error) return wire::ErrorCode::Unknown;
    return f->body_as_Error()->status()->code();
  }

  TempDir dir_;
  rappel::testing::RappeldThread server_;
  uint16_t port_ = 0;
};

TEST_F(SessionTest, BeforeHelloAFrameIsAtMostTheHelloLimit) {
  StartServer();
  {  // One byte over the limit, nothing else sent: refused, closed.
    WireClient c(port_);
    uint32_t n = protocol::kMaxHelloFrameBytes + 1;
    c.SendRaw({static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), 0, 0});
    const wire::Frame* f = c.ReadReply();
    EXPECT_EQ(ErrorCodeOf(f), wire::ErrorCode::FrameTooLarge);
    ASSERT_NE(f, nullptr);
    EXPECT_NE(f->body_as_Error()->status()->message()->str().find("before Hello"),
              std::string::npos);
    EXPECT_TRUE(c.Closed());
  }
  {  // A Hello padded to the limit exactly is fine; after it, larger frames are.
    WireClient c(port_);
    FlatBufferBuilder b;
    std::string name(protocol::kMaxHelloFrameBytes, 'n');
    for (;;) {
      b.Clear();
      auto body = wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString(""),
                                    b.CreateString(name));
      protocol::FinishFrame(b, 1, wire::Body::Hello, body.Union());
      size_t over = b.GetSize() - protocol::kLengthPrefixBytes;
      if (over <= protocol::kMaxHelloFrameBytes) break;
      name.resize(name.size() - (over - protocol::kMaxHelloFrameBytes));
    }
    ASSERT_GE(b.GetSize() - protocol::kLengthPrefixBytes, protocol::kMaxHelloFrameBytes - 8);
    c.SendRaw({b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()});
    const wire::Frame* f = c.ReadReply();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->body_type(), wire::Body::HelloReply);
    auto frame = ScheduleFrame(2, "after-hello-", 4, 16 * kKiB);
    ASSERT_GT(frame.size(), 64 * kKiB);
    c.SendRaw(frame);
    EXPECT_TRUE(AllScheduled(c.ReadReply(), 2, 4));
  }
  EXPECT_EQ(Budget(), (std::pair<size_t, size_t>{0, 0}));
}

TEST_F(SessionTest, ALargeFrameArrivingInPiecesIsReceivedWhole) {
  StartServer();
  WireClient c(port_);
  ASSERT_NE(c.Hello(), nullptr);
  auto frame = ScheduleFrame(7, "pieces-", 12, 60 * kKiB);
  // Uneven pieces, the first ending inside the prefix.
  size_t cuts[] = {0, 3, 4, 5000, 5001, 70'000, 300'000, 500'000, frame.size()};
  for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
    c.SendRaw(Slice(frame, cuts[i], cuts[i + 1]));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(AllScheduled(c.ReadReply(), 7, 12));
  // The bytes arrived intact: a payload read back is the one sent.
  FlatBufferBuilder b;
  auto key = wire::CreateReminderKey(b, 1, b.CreateString("pieces-11"));
  c.Send(b, 8, wire::Body::Inspect, wire::CreateInspect(b, key).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_type(), wire::Body::InspectReply);
  const auto* payload = f->body_as_InspectReply()->reminder()->payload();
  ASSERT_EQ(payload->size(), 60 * kKiB);
  EXPECT_EQ(payload->Get(0), 'a' + 11);
  EXPECT_EQ(payload->Get(60 * kKiB - 1), 'a' + 11);
  // Once handled, the frame's buffer is given back.
  EXPECT_EQ(Budget(), (std::pair<size_t, size_t>{0, 0}));
}

TEST_F(SessionTest, TheBufferGrowsWithTheBytesThatArriveNotTheDeclaredLength) {
  StartServer();
  WireClient c(port_);
  ASSERT_NE(c.Hello(), nullptr);
  // Declares just under 1 MiB, sends 20 KiB of it.
  uint32_t n = (1 << 20) - 1;
  std::vector<uint8_t> bytes{static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                             static_cast<uint8_t>(n >> 16), 0};
  bytes.resize(4 + 20 * kKiB, 0);
  c.SendRaw(bytes);
  ASSERT_TRUE(WaitHeld(20 * kKiB));
  auto [held, holders] = Budget();
  EXPECT_EQ(holders, 1u);
  // Doubling from 8 KiB: at most twice what arrived, far from 1 MiB.
  EXPECT_LE(held, 2 * (20 * kKiB + Session::kReusedFrameBytes));
}

TEST_F(SessionTest, PastTheBudgetTheNewestConnectionsAreClosed) {
  StartServer();  // budget 1.5 MiB, frames up to 1 MiB
  WireClient older(port_);
  ASSERT_NE(older.Hello(), nullptr);
  WireClient newer(port_);
  ASSERT_NE(newer.Hello(), nullptr);
  auto big = ScheduleFrame(20, "big-", 15, 60 * kKiB);  // ~900 KiB
  ASSERT_GT(big.size(), 800 * kKiB);

  // The newer one holds 600 KiB of its frame (its buffer: 1 MiB or less).
  auto newer_frame = ScheduleFrame(30, "newer-", 15, 60 * kKiB);
  newer.SendRaw(Slice(newer_frame, 0, 600 * kKiB));
  ASSERT_TRUE(WaitHeld(600 * kKiB));
  // The older one sends a whole frame: the newer is closed to make room.
  older.SendRaw(big);
  EXPECT_TRUE(AllScheduled(older.ReadReply(), 20, 15));
  const wire::Frame* f = newer.ReadReply();
  EXPECT_EQ(ErrorCodeOf(f), wire::ErrorCode::ResourceExhausted);
  EXPECT_TRUE(newer.Closed());

  // Now the older one holds part of a frame, and a newest connection asks:
  // it is refused; the older one is never closed for it.
  auto second = ScheduleFrame(21, "second-", 15, 60 * kKiB);
  older.SendRaw(Slice(second, 0, 600 * kKiB));
  ASSERT_TRUE(WaitHeld(600 * kKiB));
  WireClient newest(port_);
  ASSERT_NE(newest.Hello(), nullptr);
  newest.TrySendRaw(ScheduleFrame(40, "newest-", 15, 60 * kKiB));  // cut short
  EXPECT_EQ(ErrorCodeOf(newest.ReadReply()), wire::ErrorCode::ResourceExhausted);
  EXPECT_TRUE(newest.Closed());
  older.SendRaw(Slice(second, 600 * kKiB, second.size()));
  EXPECT_TRUE(AllScheduled(older.ReadReply(), 21, 15));
  EXPECT_EQ(Budget(), (std::pair<size_t, size_t>{0, 0}));
}

TEST_F(SessionTest, AFrameTricklingPastItsTimeoutIsClosed) {
  StartServer([](RappeldOptions& o) { o.server.session.frame_timeout_ms = 300; });
  WireClient c(port_);
  ASSERT_NE(c.Hello(), nullptr);
  auto frame = ScheduleFrame(5, "slow-", 2, 8 * kKiB);
  auto start = std::chrono::steady_clock::now();
  c.SendRaw(Slice(frame, 0, 6 * kKiB));
  ASSERT_TRUE(WaitHeld(6 * kKiB));
  const wire::Frame* f = c.ReadReply(std::chrono::seconds(5));
  EXPECT_EQ(ErrorCodeOf(f), wire::ErrorCode::DeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(Budget(), (std::pair<size_t, size_t>{0, 0}));
  // A frame that comes whole in time is not affected.
  WireClient d(port_);
  ASSERT_NE(d.Hello(), nullptr);
  d.SendRaw(frame);
  EXPECT_TRUE(AllScheduled(d.ReadReply(), 5, 2));
}

TEST_F(SessionTest, WritingToAPeerThatHasGoneRaisesNoSigpipe) {
  // With SIGPIPE at its default action, one raised by a write would kill
  // this test: Asio sends with MSG_NOSIGNAL.
  struct sigaction old_action {};
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ASSERT_EQ(sigaction(SIGPIPE, &dfl, &old_action), 0);
  StartServer();
  for (int round = 0; round < 5; ++round) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port_});
    std::vector<uint8_t> bytes;
    auto append = [&bytes](FlatBufferBuilder& b) {
      bytes.insert(bytes.end(), b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    };
    FlatBufferBuilder hello;
    protocol::FinishFrame(hello, 1, wire::Body::Hello,
                          wire::CreateHello(hello, protocol::kProtocolVersion,
                                            hello.CreateString(""), hello.CreateString("gone"))
                              .Union());
    append(hello);
    for (uint64_t id = 2; id < 2000; ++id) {  // replies the client will never read
      FlatBufferBuilder b;
      protocol::FinishFrame(b, id, wire::Body::Stats, wire::CreateStats(b).Union());
      append(b);
    }
    asio::write(s, asio::buffer(bytes));
    // Reset, not a clean close: the server's next writes meet EPIPE.
    s.set_option(asio::socket_base::linger(true, 0));
    s.close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  WireClient c(port_);
  ASSERT_NE(c.Hello(), nullptr);
  EXPECT_EQ(Budget(), (std::pair<size_t, size_t>{0, 0}));
  sigaction(SIGPIPE, &old_action, nullptr);
}

}  // namespace
}  // namespace rappel::server
