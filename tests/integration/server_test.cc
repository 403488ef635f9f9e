// rappeld in-process on 127.0.0.1:<any port>, driven over loopback by raw
// frames: the delivery paths (lease, ack, retry, dead letter, redelivery) end
// to end, and bad input.
#include <atomic>
#include <chrono>
#include <filesystem>
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

int64_t NowMs() { return SystemNowMs(); }

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }
  void TearDown() override { StopServer(); }

  void StartServer() {
    RappeldOptions options;
    options.engine.store.path = dir_.Sub("db");
    options.server.port = 0;
    options.dispatch.lease_timeout_ms = 300;
    options.dispatch.backoff_base_ms = 50;
    options.dispatch.max_attempts = 2;
    options.server.session.frame_limits.max_frame_bytes = 1 << 20;
    options.handler.before_backup = before_backup_;
    absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started;
    port_ = server_.port();
  }
  void StopServer() {
    server_.Stop();
  }

  static void Schedule(WireClient& c, uint64_t id, const std::vector<std::pair<std::string, int64_t>>& items,
                       wire::Channel channel = wire::Channel::Sms) {
    FlatBufferBuilder b;
    std::vector<flatbuffers::Offset<wire::Reminder>> rs;
    for (const auto& [key, due] : items) {
      std::vector<uint8_t> payload{'h', 'i'};
      rs.push_back(wire::CreateReminder(b, 1, b.CreateString(key), channel,
                                        b.CreateString("+33600000000"), due, 0,
                                        b.CreateVector(payload)));
    }
    c.Send(b, id, wire::Body::Schedule, wire::CreateSchedule(b, b.CreateVector(rs)).Union());
  }
  static void Subscribe(WireClient& c, uint32_t max_in_flight) {
    FlatBufferBuilder b;
    std::vector<wire::Channel> channels{wire::Channel::Sms};
    auto body = wire::CreateSubscribe(b, b.CreateVector(channels), max_in_flight, 100);
    c.Send(b, 2, wire::Body::Subscribe, body.Union());
  }
  static void Ack(WireClient& c, uint64_t lease, wire::AckOutcome outcome) {
    FlatBufferBuilder b;
    std::vector<flatbuffers::Offset<wire::AckItem>> items{
        wire::CreateAckItem(b, lease, outcome, b.CreateString("provider said so"))};
    c.Send(b, 3, wire::Body::Ack, wire::CreateAck(b, b.CreateVector(items)).Union());
  }
  static wire::ErrorCode InspectCode(WireClient& c, const std::string& key) {
    FlatBufferBuilder b;
    auto k = wire::CreateReminderKey(b, 1, b.CreateString(key));
    c.Send(b, 4, wire::Body::Inspect, wire::CreateInspect(b, k).Union());
    const wire::Frame* f = c.ReadReply();
    if (f == nullptr || f->body_as_InspectReply() == nullptr) return wire::ErrorCode::Unknown;
    const auto* st = f->body_as_InspectReply()->status();
    return st == nullptr ? wire::ErrorCode::Ok : st->code();
  }

  std::function<void()> before_backup_;
  TempDir dir_;
  rappel::testing::RappeldThread server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, ScheduleThenDeliveredThenAckedThenGone) {
  WireClient producer(port_);
  ASSERT_EQ(producer.Hello()->body_type(), wire::Body::HelloReply);
  WireClient worker(port_);
  ASSERT_NE(worker.Hello(), nullptr);
  Subscribe(worker, 10);
  ASSERT_EQ(worker.ReadReply()->body_type(), wire::Body::SubscribeReply);

  Schedule(producer, 10, {{"appt-1", NowMs() + 100}, {"appt-2", NowMs() + 150}});
  const wire::Frame* reply = producer.ReadReply();
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->request_id(), 10u);
  const auto* results = reply->body_as_ScheduleReply()->results();
  ASSERT_EQ(results->size(), 2u);
  for (const auto* r : *results) EXPECT_TRUE(r->status() == nullptr || r->status()->code() == wire::ErrorCode::Ok);

  std::vector<uint64_t> leases;
  std::vector<std::string> keys;
  while (keys.size() < 2) {
    const wire::Delivery* d = worker.ReadDelivery();
    ASSERT_NE(d, nullptr) << "nothing delivered";
    for (const auto* m : *d->messages()) {
      leases.push_back(m->lease_id());
      keys.push_back(m->reminder()->key()->str());
      EXPECT_EQ(m->attempt(), 1u);
      EXPECT_GE(NowMs(), m->reminder()->due_ms()) << "delivered early";
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"appt-1", "appt-2"}));
  for (uint64_t lease : leases) {
    Ack(worker, lease, wire::AckOutcome::Delivered);
    ASSERT_EQ(worker.ReadReply()->body_type(), wire::Body::AckReply);
  }
  // The completion is durable shortly after the ack.
  for (int i = 0; i < 100 && InspectCode(producer, "appt-1") != wire::ErrorCode::NotFound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(InspectCode(producer, "appt-1"), wire::ErrorCode::NotFound);
}

