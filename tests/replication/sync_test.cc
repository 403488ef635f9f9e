// Synchronous replication, the answer gate and the leader's term, through
// a real Store and PrimaryHook: a raw standby on the replication port
// (this file's RawStandby) decides when groups are acknowledged, so each
// test knows exactly what may have been answered.
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "protocol/framing.h"
#include "server/net/credentials.h"
#include "server/replication/primary_hook.h"
#include "server/replication/replication_server.h"
#include "server/store/store.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

namespace wire = protocol::wire;
using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

std::shared_ptr<WriteBatch> Record(SeqNo seq) {
  auto b = std::make_shared<WriteBatch>();
  b->Append(seq, "record " + std::to_string(seq));
  return b;
}

// Polls (bounded) until pred() holds.
template <typename Pred>
bool Eventually(Pred pred, int ms = 5000) {
  for (int i = 0; i < ms / 5; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// A standby speaking the replication protocol by hand, blocking, every
// read bounded by a 5 s receive timeout.
class RawStandby {
 public:
  explicit RawStandby(uint16_t port) : sock_(io_) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};
    setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void Send(flatbuffers::FlatBufferBuilder& b) {
    asio::write(sock_, asio::buffer(b.GetBufferPointer(), b.GetSize()));
  }
  // The next frame, or null on a timeout, a close or garbage.
  const wire::Frame* Read() {
    buf_.assign(4, 0);
    if (!ReadExactly(buf_.data(), 4)) return nullptr;
    uint32_t n = buf_[0] | buf_[1] << 8 | buf_[2] << 16 | uint32_t{buf_[3]} << 24;
    buf_.resize(4 + n);
    if (!ReadExactly(buf_.data() + 4, n)) return nullptr;
    protocol::FrameLimits limits;
    limits.max_frame_bytes = 1u << 30;
    auto frame = protocol::VerifyFrame(buf_.data(), buf_.size(), limits);
    return frame.ok() ? *frame : nullptr;
  }
  // Hello + ReplicaStart at `pos`; returns the ReplicaStartReply (or null).
  const wire::ReplicaStartReply* Start(ReplPos pos) {
    {
      flatbuffers::FlatBufferBuilder b;
      auto token = b.CreateString("r");
      auto hello = wire::CreateHello(b, protocol::kProtocolVersion, token, 0);
      protocol::FinishFrame(b, 1, wire::Body::Hello, hello.Union());
      Send(b);
    }
    const wire::Frame* f = Read();
    if (f == nullptr || f->body_type() != wire::Body::HelloReply) return nullptr;
    flatbuffers::FlatBufferBuilder b;
    auto node = b.CreateString("raw");
    auto start = wire::CreateReplicaStart(b, node, pos.term, pos.index);
    protocol::FinishFrame(b, 2, wire::Body::ReplicaStart, start.Union());
    Send(b);
    f = Read();
    return f == nullptr ? nullptr : f->body_as_ReplicaStartReply();
  }
  // The next CommitGroup's position, or {0, 0}.
  ReplPos NextGroup() {
    const wire::Frame* f = Read();
    const wire::CommitGroup* g = f == nullptr ? nullptr : f->body_as_CommitGroup();
    return g == nullptr ? ReplPos{} : ReplPos{g->term(), g->index()};
  }
  void Ack(ReplPos pos) {
    flatbuffers::FlatBufferBuilder b;
    auto ack = wire::CreatePositionAck(b, pos.term, pos.index);
    protocol::FinishFrame(b, 0, wire::Body::PositionAck, ack.Union());
    Send(b);
  }
  void Close() {
    asio::error_code ignored;
    sock_.close(ignored);
  }

 private:
  bool ReadExactly(uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t got = ::recv(sock_.native_handle(), p, n, 0);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }
  asio::io_context io_;
  asio::ip::tcp::socket sock_;
  std::vector<uint8_t> buf_;
};

// A store with a PrimaryHook (completions run on the test thread through
// `queue`) and its replication listener on an io thread of its own.
class Primary {
 public:
  Primary(const std::string& path, PrimaryHookOptions ho, bool listen = true,
          std::function<bool()> gate = {})
      : hook_(ho) {
    if (gate) hook_.SetAnswerGate(std::move(gate));
    StoreOptions so;
    so.path = path;
    so.hook = &hook_;
    auto store = Store::Open(so, queue_.Poster());
    EXPECT_TRUE(store.ok()) << store.status();
    if (store.ok()) store_ = std::move(*store);
    if (!listen) return;
    ReplicationServerOptions ro;
    ro.port = 0;
    ro.tokens = {MakeCredential("r", wire::Role::Replica)};
    server_ = std::make_unique<ReplicationServer>(io_, ro, &hook_);
    EXPECT_TRUE(server_->Start().ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Primary() {
    if (server_) {
      asio::post(io_, [this] {
        server_->Stop();
        work_.reset();
      });
      thread_.join();
    }
    store_.reset();
  }
  // Submits one record; its completion appends `seq` (negated on an error)
  // to answered().
  void Write(uint64_t epoch, SeqNo seq) {
    store_->Submit(epoch, Record(seq), [this, seq](absl::Status st) {
      answered_.push_back(st.ok() ? static_cast<int64_t>(seq) : -static_cast<int64_t>(seq));
    });
  }
  // Runs completions for `ms`; returns what has been answered so far.
  const std::vector<int64_t>& RunFor(int ms) {
    queue_.RunUntil([] { return false; }, std::chrono::milliseconds(ms));
    return answered_;
  }
  bool RunUntilAnswered(size_t n) {
    return queue_.RunUntil([&] { return answered_.size() >= n; }, std::chrono::seconds(10));
  }
  uint16_t port() const { return server_->port(); }
  PrimaryHook& hook() { return hook_; }
  Store& store() { return *store_; }
  const std::vector<int64_t>& answered() const { return answered_; }

 private:
  TaskQueue queue_;
  PrimaryHook hook_;
  std::unique_ptr<Store> store_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ =
      asio::make_work_guard(io_);
  std::unique_ptr<ReplicationServer> server_;
  std::thread thread_;
  std::vector<int64_t> answered_;
};

TEST(SyncReplicationTest, AWriteIsAnsweredOnlyOnceTheStandbyAckedIt) {
  TempDir dir;
  Primary p(dir.Sub("primary"), {.sync_standbys = 1});
  // No standby yet: the write commits locally and waits.
  p.Write(1, 1);
  EXPECT_TRUE(Eventually([&] { return p.hook().last().index == 1; }));
  EXPECT_TRUE(p.RunFor(200).empty());
  AnswerQueueStats s = p.hook().answer_stats();
  EXPECT_EQ(s.waiting_rounds, 1u);
  EXPECT_EQ(s.waiting_completions, 1u);
  EXPECT_GE(s.oldest_wait_ms, 150);

  auto standby = std::make_unique<RawStandby>(p.port());
  const wire::ReplicaStartReply* reply = standby->Start({0, 0});
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->from_index(), 1u);
  EXPECT_EQ(standby->NextGroup(), (ReplPos{1, 1}));
  EXPECT_TRUE(p.RunFor(200).empty());  // received is not durable: still waiting
  standby->Ack({1, 1});
  ASSERT_TRUE(p.RunUntilAnswered(1));
  EXPECT_EQ(p.answered(), (std::vector<int64_t>{1}));

  // The standby goes away with a group unacknowledged: it stays unanswered.
  p.Write(1, 2);
  EXPECT_EQ(standby->NextGroup(), (ReplPos{1, 2}));
  standby->Close();
  standby.reset();
  p.Write(1, 3);
  EXPECT_TRUE(Eventually([&] { return p.hook().last().index == 3; }));
  EXPECT_EQ(p.RunFor(300).size(), 1u);
  EXPECT_EQ(p.hook().answer_stats().waiting_rounds, 2u);
  // It comes back having made index 2 durable: that much is answered, from
  // its start position alone; 3 after its ack.
  standby = std::make_unique<RawStandby>(p.port());
  reply = standby->Start({1, 2});
  ASSERT_NE(reply, nullptr);
  ASSERT_TRUE(p.RunUntilAnswered(2));
  EXPECT_EQ(p.RunFor(100), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(standby->NextGroup(), (ReplPos{1, 3}));
  standby->Ack({1, 3});
  ASSERT_TRUE(p.RunUntilAnswered(3));
  EXPECT_EQ(p.answered(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(p.hook().answer_stats().waiting_rounds, 0u);
}

TEST(SyncReplicationTest, TwoSyncStandbysMeanTwoDistinctNodes) {
  TempDir dir;
  Primary p(dir.Sub("primary"), {.sync_standbys = 2});
  RawStandby a(p.port());  // both say node "raw": one standby
  RawStandby b(p.port());
  ASSERT_NE(a.Start({0, 0}), nullptr);
  ASSERT_NE(b.Start({0, 0}), nullptr);
  p.Write(1, 1);
  EXPECT_EQ(a.NextGroup(), (ReplPos{1, 1}));
  EXPECT_EQ(b.NextGroup(), (ReplPos{1, 1}));
  a.Ack({1, 1});
  b.Ack({1, 1});
  EXPECT_TRUE(p.RunFor(300).empty());
  EXPECT_EQ(p.hook().answer_stats().waiting_rounds, 1u);
}

TEST(SyncReplicationTest, RefusedRoundsStayBehindHeldOnes) {
  TempDir dir;
  Primary p(dir.Sub("primary"), {.sync_standbys = 1}, /*listen=*/false);
  p.Write(1, 10);  // index 1
  ASSERT_TRUE(Eventually([&] { return p.hook().answer_stats().waiting_rounds == 1; }));
  p.Write(1, 10);  // the same key again: refused by the store, committed nothing
  ASSERT_TRUE(Eventually([&] { return p.hook().answer_stats().waiting_rounds == 2; }));
  p.Write(2, 11);  // a new epoch: index 2
  ASSERT_TRUE(Eventually([&] { return p.hook().answer_stats().waiting_rounds == 3; }));
  EXPECT_EQ(p.hook().last(), (ReplPos{1, 2}));
  EXPECT_TRUE(p.RunFor(200).empty());  // the refusal waits behind index 1
  p.hook().Release({1, 1});
  ASSERT_TRUE(p.RunUntilAnswered(2));
  EXPECT_EQ(p.RunFor(100), (std::vector<int64_t>{10, -10}));
  p.hook().Release({1, 2});
  ASSERT_TRUE(p.RunUntilAnswered(3));
  EXPECT_EQ(p.answered(), (std::vector<int64_t>{10, -10, 11}));
}

TEST(SyncReplicationTest, AClosedGateLeavesCommittedWritesUnanswered) {
  TempDir dir;
  std::atomic<bool> open{true};
  std::atomic<int> asked{0};
  Primary p(dir.Sub("primary"), {}, /*listen=*/false, [&] {  // asynchronous
    ++asked;
    return open.load();
  });
  {
    p.Write(1, 1);
    ASSERT_TRUE(p.RunUntilAnswered(1));
    EXPECT_GE(asked.load(), 1);
    open = false;
    p.Write(1, 2);
    p.Write(1, 3);
    ASSERT_TRUE(Eventually([&] { return p.hook().last().index >= 2; }));
    open = true;  // for good: a fenced node never answers again
    p.Write(1, 4);
    ASSERT_TRUE(Eventually([&] {
      return p.hook().answer_stats().parked_completions == 3;
    }));
    EXPECT_EQ(p.RunFor(200), (std::vector<int64_t>{1}));
    EXPECT_TRUE(p.hook().answer_stats().fenced);
    // Committed all the same: the store holds what the hook shipped.
    auto r = p.store().NewReader();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r->GetReplPos(), p.hook().last());
  }
}

TEST(SyncReplicationTest, TheLeadersTermNamesPositionsAndStartsANewTerm) {
  TempDir dir;
  {
    Primary p(dir.Sub("primary"), {.term = 5});
    EXPECT_EQ(p.hook().term(), 5u);
    EXPECT_EQ(p.hook().NextPosition(), (ReplPos{5, 1}));
    RawStandby standby(p.port());
    const wire::ReplicaStartReply* reply = standby.Start({0, 0});
    ASSERT_NE(reply, nullptr);
    EXPECT_EQ(reply->term(), 5u);
    p.Write(1, 1);
    ASSERT_TRUE(p.RunUntilAnswered(1));
    EXPECT_EQ(standby.NextGroup(), (ReplPos{5, 1}));
  }
  {
    // A new leader's term, before any write: the reply already says it.
    Primary p(dir.Sub("primary"), {.term = 7});
    EXPECT_EQ(p.hook().last(), (ReplPos{5, 1}));
    RawStandby standby(p.port());
    const wire::ReplicaStartReply* reply = standby.Start({5, 1});
    ASSERT_NE(reply, nullptr);
    EXPECT_EQ(reply->term(), 7u);
    p.Write(1, 2);
    ASSERT_TRUE(p.RunUntilAnswered(1));
    EXPECT_EQ(standby.NextGroup(), (ReplPos{7, 2}));
  }
  {
    // A lower term than the store's never goes back; 0 keeps the store's.
    Primary p(dir.Sub("primary"), {.term = 3}, false);
    EXPECT_EQ(p.hook().NextPosition(), (ReplPos{7, 3}));
  }
  {
    Primary p(dir.Sub("primary"), {}, false);
    EXPECT_EQ(p.hook().NextPosition(), (ReplPos{7, 3}));
    auto r = p.store().NewReader();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r->GetReplTerms(), (std::vector<ReplPos>{{5, 1}, {7, 2}}));
  }
}

}  // namespace
}  // namespace rappel::server
