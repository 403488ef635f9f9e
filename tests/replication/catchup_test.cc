// Snapshot catch-up: a standby whose position is not in the primary's
// history (new past a trimmed backlog, diverged after a failover) gets a
// snapshot of the primary's store and converges; a standby killed in the
// middle of one keeps its old store, usable, and catches up once restarted.
// Plus the pieces: the history match, the receiver's checks.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "gtest/gtest.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "server/replication/snapshot_receiver.h"
#include "server/replication/term_history.h"
#include "server/store/store_files.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

namespace fs = std::filesystem;
using client::BlockingClient;
using testing::Dump;
using testing::OnIo;
using testing::RappeldThread;
using testing::StoreDump;

TEST(TermHistoryTest, MatchesOnlyAnIndexWithinItsTerm) {
  // Term 1 holds 1..4, term 3 holds 5..8.
  ReplMeta primary{{3, 8}, {{1, 1}, {3, 5}}};
  EXPECT_TRUE(HistoryHolds(primary, {1, 1}));
  EXPECT_TRUE(HistoryHolds(primary, {1, 4}));
  EXPECT_TRUE(HistoryHolds(primary, {3, 5}));
  EXPECT_TRUE(HistoryHolds(primary, {3, 8}));
  // An old term-1 primary that went on past 4: diverged.
  EXPECT_FALSE(HistoryHolds(primary, {1, 5}));
  EXPECT_FALSE(HistoryHolds(primary, {1, 7}));
  EXPECT_NE(HistoryMismatch(primary, {1, 7}).find("diverged"), std::string::npos);
  // A term this primary never had, a group past its position, nothing.
  EXPECT_FALSE(HistoryHolds(primary, {2, 4}));
  EXPECT_FALSE(HistoryHolds(primary, {3, 9}));
  EXPECT_NE(HistoryMismatch(primary, {3, 9}).find("ahead"), std::string::npos);
  EXPECT_FALSE(HistoryHolds(primary, {4, 8}));
  EXPECT_FALSE(HistoryHolds(primary, {0, 0}));
  EXPECT_NE(HistoryMismatch(primary, {0, 0}).find("new"), std::string::npos);
}

// A store at term 1 index 1 with one record, backed up into `out`/data.mdb.
std::string BackedUpStore(rappel::testing::TempDir& dir) {
  StoreOptions o;
  o.path = dir.Sub("src");
  auto store = Store::Open(o, [](std::function<void()> fn) { fn(); });
  EXPECT_TRUE(store.ok()) << store.status();
  auto batch = std::make_shared<WriteBatch>();
  batch->Append(1, "record");
  std::promise<absl::Status> done;
  (*store)->SubmitGroup(1, {batch}, {1, 1}, [&](absl::Status st) { done.set_value(st); });
  EXPECT_TRUE(done.get_future().get().ok());
  fs::create_directories(dir.Sub("copy"));
  EXPECT_TRUE((*store)->Backup(dir.Sub("copy")).ok());
  std::ifstream in(dir.Sub("copy") + "/data.mdb", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(SnapshotReceiverTest, ChecksLengthDigestAndPosition) {
  rappel::testing::TempDir dir;
  const std::string file = BackedUpStore(dir);
  auto check = CheckStoreFiles(dir.Sub("copy"));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->meta.pos, (ReplPos{1, 1}));
  EXPECT_EQ(check->meta.terms, (std::vector<ReplPos>{{1, 1}}));
  EXPECT_EQ(check->log_entries, 1u);
  const uint64_t digest = XXH64(file.data(), file.size(), 0);
  const std::string catchup = dir.Sub("db.catchup");
  auto receive = [&](ReplPos pos, uint64_t bytes, std::string_view data, uint64_t xxh) {
    auto r = SnapshotReceiver::Begin(catchup, pos, bytes);
    EXPECT_TRUE(r.ok());
    for (size_t at = 0; at < data.size(); at += 4096) {
      if (absl::Status st = (*r)->Chunk(data.substr(at, 4096)); !st.ok()) return st;
    }
    return (*r)->End(xxh).status();
  };
  EXPECT_TRUE(receive({1, 1}, file.size(), file, digest).ok());
  // Too long, too short, another digest, another position, not a store.
  EXPECT_TRUE(absl::IsInvalidArgument(receive({1, 1}, file.size() - 1, file, digest)));
  EXPECT_TRUE(absl::IsDataLoss(receive({1, 1}, file.size() + 1, file, digest)));
  EXPECT_TRUE(absl::IsDataLoss(receive({1, 1}, file.size(), file, digest + 1)));
  EXPECT_TRUE(absl::IsDataLoss(receive({1, 2}, file.size(), file, digest)));
  std::string garbage(file.size(), 'x');
  EXPECT_FALSE(
      receive({1, 1}, garbage.size(), garbage, XXH64(garbage.data(), garbage.size(), 0)).ok());
  EXPECT_TRUE(SnapshotReceiver::Discard(catchup));
  EXPECT_FALSE(fs::exists(catchup));
}

bool HasKey(const StoreDump& d, const std::string& key) {
  for (const auto& [seq, bytes] : d.log) {
    if (bytes.find(key) != std::string::npos) return true;
  }
  return false;
}

bool SnapshotDirsLeft(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.find(".snapshot-") != std::string::npos || name.find(".catchup") != std::string::npos)
      return true;
  }
  return false;
}