TEST_F(ServerTest, LeasesOfAWorkerThatDiesGoToAnother) {
  WireClient producer(port_);
  producer.Hello();
  std::string id;
  {
    WireClient doomed(port_);
    doomed.Hello();
    Subscribe(doomed, 10);
    doomed.ReadReply();
    Schedule(producer, 10, {{"k", NowMs()}});
    producer.ReadReply();
    const wire::Delivery* d = doomed.ReadDelivery();
    ASSERT_NE(d, nullptr);
    id = d->messages()->Get(0)->message_id()->str();
  }  // the worker vanishes without acking
  WireClient survivor(port_);
  survivor.Hello();
  Subscribe(survivor, 10);
  survivor.ReadReply();
  const wire::Delivery* d = survivor.ReadDelivery();
  ASSERT_NE(d, nullptr) << "not redelivered";
  EXPECT_EQ(d->messages()->Get(0)->message_id()->str(), id) << "message id changed";
  EXPECT_EQ(d->messages()->Get(0)->attempt(), 2u);
}

TEST_F(ServerTest, UnackedLeaseExpiresAndIsDeliveredAgain) {
  WireClient c(port_);
  c.Hello();
  Subscribe(c, 10);
  c.ReadReply();
  Schedule(c, 10, {{"slow", NowMs()}});
  c.ReadReply();
  const wire::Delivery* first = c.ReadDelivery();
  ASSERT_NE(first, nullptr);
  uint64_t old_lease = first->messages()->Get(0)->lease_id();
  const wire::Delivery* again = c.ReadDelivery(std::chrono::seconds(5));  // lease 300 ms
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again->messages()->Get(0)->lease_id(), old_lease);
  // The stale lease cannot be acked any more.
  Ack(c, old_lease, wire::AckOutcome::Delivered);
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body_as_AckReply()->results()->Get(0)->code(), wire::ErrorCode::NotFound);
}

TEST_F(ServerTest, RetryThenDeadLetterThenReplay) {
  WireClient c(port_);
  c.Hello();
  Subscribe(c, 10);
  c.ReadReply();
  Schedule(c, 10, {{"flaky", NowMs()}});
  c.ReadReply();
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    const wire::Delivery* d = c.ReadDelivery();
    ASSERT_NE(d, nullptr) << "attempt " << attempt;
    EXPECT_EQ(d->messages()->Get(0)->attempt(), attempt);
    Ack(c, d->messages()->Get(0)->lease_id(), wire::AckOutcome::FailedRetryable);
    c.ReadReply();
  }
  // max_attempts = 2: now a dead letter.
  FlatBufferBuilder b;
  c.Send(b, 20, wire::Body::DeadLetterList, wire::CreateDeadLetterList(b, 0, 10).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_as_DeadLetterListReply()->letters()->size(), 1u);
  EXPECT_EQ(f->body_as_DeadLetterListReply()->letters()->Get(0)->last_detail()->str(),
            "provider said so");
  FlatBufferBuilder b2;
  std::vector<flatbuffers::Offset<wire::ReminderKey>> keys{
      wire::CreateReminderKey(b2, 1, b2.CreateString("flaky"))};
  c.Send(b2, 21, wire::Body::DeadLetterReplay,
         wire::CreateDeadLetterReplay(b2, b2.CreateVector(keys)).Union());
  f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body_as_DeadLetterReplayReply()->results()->Get(0)->code(), wire::ErrorCode::Ok);
  const wire::Delivery* d = c.ReadDelivery();
  ASSERT_NE(d, nullptr) << "replayed dead letter not delivered";
  EXPECT_EQ(d->messages()->Get(0)->reminder()->key()->str(), "flaky");
}

