// Crash safety: a child process schedules and cancels in a loop and tells
// the parent every acknowledged operation; the parent kills it with SIGKILL
// at a random moment, reopens the store, and checks that every acknowledged
// reminder is there with its exact content, every acknowledged cancel held,
// and no record is torn (recovery verifies every record's checksum).
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/engine_harness.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::EngineHarness;
using rappel::testing::TempDir;

std::string PayloadFor(const std::string& key) {
  // Content derived from the key, so the parent can check it exactly.
  std::string p;
  uint64_t x = std::hash<std::string>{}(key);
  for (int i = 0; i < 200; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    p.push_back(static_cast<char>('a' + (x >> 59)));
  }
  return p;
}

ReminderSpec SpecFor(const std::string& key) {
  return ReminderSpec{TenantId{1}, key, Channel::kSms, "+33600000000",
                      1'700'000'000'000 + 86'400'000, 0, PayloadFor(key)};
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) _exit(3);
    off += static_cast<size_t>(n);
  }
}

// The child: never returns.
[[noreturn]] void RunChild(const std::string& path, int round, int fd) {
  EngineHarness h(path);
  if (!h.Open().ok()) _exit(2);
  WriteAll(fd, "ready\n");
  std::vector<std::string> acked;
  std::mt19937 rng(round);
  for (int batch = 0;; ++batch) {
    std::vector<ReminderSpec> specs;
    for (int i = 0; i < 50; ++i) {
      specs.push_back(SpecFor("r" + std::to_string(round) + "-" + std::to_string(batch) + "-" +
                              std::to_string(i)));
    }
    // Pipeline two requests so that group commit and in-flight writes are
    // exercised when the kill lands.
    bool scheduled = false;
    bool cancelled = acked.empty();
    std::string report;
    h.engine().Schedule(specs, [&](auto results) {
      for (size_t i = 0; i < results.size(); ++i) {
        if (results[i].ok()) report += "S " + specs[i].key + "\n";
      }
      scheduled = true;
    });
    std::string victim;
    if (!acked.empty()) {
      victim = acked[rng() % acked.size()];
      // Announced before it is sent: if the kill lands before the answer,
      // the cancel may or may not have been made durable.
      WriteAll(fd, "c " + victim + "\n");
      h.engine().Cancel({{TenantId{1}, victim}}, [&](auto results) {
        if (results[0].ok()) report += "C " + victim + "\n";
        cancelled = true;
      });
    }
    if (!h.queue.RunUntil([&] { return scheduled && cancelled; })) _exit(4);
    for (const auto& s : specs) acked.push_back(s.key);
    WriteAll(fd, report);
  }
}

TEST(CrashTest, EveryAcknowledgedWriteSurvivesSigkill) {
  TempDir dir;
  std::string path = dir.Sub("db");
  enum class Expect { kPresent, kMaybe, kGone };
  std::map<std::string, Expect> expected;
  std::mt19937 rng(20261122);
  const int kRounds = 24;
  uint64_t acknowledged_ops = 0;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(path, round, fds[1]);
    }
    close(fds[1]);
    // Read reports until a random moment after the child is ready, then kill.
    std::string buffer;
    bool ready = false;
    auto kill_at = std::chrono::steady_clock::time_point::max();
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      if (now >= kill_at) break;
      int wait_ms = ready ? static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  kill_at - now)
                                                  .count()) +
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
      if (got <= 0) break;  // the child died on its own: checked below
      buffer.append(chunk, static_cast<size_t>(got));
      if (!ready && buffer.find("ready\n") != std::string::npos) {
        ready = true;
        kill_at = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(20 + rng() % 250);
      }
    }
    kill(pid, SIGKILL);
    // Whatever was already written to the pipe was acknowledged too.
    char chunk[65536];
    ssize_t got;
    while ((got = read(fds[0], chunk, sizeof chunk)) > 0) buffer.append(chunk, got);
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child exited by itself with status " << wstatus;

    // Only complete lines count: the kill may cut the last one.
    std::istringstream lines(buffer.substr(0, buffer.rfind('\n') + 1));
    std::string line;
    while (std::getline(lines, line)) {
      if (line.size() < 3) continue;
      std::string key = line.substr(2);
      if (line[0] == 'S') {
        ++acknowledged_ops;
        expected[key] = Expect::kPresent;
      } else if (line[0] == 'c') {
        expected[key] = Expect::kMaybe;
      } else if (line[0] == 'C') {
        ++acknowledged_ops;
        expected[key] = Expect::kGone;
      }
    }

    EngineHarness h(path);
    absl::Status opened = h.Open();
    ASSERT_TRUE(opened.ok()) << "round " << round << ": " << opened;
    for (const auto& [key, expect] : expected) {
      auto state = h.engine().Inspect({TenantId{1}, key});
      ASSERT_TRUE(state.ok()) << state.status();
      if (expect == Expect::kPresent) {
        ASSERT_TRUE(state->has_value()) << "round " << round << ": lost acknowledged " << key;
      }
      if (state->has_value()) {
        ASSERT_NE(expect, Expect::kGone) << "round " << round << ": cancelled " << key
                                         << " came back";
        ASSERT_EQ((*state)->spec, SpecFor(key)) << key;
      }
    }
    h.Close();
  }
  EXPECT_GT(acknowledged_ops, static_cast<uint64_t>(kRounds * 50))
      << "the children acknowledged too little for the test to mean much";
}

}  // namespace
}  // namespace rappel::server
