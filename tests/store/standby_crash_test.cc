// A standby killed while it applies received groups: after the restart its
// repl_pos names exactly the groups it holds (each group whole, none past
// it), and every group it acknowledged is at or below it.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

constexpr int kBatchesPerGroup = 3;

// Group i: batch k appends log record 4i+k; the first batch puts state
// g<i>, the last one sets "last" to i.
std::vector<std::shared_ptr<const WriteBatch>> Group(uint64_t i) {
  std::vector<std::shared_ptr<const WriteBatch>> group;
  for (int k = 0; k < kBatchesPerGroup; ++k) {
    auto b = std::make_shared<WriteBatch>();
    b->Append(4 * i + k, std::string(300, static_cast<char>('a' + (i + k) % 26)));
    if (k == 0) b->PutState("g" + std::to_string(i), "x");
    if (k == kBatchesPerGroup - 1) b->PutState("last", std::to_string(i));
    group.push_back(std::move(b));
  }
  return group;
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) _exit(3);
    off += static_cast<size_t>(n);
  }
}

// The child: applies groups from its repl_pos on, four in flight, and
// reports each acknowledged index. Never returns.
[[noreturn]] void RunChild(const std::string& path, int fd) {
  TaskQueue queue;
  StoreOptions options;
  options.path = path;
  auto store = Store::Open(options, queue.Poster());
  if (!store.ok()) _exit(2);
  uint64_t next;
  {
    auto reader = (*store)->NewReader();
    if (!reader.ok()) _exit(2);
    next = reader->GetReplPos()->index + 1;
  }
  WriteAll(fd, "ready\n");
  int in_flight = 0;
  for (uint64_t end = next + 1'000'000; next < end; ++next) {
    uint64_t index = next;
    ++in_flight;
    (*store)->SubmitGroup(1, Group(index), {1, index}, [&, index](absl::Status st) {
      if (!st.ok()) _exit(5);
      WriteAll(fd, "A " + std::to_string(index) + "\n");
      --in_flight;
    });
    if (!queue.RunUntil([&] { return in_flight < 4; })) _exit(4);
  }
  _exit(6);
}

TEST(StandbyCrashTest, ReplPosNamesExactlyTheGroupsHeldAfterSigkill) {
  TempDir dir;
  std::string path = dir.Sub("db");
  std::mt19937 rng(2112);
  uint64_t acked = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(path, fds[1]);
    }
    close(fds[1]);
    std::string buffer;
    bool ready = false;
    auto kill_at = std::chrono::steady_clock::time_point::max();
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      if (now >= kill_at) break;
      int wait_ms =
          ready
              ? static_cast<int>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - now).count()) +
                    1
              : 10'000;
      pollfd p{fds[0], POLLIN, 0};
      int n = poll(&p, 1, wait_ms);
      if (n <= 0) {
        if (!ready) FAIL() << "child never became ready";
        continue;
      }
      char chunk[65536];
      ssize_t got = read(fds[0], chunk, sizeof chunk);
      if (got <= 0) break;
      buffer.append(chunk, static_cast<size_t>(got));
      if (!ready && buffer.find("ready\n") != std::string::npos) {
        ready = true;
        kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(20 + rng() % 200);
      }
    }
    kill(pid, SIGKILL);
    char chunk[65536];
    ssize_t got;
    while ((got = read(fds[0], chunk, sizeof chunk)) > 0) buffer.append(chunk, got);
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child exited by itself with status " << wstatus;
    std::istringstream lines(buffer.substr(0, buffer.rfind('\n') + 1));
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("A ", 0) == 0) acked = std::max<uint64_t>(acked, std::stoull(line.substr(2)));
    }

    TaskQueue queue;
    StoreOptions options;
    options.path = path;
    auto store = Store::Open(options, queue.Poster());
    ASSERT_TRUE(store.ok()) << store.status();
    auto reader = (*store)->NewReader();
    ASSERT_TRUE(reader.ok());
    auto pos = reader->GetReplPos();
    ASSERT_TRUE(pos.ok()) << pos.status();
    uint64_t held = pos->index;
    ASSERT_GE(held, acked) << "round " << round << ": an acknowledged group is not covered";
    ASSERT_EQ(reader->GetState("last")->value_or("0"), std::to_string(held)) << "round " << round;
    // Every group up to the position, whole; nothing past it.
    uint64_t expected_seq = 4;
    uint64_t records = 0;
    ASSERT_TRUE(reader
                    ->ScanLog(0,
                              [&](SeqNo seq, std::string_view) {
                                EXPECT_EQ(seq, expected_seq) << "round " << round;
                                ++records;
                                expected_seq += (seq % 4 == kBatchesPerGroup - 1) ? 2 : 1;
                                return true;
                              })
                    .ok());
    EXPECT_EQ(records, held * kBatchesPerGroup) << "round " << round;
    EXPECT_TRUE(reader->GetState("g" + std::to_string(held))->has_value());
    EXPECT_FALSE(reader->GetState("g" + std::to_string(held + 1))->has_value());
    EXPECT_EQ((*reader->GetReplTerms()), (std::vector<ReplPos>{{1, 1}}));
  }
  EXPECT_GT(acked, 8u) << "the children acknowledged too little for the test to mean much";
}

}  // namespace
}  // namespace rappel::server