TEST_F(ServerTest, AttemptsAndDeadLettersSurviveARestart) {
  {
    WireClient c(port_);
    c.Hello();
    Subscribe(c, 10);
    c.ReadReply();
    Schedule(c, 10, {{"flaky", NowMs()}});
    c.ReadReply();
    const wire::Delivery* d = c.ReadDelivery();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->messages()->Get(0)->attempt(), 1u);
    Ack(c, d->messages()->Get(0)->lease_id(), wire::AckOutcome::FailedRetryable);
    ASSERT_EQ(c.ReadReply()->body_type(), wire::Body::AckReply);
  }
  StopServer();
  StartServer();
  {
    WireClient c(port_);
    c.Hello();
    Subscribe(c, 10);
    c.ReadReply();
    const wire::Delivery* d = c.ReadDelivery();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->messages()->Get(0)->attempt(), 2u) << "the attempt count was lost in the restart";
    // max_attempts = 2: a dead letter now.
    Ack(c, d->messages()->Get(0)->lease_id(), wire::AckOutcome::FailedRetryable);
    ASSERT_EQ(c.ReadReply()->body_type(), wire::Body::AckReply);
  }
  StopServer();
  StartServer();
  WireClient c(port_);
  c.Hello();
  FlatBufferBuilder b;
  c.Send(b, 20, wire::Body::DeadLetterList, wire::CreateDeadLetterList(b, 1, 10).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_as_DeadLetterListReply()->letters()->size(), 1u) << "the dead letter was lost";
  EXPECT_EQ(f->body_as_DeadLetterListReply()->letters()->Get(0)->attempts(), 2u);
  EXPECT_EQ(InspectCode(c, "flaky"), wire::ErrorCode::NotFound);
}

TEST_F(ServerTest, BackupRunsOffTheIoThreadOneAtATime) {
  StopServer();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto started = std::make_shared<std::atomic<bool>>(false);
  before_backup_ = [started, released] {
    *started = true;
    released.wait();  // the copy "takes" until the test says so
  };
  StartServer();
  WireClient a(port_);
  a.Hello();
  WireClient b(port_);
  b.Hello();
  std::string target = dir_.Sub("backup");
  std::filesystem::create_directories(target);
  FlatBufferBuilder fb;
  a.Send(fb, 30, wire::Body::Backup, wire::CreateBackup(fb, fb.CreateString(target)).Union());
  for (int i = 0; i < 500 && !*started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(*started) << "the backup did not start";

  // While the copy runs, the io thread answers everybody else.
  FlatBufferBuilder pb;
  b.Send(pb, 31, wire::Body::Ping, wire::CreatePing(pb).Union());
  const wire::Frame* f = b.ReadReply();
  ASSERT_NE(f, nullptr) << "no Pong while a backup runs";
  EXPECT_EQ(f->body_type(), wire::Body::Pong);
  Schedule(b, 32, {{"during-backup", NowMs() + 3'600'000}});
  f = b.ReadReply();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body_type(), wire::Body::ScheduleReply) << "writes go on during a backup";
  // A second backup is refused while the first runs.
  std::string other = dir_.Sub("backup2");
  std::filesystem::create_directories(other);
  FlatBufferBuilder b2;
  b.Send(b2, 33, wire::Body::Backup, wire::CreateBackup(b2, b2.CreateString(other)).Union());
  f = b.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_type(), wire::Body::BackupReply);
  ASSERT_NE(f->body_as_BackupReply()->status(), nullptr);
  EXPECT_EQ(f->body_as_BackupReply()->status()->code(), wire::ErrorCode::FailedPrecondition);
  EXPECT_NE(f->body_as_BackupReply()->status()->message()->str().find("already running"),
            std::string::npos);

  release.set_value();
  f = a.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_type(), wire::Body::BackupReply);
  EXPECT_EQ(f->request_id(), 30u);
  const auto* st = f->body_as_BackupReply()->status();
  EXPECT_TRUE(st == nullptr || st->code() == wire::ErrorCode::Ok) << st->message()->str();
  EXPECT_TRUE(std::filesystem::exists(target + "/data.mdb"));
  // And the next one may start.
  FlatBufferBuilder b3;
  b.Send(b3, 34, wire::Body::Backup, wire::CreateBackup(b3, b3.CreateString(other)).Union());
  f = b.ReadReply();
  ASSERT_NE(f, nullptr);
  st = f->body_as_BackupReply()->status();
  EXPECT_TRUE(st == nullptr || st->code() == wire::ErrorCode::Ok);
  EXPECT_TRUE(std::filesystem::exists(other + "/data.mdb"));
}