class CatchupTest : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(dir_.Sub("token")) << "r\n"; }
  void StartPrimary(const std::string& store, uint64_t backlog_bytes) {
    RappeldOptions p;
    p.replication.backlog_bytes = backlog_bytes;
    p.engine.store.path = store;
    p.server.port = 0;
    p.replication.port = 0;
    p.handler.tokens = {MakeCredential("p", protocol::wire::Role::Producer),
                        MakeCredential("r", protocol::wire::Role::Replica)};
    ASSERT_TRUE(primary_.Start(p).ok());
  }
  void StartStandby(const std::string& store) {
    ASSERT_TRUE(standby_.Start(StandbyOptions(store)).ok());
  }
  RappeldOptions StandbyOptions(const std::string& store) {
    RappeldOptions s;
    s.engine.store.path = store;
    s.replication.replica_of = absl::StrCat("127.0.0.1:", primary_.rappeld().replication_port());
    s.replication.token_file = dir_.Sub("token");
    s.replication.node = "standby-1";
    return s;
  }
  ReplicaStatus StandbyStatus() {
    return OnIo(standby_, [&] { return standby_.rappeld().applier()->status(); });
  }
  // Waits (bounded: 20 s) until the standby streams at the primary's position.
  bool CaughtUp() {
    for (int i = 0; i < 1000; ++i) {
      ReplPos p = primary_.rappeld().replication_position();
      ReplicaStatus s = StandbyStatus();
      if (s.streaming && s.durable == p) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::string Why() {
    ReplicaStatus s = StandbyStatus();
    return absl::StrCat("primary at ", primary_.rappeld().replication_position().index,
                        ", standby at ", s.durable.index, " streaming ", s.streaming, " snapshots ",
                        s.snapshots, ": ", s.last_error);
  }
  std::unique_ptr<BlockingClient> Connect() {
    client::Options o;
    o.port = primary_.port();
    o.token = "p";
    auto c = BlockingClient::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  // `count` pending reminders "<prefix><i>", one Schedule (one group or so).
  void Schedule(const std::string& prefix, int count, size_t payload_bytes = 16) {
    auto producer = Connect();
    ASSERT_TRUE(producer);
    std::vector<client::Reminder> batch;
    for (int i = 0; i < count; ++i) {
      batch.push_back({1, prefix + std::to_string(i), client::Channel::kSms, "+33600000001",
                       SystemNowMs() + 3'600'000, 0, std::string(payload_bytes, 'p')});
    }
    auto r = producer->Schedule(batch);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  rappel::testing::TempDir dir_;
  RappeldThread primary_;
  RappeldThread standby_;
};

TEST_F(CatchupTest, ANewStandbyPastATrimmedBacklogCatchesUpFromASnapshot) {
  StartPrimary(dir_.Sub("primary"), 1);  // the backlog keeps only the newest group
  for (int i = 0; i < 5; ++i) Schedule(absl::StrCat("a", i, "-"), 20);
  StartStandby(dir_.Sub("standby"));
  ASSERT_TRUE(CaughtUp()) << Why();
  EXPECT_EQ(StandbyStatus().snapshots, 1u);
  // Then it streams: new groups arrive without another snapshot.
  for (int i = 0; i < 5; ++i) Schedule(absl::StrCat("b", i, "-"), 20);
  ASSERT_TRUE(CaughtUp()) << Why();
  EXPECT_EQ(StandbyStatus().snapshots, 1u);
  standby_.Stop();
  primary_.Stop();
  StoreDump a = Dump(dir_.Sub("primary"));
  StoreDump b = Dump(dir_.Sub("standby"));
  EXPECT_GE(a.pos.index, 10u);
  EXPECT_EQ(a.pos, b.pos);
  EXPECT_EQ(a.terms, b.terms);
  EXPECT_GE(a.log.size(), 200u);
  EXPECT_TRUE(a.log == b.log) << a.log.size() << " vs " << b.log.size();
  EXPECT_TRUE(a.state == b.state) << a.state.size() << " vs " << b.state.size();
  EXPECT_FALSE(SnapshotDirsLeft(dir_.path())) << "a snapshot's files were left behind";
}

TEST_F(CatchupTest, AnOldPrimaryWithGroupsTheNewLeaderNeverHadIsReseeded) {
  // Term 1: node A is the primary, node B its standby.
  StartPrimary(dir_.Sub("a"), uint64_t{64} << 20);
  StartStandby(dir_.Sub("b"));
  Schedule("shared-", 10);
  ASSERT_TRUE(CaughtUp()) << Why();
  standby_.Stop();
  // A commits groups B never gets, then is lost.
  for (int i = 0; i < 5; ++i) Schedule(absl::StrCat("lost", i, "-"), 10);
  const ReplPos a_pos = primary_.rappeld().replication_position();
  primary_.Stop();
  // B becomes the leader of term 2: its first group (empty, as Raft's
  // leaders write one) starts the term, then it takes writes of its own.
  ReplPos b_pos;
  {
    StoreOptions o;
    o.path = dir_.Sub("b");
    auto store = Store::Open(o, [](std::function<void()> fn) { fn(); });
    ASSERT_TRUE(store.ok()) << store.status();
    auto meta = (*store)->ReadReplMeta();
    ASSERT_TRUE(meta.ok()) << meta.status();
    b_pos = meta->pos;
    std::promise<absl::Status> done;
    (*store)->SubmitGroup(1, {}, {2, b_pos.index + 1},
                          [&](absl::Status st) { done.set_value(st); });
    ASSERT_TRUE(done.get_future().get().ok());
  }
  ASSERT_LT(b_pos.index, a_pos.index);
  StartPrimary(dir_.Sub("b"), uint64_t{64} << 20);
  for (int i = 0; i < 10; ++i) Schedule(absl::StrCat("new", i, "-"), 10);
  const ReplPos leader = primary_.rappeld().replication_position();
  // Index a_pos.index + 1 exists on the new leader (in its backlog): by
  // index alone A could stream from there and would keep its lost groups.
  ASSERT_EQ(leader.term, 2u);
  ASSERT_GT(leader.index, a_pos.index);
  // A rejoins as a standby of B.
  StartStandby(dir_.Sub("a"));
  ASSERT_TRUE(CaughtUp()) << Why();
  EXPECT_EQ(StandbyStatus().snapshots, 1u);
  standby_.Stop();
  primary_.Stop();
  StoreDump a = Dump(dir_.Sub("a"));
  StoreDump b = Dump(dir_.Sub("b"));
  EXPECT_EQ(a.pos, b.pos);
  EXPECT_EQ(b.terms, (std::vector<ReplPos>{{1, 1}, {2, b_pos.index + 1}}));
  EXPECT_EQ(a.terms, b.terms);
  EXPECT_TRUE(a.log == b.log) << a.log.size() << " vs " << b.log.size();
  EXPECT_TRUE(a.state == b.state);
  EXPECT_TRUE(HasKey(a, "shared-3"));
  EXPECT_TRUE(HasKey(a, "new9-3"));
  EXPECT_FALSE(HasKey(a, "lost0-3")) << "the old primary kept a group the leader never had";
}

// Writes go on while a new standby receives its snapshot: the groups
// committed after the copy come by the stream from its index + 1.
TEST_F(CatchupTest, WritesDuringTheSnapshotFollowByTheStream) {
  StartPrimary(dir_.Sub("primary"), uint64_t{256} << 20);
  for (int i = 0; i < 20; ++i) Schedule(absl::StrCat("before", i, "-"), 100, 10'000);
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !stop; ++i) {
      Schedule(absl::StrCat("during", i, "-"), 5);
      ++written;
    }
  });
  StartStandby(dir_.Sub("standby"));
  // Until the catch-up is done and some groups came after it (bounded).
  const ReplPos at_start = primary_.rappeld().replication_position();
  for (int i = 0; i < 1000; ++i) {
    if (StandbyStatus().snapshots == 1 && StandbyStatus().durable.index > at_start.index + 20) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  writer.join();
  ASSERT_TRUE(CaughtUp()) << Why();
  EXPECT_EQ(StandbyStatus().snapshots, 1u);
  EXPECT_GT(written.load(), 0);
  standby_.Stop();
  primary_.Stop();
  StoreDump a = Dump(dir_.Sub("primary"));
  StoreDump b = Dump(dir_.Sub("standby"));
  EXPECT_EQ(a.pos, b.pos);
  EXPECT_TRUE(a.log == b.log) << a.log.size() << " vs " << b.log.size();
  EXPECT_TRUE(a.state == b.state);
  EXPECT_TRUE(HasKey(b, "during0-1"));
}

#ifdef RAPPELD_PATH
// The standby as the real rappeld in a child process, its output in a file.
pid_t SpawnStandby(const std::vector<std::string>& args, const std::string& out) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(RAPPELD_PATH));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(RAPPELD_PATH, argv.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(CatchupTest, AStandbyKilledMidSnapshotKeepsAUsableStore) {
  StartPrimary(dir_.Sub("primary"), 1);
  Schedule("first-", 10);
  StartStandby(dir_.Sub("standby"));
  ASSERT_TRUE(CaughtUp()) << Why();
  standby_.Stop();
  const std::string partial = dir_.Sub("standby") + ".catchup/data.mdb";
  bool killed_mid_snapshot = false;
  // The kill must land while the file arrives: with ~40 MB to send it
  // nearly always does. Should the catch-up win the race anyway (the swap
  // done before the signal), its store must be the new one, whole: then
  // more data and again.
  for (int attempt = 0; attempt < 3 && !killed_mid_snapshot; ++attempt) {
    const StoreDump before = Dump(dir_.Sub("standby"));
    ASSERT_GT(before.pos.index, 0u);
    for (int i = 0; i < 40; ++i) Schedule(absl::StrCat("big", attempt, "-", i, "-"), 100, 10'000);
    const std::string out = dir_.Sub(absl::StrCat("standby-", attempt, ".log"));
    pid_t pid = SpawnStandby(
        {"--replica-of", absl::StrCat("127.0.0.1:", primary_.rappeld().replication_port()),
         "--replication-token-file", dir_.Sub("token"), "--data-dir", dir_.Sub("standby"),
         "--replication-node", "standby-1"},
        out);
    ASSERT_GT(pid, 0);
    bool partial_seen = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      uintmax_t size = fs::file_size(partial, ec);
      if (!ec && size >= (1u << 20)) {
        kill(pid, SIGKILL);
        partial_seen = true;
        break;
      }
      if (ReadFile(out).find("caught up from a snapshot") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    StoreDump after_kill = Dump(dir_.Sub("standby"));
    if (partial_seen && after_kill.pos == before.pos) {
      // Killed mid-snapshot: the store is the one from before, whole and
      // usable; the partial copy is next to it, not in it.
      killed_mid_snapshot = true;
      EXPECT_TRUE(after_kill.log == before.log);
      EXPECT_TRUE(after_kill.state == before.state);
      EXPECT_TRUE(fs::exists(partial));
    } else {
      ASSERT_NE(ReadFile(out).find("caught up from a snapshot"), std::string::npos)
          << "neither a partial snapshot nor a catch-up within 30 s:\n"
          << ReadFile(out);
      EXPECT_GT(after_kill.pos.index, before.pos.index);
      EXPECT_GT(after_kill.log.size(), before.log.size());
    }
  }
  ASSERT_TRUE(killed_mid_snapshot) << "every catch-up finished before the kill";
  // Restarted, it removes the partial copy and catches up.
  StartStandby(dir_.Sub("standby"));
  ASSERT_TRUE(CaughtUp()) << Why();
  EXPECT_EQ(StandbyStatus().snapshots, 1u);
  EXPECT_FALSE(fs::exists(dir_.Sub("standby") + ".catchup"));
  standby_.Stop();
  primary_.Stop();
  StoreDump a = Dump(dir_.Sub("primary"));
  StoreDump b = Dump(dir_.Sub("standby"));
  EXPECT_EQ(a.pos, b.pos);
  EXPECT_TRUE(a.log == b.log) << a.log.size() << " vs " << b.log.size();
  EXPECT_TRUE(a.state == b.state);
  EXPECT_FALSE(SnapshotDirsLeft(dir_.path()));
}
#endif

}  // namespace
}  // namespace rappel::server
