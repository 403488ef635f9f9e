// rappeld killed with SIGKILL while a producer and a worker run, again and
// again: every acknowledged schedule is delivered (in that life or a later
// one) unless it was acked as delivered, and nothing acked as delivered is
// ever delivered again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_child.h"
#include "tests/testing/temp_dir.h"

namespace rappel {
namespace {

using client::AckItem;
using client::AckOutcome;
using client::BlockingClient;
using client::Channel;
using client::Reminder;

// Starts rappeld in a child process; returns its pid and port.
std::pair<pid_t, uint16_t> StartChild(const std::string& path, uint32_t max_attempts = 5) {
  return testing::StartRappeldChild(path, [max_attempts](server::RappeldOptions& options) {
    options.dispatch.lease_timeout_ms = 500;
    options.dispatch.max_attempts = max_attempts;
    options.dispatch.backoff_base_ms = 10;
  });
}

TEST(ServerCrashTest, AcknowledgedWorkSurvivesSigkill) {
  rappel::testing::TempDir dir;
  std::string path = dir.Sub("db");
  std::set<std::string> pending;    // acked as scheduled, not yet acked as delivered
  std::set<std::string> delivered;  // acked as delivered
  std::mt19937 rng(42);
  const int kRounds = 12;
  int next_key = 0;
  for (int round = 0; round <= kRounds; ++round) {
    bool last = round == kRounds;
    auto [pid, port] = StartChild(path);
    ASSERT_GT(pid, 0);
    ASSERT_NE(port, 0) << "rappeld did not start";
    client::Options o;
    o.port = port;
    o.timeout = std::chrono::milliseconds(3000);
    auto producer = BlockingClient::Connect(o);
    auto worker = BlockingClient::Connect(o);
    ASSERT_TRUE(producer.ok() && worker.ok());
    ASSERT_TRUE((*worker)->Subscribe({Channel::kSms}, 200, 100).ok());

    std::atomic<bool> killed{false};
    std::thread killer;
    if (!last) {
      int delay_ms = 30 + static_cast<int>(rng() % 200);
      killer = std::thread([pid = pid, delay_ms, &killed] {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        kill(pid, SIGKILL);
        killed = true;
      });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool alive = true;
    while (alive && std::chrono::steady_clock::now() < deadline) {
      if (!last) {
        std::vector<Reminder> batch;
        for (int i = 0; i < 20; ++i) {
          batch.push_back(Reminder{1, "k" + std::to_string(next_key++), Channel::kSms, "+33600000000",
                                   server::SystemNowMs(), 0, "x"});
        }
        auto results = (*producer)->Schedule(batch);
        if (!results.ok()) break;  // the server died
        for (size_t i = 0; i < batch.size(); ++i) {
          if ((*results)[i].ok()) pending.insert(batch[i].key);
        }
      }
      auto messages = (*worker)->Receive(std::chrono::milliseconds(last ? 200 : 5));
      if (!messages.ok()) break;
      std::vector<AckItem> acks;
      for (const auto& m : *messages) {
        ASSERT_EQ(delivered.count(m.reminder.key), 0u)
            << "round " << round << ": " << m.reminder.key << " was acked as delivered, came back";
        acks.push_back({m.lease_id, AckOutcome::kDelivered, ""});
      }
      if (!acks.empty()) {
        auto results = (*worker)->Ack(acks);
        if (!results.ok()) {
          // Killed with the acks in flight: they may or may not have become
          // durable, so these may or may not come back.
          for (const auto& m : *messages) pending.erase(m.reminder.key);
          break;
        }
        for (size_t i = 0; i < acks.size(); ++i) {
          if ((*results)[i].ok()) {
            delivered.insert((*messages)[i].reminder.key);
            pending.erase((*messages)[i].reminder.key);
          }
        }
      }
      if (last && pending.empty()) break;
      alive = !killed;
    }
    if (killer.joinable()) killer.join();
    if (last) {
      EXPECT_TRUE(pending.empty()) << pending.size() << " acknowledged reminders never delivered, e.g. "
                                   << *pending.begin();
      kill(pid, SIGTERM);
    }
    int status = 0;
    waitpid(pid, &status, 0);
  }
  EXPECT_GT(delivered.size(), 200u) << "too little traffic for the test to mean much";
}

// Every message fails (retryable) at each attempt, while rappeld is killed
// again and again: attempt numbers never go back after a restart, nothing is
// delivered beyond max_attempts, and in the end every message is a dead
// letter with max_attempts attempts.
TEST(ServerCrashTest, AttemptCountsAndDeadLettersSurviveSigkill) {
  rappel::testing::TempDir dir;
  std::string path = dir.Sub("db");
  constexpr uint32_t kMaxAttempts = 3;
  std::map<std::string, uint32_t> failed;  // key -> highest attempt acked as failed
  std::mt19937 rng(7);
  const int kRounds = 10;
  int next_key = 0;
  for (int round = 0; round <= kRounds; ++round) {
    bool last = round == kRounds;
    auto [pid, port] = StartChild(path, kMaxAttempts);
    ASSERT_GT(pid, 0);
    ASSERT_NE(port, 0) << "rappeld did not start";
    client::Options o;
    o.port = port;
    o.timeout = std::chrono::milliseconds(3000);
    auto producer = BlockingClient::Connect(o);
    auto worker = BlockingClient::Connect(o);
    ASSERT_TRUE(producer.ok() && worker.ok());
    ASSERT_TRUE((*worker)->Subscribe({Channel::kSms}, 200, 100).ok());
    std::atomic<bool> killed{false};
    std::thread killer;
    if (!last) {
      int delay_ms = 20 + static_cast<int>(rng() % 150);
      killer = std::thread([pid = pid, delay_ms, &killed] {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        kill(pid, SIGKILL);
        killed = true;
      });
    }
    auto all_dead = [&] {
      for (const auto& [key, n] : failed) {
        if (n < kMaxAttempts) return false;
      }
      return true;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (round < 4) {
        std::vector<Reminder> batch;
        for (int i = 0; i < 10; ++i) {
          batch.push_back(Reminder{1, "f" + std::to_string(next_key++), Channel::kSms,
                                   "+33600000000", server::SystemNowMs(), 0, "x"});
        }
        auto results = (*producer)->Schedule(batch);
        if (!results.ok()) break;
        for (size_t i = 0; i < batch.size(); ++i) {
          if ((*results)[i].ok()) failed.emplace(batch[i].key, 0);
        }
      }
      auto messages = (*worker)->Receive(std::chrono::milliseconds(last ? 100 : 5));
      if (!messages.ok()) break;
      std::vector<AckItem> acks;
      for (const auto& m : *messages) {
        uint32_t before = failed.count(m.reminder.key) ? failed[m.reminder.key] : 0;
        ASSERT_LE(m.attempt, kMaxAttempts) << m.reminder.key << " delivered beyond max_attempts";
        ASSERT_GT(m.attempt, before) << "round " << round << ": " << m.reminder.key
                                     << " came back at attempt " << m.attempt << " after failure "
                                     << before << " was acknowledged";
        acks.push_back({m.lease_id, AckOutcome::kFailedRetryable, "provider down"});
      }
      if (!acks.empty()) {
        auto results = (*worker)->Ack(acks);
        if (!results.ok()) break;
        for (size_t i = 0; i < acks.size(); ++i) {
          if ((*results)[i].ok()) {
            uint32_t& n = failed[(*messages)[i].reminder.key];
            n = std::max(n, (*messages)[i].attempt);
          }
        }
      }
      if (last && all_dead()) break;
      if (last && messages->empty()) {
        // Failures that became durable just before a kill (reply lost) are
        // dead letters we did not see acknowledged: ask.
        auto letters = (*producer)->ListDeadLetters(1, 100000);
        if (letters.ok() && letters->size() == failed.size()) break;
      }
      if (killed) break;
    }
    if (killer.joinable()) killer.join();
    if (last) {
      auto letters = (*producer)->ListDeadLetters(1, 100000);
      ASSERT_TRUE(letters.ok()) << letters.status();
      std::map<std::string, uint32_t> dead;
      for (const auto& d : *letters) dead[d.reminder.key] = d.attempts;
      for (const auto& [key, n] : failed) {
        ASSERT_EQ(dead.count(key), 1u) << key << " is not a dead letter";
        EXPECT_EQ(dead[key], kMaxAttempts) << key;
      }
      EXPECT_EQ(dead.size(), failed.size());
      kill(pid, SIGTERM);
    }
    int status = 0;
    waitpid(pid, &status, 0);
  }
  EXPECT_GE(failed.size(), 20u) << "too little traffic for the test to mean much";
}

}  // namespace
}  // namespace rappel