TEST_F(ServerTest, ShutdownWaitsForABackupInProgress) {
  StopServer();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto started = std::make_shared<std::atomic<bool>>(false);
  before_backup_ = [started, released] {
    *started = true;
    released.wait();
  };
  StartServer();
  WireClient a(port_);
  a.Hello();
  std::string target = dir_.Sub("backup");
  std::filesystem::create_directories(target);
  FlatBufferBuilder fb;
  a.Send(fb, 30, wire::Body::Backup, wire::CreateBackup(fb, fb.CreateString(target)).Union());
  for (int i = 0; i < 500 && !*started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(*started);
  std::thread releaser([&release] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    release.set_value();
  });
  StopServer();  // returns only once the copy is done and the store closed
  releaser.join();
  EXPECT_TRUE(std::filesystem::exists(target + "/data.mdb"));
  before_backup_ = nullptr;
  StartServer();  // the store opens again: nothing holds it
  WireClient c(port_);
  ASSERT_NE(c.Hello(), nullptr);
}

TEST_F(ServerTest, CompactReclaimsGarbageAndAnswersBeforeAndAfter) {
  WireClient c(port_);
  c.Hello();
  for (int i = 0; i < 5; ++i) {
    Schedule(c, 40 + i, {{"moved", NowMs() + 3'600'000 + i}});
    ASSERT_NE(c.ReadReply(), nullptr);
  }
  FlatBufferBuilder b;
  c.Send(b, 50, wire::Body::Compact, wire::CreateCompact(b).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_type(), wire::Body::CompactReply);
  const auto* r = f->body_as_CompactReply();
  EXPECT_TRUE(r->status() == nullptr || r->status()->code() == wire::ErrorCode::Ok);
  EXPECT_EQ(r->log_records_before(), 5u);
  EXPECT_EQ(r->log_records_after(), 1u);
  EXPECT_LT(r->log_bytes_after(), r->log_bytes_before());
  EXPECT_EQ(r->live_records(), 1u);
  EXPECT_GT(r->store_used_bytes(), 0u);
}

