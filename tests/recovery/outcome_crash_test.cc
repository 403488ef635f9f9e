// Message outcomes under SIGKILL: a platform books appointments, a worker
// acks the confirmations it gets and then reports each one delivered (a
// provider's receipt after the ack), and rappeld is killed at random
// moments. After every restart:
//   - every ack rappeld acknowledged is in the message list, and every
//     delivered report it acknowledged shows as delivered (never lost);
//   - the durable summary agrees with the list: its sent and delivered
//     totals are the list's counts (the counters are written in the commit
//     of the change they count, so neither runs ahead of the other).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "tests/recovery/crash_round.h"
#include "tests/testing/rappeld_child.h"
#include "tests/testing/temp_dir.h"

namespace rappel {
namespace {

using client::AppointmentInput;
using client::BlockingClient;
using client::ObjectKind;
using nlohmann::json;
using testing::ChildGuard;

constexpr int64_t kHour = 3'600'000;

// Every message of tenant 1 in the list: message id -> status.
std::map<std::string, std::string> ListAll(BlockingClient& c) {
  std::map<std::string, std::string> out;
  client::MessageListQuery q;
  q.tenant = 1;
  q.limit = 1000;
  for (int page = 0; page < 1000; ++page) {
    auto r = c.MessageList(q);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
    json doc = json::parse(*r);
    for (const json& m : doc["messages"]) out[m["message_id"]] = m["status"];
    q.cursor = doc["next_cursor"];
    if (q.cursor.empty()) break;
  }
  return out;
}

TEST(OutcomeCrashTest, AckedOutcomesAndTheSummarySurviveSigkillTogether) {
  rappel::testing::TempDir dir;
  std::string path = dir.Sub("db");
  std::mt19937 rng(7);
  const int64_t base = server::SystemNowMs() + 10 * 24 * kHour;
  const int kRounds = 5;
  int next_id = 0;
  std::mutex mu;
  std::set<std::string> acked, delivered;  // acknowledged by rappeld
  for (int round = 0; round <= kRounds; ++round) {
    bool last = round == kRounds;
    auto [pid, port] = testing::StartRappeldChild(path);
    ASSERT_GT(pid, 0);
    ChildGuard guard{pid};
    ASSERT_NE(port, 0) << "rappeld did not start";
    auto c = testing::ConnectTo(port);
    ASSERT_TRUE(c.ok()) << c.status();
    BlockingClient& platform = **c;
    if (round == 0) ASSERT_NO_FATAL_FAILURE(testing::PutClinic(platform, R"({"reminder_offsets": ["24h"], "channels": ["sms"]})"));

    // What this life recovered.
    std::map<std::string, std::string> listed = ListAll(platform);
    {
      std::lock_guard lock(mu);
      for (const std::string& id : acked) {
        EXPECT_TRUE(listed.count(id)) << id << ": an acknowledged ack is not in the list";
      }
      for (const std::string& id : delivered) {
        EXPECT_EQ(listed[id], "delivered") << id << ": an acknowledged report was lost";
      }
    }
    uint64_t sent = 0, got_delivered = 0;
    for (const auto& [id, status] : listed) {
      sent += status == "sent" || status == "delivered";
      got_delivered += status == "delivered";
    }
    auto summary = platform.MessageSummary(1);
    ASSERT_TRUE(summary.ok()) << summary.status();
    json total = json::parse(*summary)["total"];
    EXPECT_EQ(total["sent"], sent) << total;
    EXPECT_EQ(total["delivered"], got_delivered) << total;
    if (last) {
      kill(pid, SIGTERM);
      guard.Reap();
      break;
    }

    std::atomic<bool> killed{false};
    std::thread worker([&, port = port] {
      auto w = testing::ConnectTo(port);
      if (!w.ok() || !(*w)->Subscribe({client::Channel::kSms}, 256, 64).ok()) return;
      while (!killed) {
        auto got = (*w)->Receive(std::chrono::milliseconds(50));
        if (!got.ok()) return;
        std::vector<client::AckItem> acks;
        for (const client::Message& m : *got) acks.push_back({m.lease_id, client::AckOutcome::kSent, "ok"});
        if (acks.empty()) continue;
        auto r = (*w)->Ack(acks);
        if (!r.ok()) return;
        std::vector<client::OutcomeItem> reports;
        {
          std::lock_guard lock(mu);
          for (size_t i = 0; i < acks.size(); ++i) {
            if (!(*r)[i].ok()) continue;
            acked.insert((*got)[i].message_id);
            reports.push_back({(*got)[i].message_id, client::LateOutcome::kDelivered, "DELIVRD"});
          }
        }
        auto rep = (*w)->ReportOutcomes(reports);
        if (!rep.ok()) return;
        std::lock_guard lock(mu);
        for (size_t i = 0; i < reports.size(); ++i) {
          if ((*rep)[i].ok()) delivered.insert(reports[i].message_id);
        }
      }
    });
    int delay_ms = 80 + static_cast<int>(rng() % 200);
    std::thread killer = testing::KillAfter(pid, delay_ms, &killed);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!killed && std::chrono::steady_clock::now() < deadline) {
      std::vector<AppointmentInput> batch;
      for (int i = 0; i < 5; ++i) {
        AppointmentInput a;
        a.tenant = 1;
        a.calendar = "cal";
        a.type = "t";
        a.patient = "p";
        a.id = "a" + std::to_string(next_id++);
        a.version = 1;
        a.start_ms = base + static_cast<int64_t>(rng() % 500) * kHour;
        a.end_ms = a.start_ms + kHour / 2;
        batch.push_back(a);
      }
      if (!platform.UpsertAppointments(batch).ok()) break;
    }
    killer.join();
    worker.join();
    guard.Reap();
  }
  EXPECT_GT(delivered.size(), 20u) << "too little traffic for the test to mean much";
}

}  // namespace
}  // namespace rappel
