// rappeld killed with SIGKILL while a platform books, moves and cancels
// appointments, again and again: after each restart every appointment is
// at least at the last version acknowledged (an unacknowledged later one may
// or may not have landed), and its pending plan is the plan of the version
// it holds — reminders at that version's times, none when cancelled — so a
// change and its re-plan are never split by a crash, nor lost by the reclaim
// of superseded appointment records.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
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


struct Known {
  uint64_t acked_version = 0;  // last version acknowledged
  std::map<uint64_t, int64_t> start_of;  // version -> start sent with it
  bool cancel_sent = false;
  bool cancel_acked = false;
};

TEST(AppointmentCrashTest, AChangeAndItsReplanSurviveSigkillTogether) {
  rappel::testing::TempDir dir;
  std::string path = dir.Sub("db");
  std::map<std::string, Known> known;
  std::mt19937 rng(7);
  const int64_t base = server::SystemNowMs() + 10 * 24 * kHour;
  const int kRounds = 8;
  int next_id = 0;
  for (int round = 0; round <= kRounds; ++round) {
    bool last = round == kRounds;
    // Superseded appointment records are reclaimed after a few dozen
    // changes (not 50 000): kills land in the middle of reclaim cycles too.
    auto [pid, port] = testing::StartRappeldChild(path, [](server::RappeldOptions& o) {
      o.book.min_record_garbage = 20;
      o.book.records_per_compaction = 8;
    });
    ASSERT_GT(pid, 0);
    ChildGuard guard{pid};
    ASSERT_NE(port, 0) << "rappeld did not start";
    auto c = testing::ConnectTo(port);
    ASSERT_TRUE(c.ok()) << c.status();
    BlockingClient& platform = **c;
    if (round == 0) ASSERT_NO_FATAL_FAILURE(testing::PutClinic(platform, R"({"reminder_offsets": ["48h", "24h"]})"));

    // Check what this life recovered against what was acknowledged.
    for (const auto& [id, k] : known) {
      auto shown = platform.ShowAppointment(1, id);
      if (k.acked_version == 0 && !shown.ok()) continue;  // never acknowledged, never landed
      ASSERT_TRUE(shown.ok()) << id << ": " << shown.status();
      json doc = json::parse(*shown);
      uint64_t version = doc["appointment"]["version"];
      ASSERT_GE(version, k.acked_version) << id << " lost an acknowledged version";
      ASSERT_TRUE(k.start_of.count(version)) << id << " holds a version never sent";
      int64_t start = doc["appointment"]["start_ms"];
      EXPECT_EQ(start, k.start_of.at(version)) << id;
      bool cancelled = doc["appointment"]["lifecycle"] != "active";
      if (k.cancel_acked) {
        EXPECT_TRUE(cancelled) << id;
      }
      if (!k.cancel_sent) {
        EXPECT_FALSE(cancelled) << id;
      }
      // The plan is that of the version held: reminders only at its times.
      for (const auto& p : doc["pending"]) {
        if (p["kind"] != "reminder") continue;
        EXPECT_FALSE(cancelled) << id << ": a reminder left on a cancelled appointment";
        int64_t due = p["due_ms"];
        EXPECT_TRUE(due == start - 48 * kHour || due == start - 24 * kHour)
            << id << ": a reminder at " << due << " for a start at " << start;
      }
    }
    if (last) {
      kill(pid, SIGTERM);
      guard.Reap();
      break;
    }

    std::atomic<bool> killed{false};
    int delay_ms = 40 + static_cast<int>(rng() % 150);
    std::thread killer = testing::KillAfter(pid, delay_ms, &killed);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!killed && std::chrono::steady_clock::now() < deadline) {
      // A batch: some new appointments, some moves of known ones.
      std::vector<AppointmentInput> batch;
      for (int i = 0; i < 10; ++i) {
        AppointmentInput a;
        a.tenant = 1;
        a.calendar = "cal";
        a.type = "t";
        a.patient = "p";
        bool move = !known.empty() && rng() % 2 == 0;
        if (move) {
          auto it = std::next(known.begin(), static_cast<long>(rng() % known.size()));
          if (it->second.cancel_sent) continue;
          a.id = it->first;
          a.version = it->second.start_of.rbegin()->first + 1;
        } else {
          a.id = "a" + std::to_string(next_id++);
          a.version = 1;
        }
        a.start_ms = base + static_cast<int64_t>(rng() % 500) * kHour;
        a.end_ms = a.start_ms + kHour / 2;
        known[a.id].start_of[a.version] = a.start_ms;
        batch.push_back(a);
      }
      auto results = platform.UpsertAppointments(batch);
      if (!results.ok()) break;  // the server died
      for (size_t i = 0; i < batch.size(); ++i) {
        ASSERT_TRUE((*results)[i].ok()) << (*results)[i].status();
        Known& k = known[batch[i].id];
        k.acked_version = std::max(k.acked_version, batch[i].version);
      }
      // And a cancel now and then.
      if (rng() % 3 == 0 && !known.empty()) {
        auto it = std::next(known.begin(), static_cast<long>(rng() % known.size()));
        if (!it->second.cancel_sent && it->second.acked_version > 0) {
          it->second.cancel_sent = true;
          auto r = platform.CancelAppointment(1, it->first, client::CancelledBy::kPractitioner);
          if (!r.ok() && absl::IsUnavailable(r.status())) break;
          if (r.ok()) it->second.cancel_acked = true;
        }
      }
    }
    killer.join();
    guard.Reap();
  }
  size_t acked = 0;
  for (const auto& [id, k] : known) acked += k.acked_version > 0;
  EXPECT_GT(acked, 100u) << "too little traffic for the test to mean much";
}

}  // namespace
}  // namespace rappel