TEST_F(ServerTest, StatsShowsTheOperatorViews) {
  WireClient c(port_);
  c.Hello();
  Schedule(c, 60, {{"soon", NowMs() + 1'800'000}, {"later", NowMs() + 7'200'000}});
  ASSERT_NE(c.ReadReply(), nullptr);
  Schedule(c, 61, {{"mail", NowMs() + 1'800'000}}, wire::Channel::Email);
  ASSERT_NE(c.ReadReply(), nullptr);
  FlatBufferBuilder b;
  c.Send(b, 62, wire::Body::Stats, wire::CreateStats(b, 5).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  const auto* s = f->body_as_StatsReply();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->pending(), 3u);
  EXPECT_EQ(s->due_next_hour(), 2u);
  EXPECT_EQ(s->due_next_day(), 3u);
  EXPECT_EQ(s->tenants(), 1u);
  ASSERT_NE(s->by_tenant(), nullptr);
  ASSERT_EQ(s->by_tenant()->size(), 1u);
  EXPECT_EQ(s->by_tenant()->Get(0)->tenant(), 1u);
  EXPECT_EQ(s->by_tenant()->Get(0)->live(), 3u);
  ASSERT_NE(s->live_by_channel(), nullptr);
  uint64_t sms = 0, email = 0;
  for (const auto* cc : *s->live_by_channel()) {
    if (cc->channel() == wire::Channel::Sms) sms = cc->pending();
    if (cc->channel() == wire::Channel::Email) email = cc->pending();
  }
  EXPECT_EQ(sms, 2u);
  EXPECT_EQ(email, 1u);
  EXPECT_EQ(s->live_records(), 3u);
  EXPECT_EQ(s->log_records(), 3u);
  EXPECT_EQ(s->live_bytes(), s->log_bytes());
  EXPECT_GE(s->commits(), 1u);
  EXPECT_EQ(s->records_appended(), 3u);
  EXPECT_EQ(s->batches_committed(), 2u);
  EXPECT_GE(s->max_records_per_commit(), 2u);
  EXPECT_GE(s->max_batches_per_commit(), 1u);
  EXPECT_GT(s->store_map_bytes(), 0u);
}

TEST_F(ServerTest, CancelBeforeDueIsNeverDelivered) {
  WireClient c(port_);
  c.Hello();
  Subscribe(c, 10);
  c.ReadReply();
  Schedule(c, 10, {{"gone", NowMs() + 200}, {"stays", NowMs() + 250}});
  c.ReadReply();
  FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<wire::ReminderKey>> keys{
      wire::CreateReminderKey(b, 1, b.CreateString("gone")),
      wire::CreateReminderKey(b, 1, b.CreateString("never-was"))};
  c.Send(b, 11, wire::Body::Cancel, wire::CreateCancel(b, b.CreateVector(keys)).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body_as_CancelReply()->results()->Get(0)->code(), wire::ErrorCode::Ok);
  EXPECT_EQ(f->body_as_CancelReply()->results()->Get(1)->code(), wire::ErrorCode::NotFound);
  const wire::Delivery* d = c.ReadDelivery();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->messages()->Get(0)->reminder()->key()->str(), "stays");
  Ack(c, d->messages()->Get(0)->lease_id(), wire::AckOutcome::Sent);
  // Nothing else: neither the cancelled one nor a redelivery of the acked one.
  EXPECT_EQ(c.ReadDelivery(std::chrono::milliseconds(500)), nullptr);
}

