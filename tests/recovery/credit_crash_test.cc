// The credit ledger under SIGKILL (issue 5 §2, §6): a platform books and
// cancels appointments of a metered tenant and adds credits now and then,
// a worker acks the SMS it gets (some as permanent failures), and rappeld
// is killed at random moments, again and again. After every restart no
// credit was created or lost:
//   - balance == added - spent;
//   - reserved == the sum of the reservations of the pending plans;
//   - spent == the sum of the spends in the appointments' audit trails
//     (each written in the commit of its ack);
//   - added is every acknowledged addition, plus at most the one in flight
//     when the server died;
//   - every ack the server acknowledged is in the audit (never lost), but
//     for appointments cancelled meanwhile (a stale lease's ack is ignored).
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

using testing::ChildGuard;

using client::AppointmentInput;
using client::BlockingClient;
using client::ObjectKind;
using nlohmann::json;

constexpr int64_t kHour = 3'600'000;


int64_t SpentInAudit(const json& doc, std::set<std::string>* sent_ids) {
  int64_t sum = 0;
  for (const auto& line : doc["audit"]) {
    if (line["what"] != "sent") continue;
    std::string reason = line["reason"];
    size_t at = reason.find(" credit(s) spent");
    if (at == std::string::npos) continue;
    size_t from = reason.rfind(' ', at - 1);
    from = from == std::string::npos ? 0 : from + 1;
    sum += std::stoll(reason.substr(from, at - from));
    sent_ids->insert(line["kind"].get<std::string>() + "/" + line["channel"].get<std::string>() +
                     "/" + std::to_string(line["occurrence"].get<uint32_t>()));
  }
  return sum;
}

TEST(CreditCrashTest, NoCreditIsCreatedOrLostAcrossSigkill) {
  rappel::testing::TempDir dir;
  std::string path = dir.Sub("db");
  std::mt19937 rng(11);
  const int64_t base = server::SystemNowMs() + 10 * 24 * kHour;
  const int kRounds = 6;
  int next_id = 0;
  int64_t added_acked = 0, added_unknown = 0;  // additions acknowledged / sent, fate unknown
  std::set<std::string> appointments;
  std::set<std::string> cancel_sent;
  // message ids ("1:@a/<id>/<kind>/<channel>/<occurrence>") whose "sent" ack was acknowledged
  std::set<std::string> acked_sent;
  std::mutex mu;
  uint64_t acks_total = 0;
  for (int round = 0; round <= kRounds; ++round) {
    bool last = round == kRounds;
    auto [pid, port] = testing::StartRappeldChild(path);
    ASSERT_GT(pid, 0);
    ChildGuard guard{pid};
    ASSERT_NE(port, 0) << "rappeld did not start";
    auto c = testing::ConnectTo(port);
    ASSERT_TRUE(c.ok()) << c.status();
    BlockingClient& platform = **c;
    if (round == 0) ASSERT_NO_FATAL_FAILURE(testing::PutClinic(platform, R"({"reminder_offsets": ["48h", "24h"], "metered": true,
                                         "channels": ["sms"]})"));

    // What this life recovered.
    auto credits = platform.Credits(1);
    ASSERT_TRUE(credits.ok()) << credits.status();
    json l = json::parse(*credits);
    EXPECT_EQ(l["balance"].get<int64_t>(), l["added"].get<int64_t>() - l["spent"].get<int64_t>()) << l;
    EXPECT_EQ(l["reserved"], l["reserved_by_plans"]) << l;
    EXPECT_GE(l["available"].get<int64_t>(), 0) << l;
    int64_t added = l["added"];
    EXPECT_GE(added, added_acked) << "an acknowledged addition was lost";
    EXPECT_LE(added, added_acked + added_unknown) << "credit was created";
    added_acked = added;  // what landed is now known
    added_unknown = 0;
    int64_t audited = 0;
    std::set<std::string> audited_sent;
    for (const std::string& id : appointments) {
      auto shown = platform.ShowAppointment(1, id);
      if (!shown.ok()) continue;  // its creation was never acknowledged
      std::set<std::string> sent;
      audited += SpentInAudit(json::parse(*shown), &sent);
      for (const std::string& s : sent) audited_sent.insert("1:@a/" + id + "/" + s);
    }
    EXPECT_EQ(l["spent"].get<int64_t>(), audited) << l;
    {
      std::lock_guard lock(mu);
      for (const std::string& m : acked_sent) {
        // (The ack of a message its appointment's cancellation dropped after
        // it was leased is accepted and ignored: nothing to audit.)
        std::string id = m.substr(5, m.find('/', 5) - 5);
        if (cancel_sent.count(id)) continue;
        EXPECT_TRUE(audited_sent.count(m)) << m << ": an acknowledged ack is not in the audit";
      }
    }
    if (last) {
      kill(pid, SIGTERM);
      guard.Reap();
      break;
    }

    // A worker acking what it gets: mostly sent, one in five a permanent failure.
    std::atomic<bool> killed{false};
    std::thread worker([&, port = port] {
      auto w = testing::ConnectTo(port);
      if (!w.ok() || !(*w)->Subscribe({client::Channel::kSms}, 256, 64).ok()) return;
      std::mt19937 wrng(round);
      while (!killed) {
        auto got = (*w)->Receive(std::chrono::milliseconds(50));
        if (!got.ok()) return;
        std::vector<client::AckItem> acks;
        for (const client::Message& m : *got) {
          bool fail = wrng() % 5 == 0;
          acks.push_back({m.lease_id, fail ? client::AckOutcome::kFailedPermanent
                                           : client::AckOutcome::kSent,
                          fail ? "invalid number" : "ok"});
        }
        if (acks.empty()) continue;
        auto r = (*w)->Ack(acks);
        if (!r.ok()) return;
        std::lock_guard lock(mu);
        for (size_t i = 0; i < acks.size(); ++i) {
          ++acks_total;
          if ((*r)[i].ok() && acks[i].outcome == client::AckOutcome::kSent) {
            acked_sent.insert((*got)[i].message_id);
          }
        }
      }
    });
    int delay_ms = 60 + static_cast<int>(rng() % 200);
    std::thread killer = testing::KillAfter(pid, delay_ms, &killed);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!killed && std::chrono::steady_clock::now() < deadline) {
      if (rng() % 4 == 0) {
        int64_t n = 5 + static_cast<int64_t>(rng() % 20);
        added_unknown += n;
        auto r = platform.Credits(1, n);
        if (!r.ok()) break;
        added_acked += n;
        added_unknown -= n;
      }
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
        appointments.insert(a.id);
        batch.push_back(a);
      }
      auto results = platform.UpsertAppointments(batch);
      if (!results.ok()) break;
      if (rng() % 2 == 0) {
        auto it = std::next(appointments.begin(), static_cast<long>(rng() % appointments.size()));
        cancel_sent.insert(*it);
        auto r = platform.CancelAppointment(1, *it, client::CancelledBy::kPractitioner);
        if (!r.ok() && absl::IsUnavailable(r.status())) break;
      }
    }
    killer.join();
    worker.join();
    guard.Reap();
  }
  EXPECT_GT(acked_sent.size(), 20u) << "too little traffic for the test to mean much";
  EXPECT_GT(added_acked, 0);
}

}  // namespace
}  // namespace rappel