TEST_F(ServerTest, BadInputGetsAClearErrorAndTheServerGoesOn) {
  {  // A length above the limit: FrameTooLarge, then closed.
    WireClient c(port_);
    c.SendRaw({0xff, 0xff, 0xff, 0x7f});
    const wire::Frame* f = c.ReadReply();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->body_as_Error()->status()->code(), wire::ErrorCode::FrameTooLarge);
    EXPECT_TRUE(c.Closed());
  }
  {  // Garbage of a plausible length: MalformedFrame, then closed.
    WireClient c(port_);
    std::vector<uint8_t> junk{40, 0, 0, 0};
    for (int i = 0; i < 40; ++i) junk.push_back(static_cast<uint8_t>(i * 37));
    c.SendRaw(junk);
    const wire::Frame* f = c.ReadReply();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->body_as_Error()->status()->code(), wire::ErrorCode::MalformedFrame);
    EXPECT_TRUE(c.Closed());
  }
  {  // A request before Hello.
    WireClient c(port_);
    FlatBufferBuilder b;
    c.Send(b, 5, wire::Body::Ping, wire::CreatePing(b).Union());
    const wire::Frame* f = c.ReadReply();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->request_id(), 5u);
    EXPECT_EQ(f->body_as_Error()->status()->code(), wire::ErrorCode::Unauthenticated);
  }
  {  // A truncated frame, then the client vanishes.
    WireClient c(port_);
    c.SendRaw({100, 0, 0, 0, 1, 2, 3});
  }
  // Items with an unknown channel or beyond the horizon fail alone.
  WireClient c(port_);
  c.Hello();
  FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<wire::Reminder>> rs{
      wire::CreateReminder(b, 1, b.CreateString("bad-channel"), static_cast<wire::Channel>(9),
                           b.CreateString("x"), NowMs() + 60'000),
      wire::CreateReminder(b, 1, b.CreateString("far"), wire::Channel::Email,
                           b.CreateString("x"), NowMs() + int64_t{20} * 366 * 86'400'000),
      wire::CreateReminder(b, 1, b.CreateString("fine"), wire::Channel::Email,
                           b.CreateString("x"), NowMs() + 60'000)};
  c.Send(b, 7, wire::Body::Schedule, wire::CreateSchedule(b, b.CreateVector(rs)).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  const auto* results = f->body_as_ScheduleReply()->results();
  EXPECT_EQ(results->Get(0)->status()->code(), wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(results->Get(1)->status()->code(), wire::ErrorCode::OutOfRange);
  EXPECT_TRUE(results->Get(2)->status() == nullptr ||
              results->Get(2)->status()->code() == wire::ErrorCode::Ok);
  EXPECT_EQ(InspectCode(c, "fine"), wire::ErrorCode::Ok);
  EXPECT_EQ(InspectCode(c, "far"), wire::ErrorCode::NotFound);
}

TEST_F(ServerTest, EntriesSharingOnePayloadCannotBlowUpTheServer) {
  // 200 000 entries pointing at one reminder with a 60 KiB payload: a frame
  // of under 1 MiB naming 12 GB. Refused whole, before anything is copied.
  WireClient c(port_);
  c.Hello();
  FlatBufferBuilder b;
  std::string payload(60 << 10, 'x');
  auto one = wire::CreateReminder(
      b, 1, b.CreateString("shared"), wire::Channel::Sms, b.CreateString("+33600000000"),
      NowMs() + 60'000, 0,
      b.CreateVector(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  std::vector<flatbuffers::Offset<wire::Reminder>> rs(200'000, one);
  c.Send(b, 9, wire::Body::Schedule, wire::CreateSchedule(b, b.CreateVector(rs)).Union());
  const wire::Frame* f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->request_id(), 9u);
  ASSERT_EQ(f->body_type(), wire::Body::Error);
  EXPECT_EQ(f->body_as_Error()->status()->code(), wire::ErrorCode::InvalidArgument);
  // The same connection goes on; nothing was scheduled.
  EXPECT_EQ(InspectCode(c, "shared"), wire::ErrorCode::NotFound);
  // A few entries sharing strings honestly are fine.
  FlatBufferBuilder b2;
  auto recipient = b2.CreateSharedString("+33600000000");
  std::vector<flatbuffers::Offset<wire::Reminder>> few;
  for (int i = 0; i < 3; ++i) {
    few.push_back(wire::CreateReminder(b2, 1, b2.CreateString("s" + std::to_string(i)),
                                       wire::Channel::Sms, recipient, NowMs() + 60'000));
  }
  c.Send(b2, 10, wire::Body::Schedule, wire::CreateSchedule(b2, b2.CreateVector(few)).Union());
  f = c.ReadReply();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->body_type(), wire::Body::ScheduleReply);
  EXPECT_EQ(InspectCode(c, "s2"), wire::ErrorCode::Ok);
}

TEST_F(ServerTest, PipelinedRequestsAnswerInOrder) {
  WireClient c(port_);
  c.Hello();
  for (uint64_t id = 100; id < 300; ++id) {
    if (id % 3 == 0) {
      FlatBufferBuilder b;
      c.Send(b, id, wire::Body::Ping, wire::CreatePing(b).Union());
    } else {
      Schedule(c, id, {{"p" + std::to_string(id), NowMs() + 3'600'000}});
    }
  }
  for (uint64_t id = 100; id < 300; ++id) {
    const wire::Frame* f = c.ReadReply();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->request_id(), id);
  }
}

}  // namespace
}  // namespace rappel::server
