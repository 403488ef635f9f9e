// The AppointmentBook test fixture: the real core (runtime/core.h: engine,
// store, book and dispatcher),
// with a fake clock and a worker that records what it is handed (and acks
// it as sent). Shared by book_test (the lifecycle) and gates_test (credits,
// consent, caps, household SMS).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "date/tz.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/plan/book.h"
#include "server/runtime/core.h"
#include "tests/testing/every_channel.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server::plan {

using nlohmann::json;
using rappel::testing::FakeClock;
using rappel::testing::TaskQueue;
using rappel::testing::TempDir;

// Unix ms of a local wall-clock time in `zone`.
inline int64_t LocalMs(const char* zone, int y, int mo, int d, int h, int mi = 0) {
  auto local = date::local_days{date::year{y} / mo / d} + std::chrono::hours(h) +
               std::chrono::minutes(mi);
  auto sys = date::locate_zone(zone)->to_sys(local);
  return std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
}

struct Got {
  std::string message_id;
  uint64_t lease_id;
  std::string key;
  json doc;
};

class BookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(LocalMs("Europe/Paris", 2026, 6, 1, 9));  // Monday 1 June 2026, 09:00 Paris
    engine_options_.store.path = dir_.Sub("db");
    Open();
    PutObject(ObjectKind::kTenant, 1, "", R"({"name": "Cabinet Dupont", "time_zone": "Europe/Paris",
        "reminder_offsets": ["48h", "24h"], "action_url": "https://r.example/a",
        "rebook_url": "https://book.example"})");
    PutObject(ObjectKind::kCalendar, 1, "dr-martin", R"({"name": "Dr Martin"})");
    PutObject(ObjectKind::kType, 1, "consult", R"({"name": "Consultation", "mode": "on_site"})");
    PutObject(ObjectKind::kPatient, 1, "p1", R"({"first_name": "Jeanne", "last_name": "Roux",
        "mobile": "+33612345678", "email": "jeanne@example.org"})");
  }
  void TearDown() override { Close(); }

  void Open() {
    engine_options_.clock = clock_.AsFunction();
    auto core = Core::Open(CoreOptions{engine_options_, DispatchOptions{}, book_options_},
                           queue_.Poster());
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
    engine_ = &core_->engine();
    dispatcher_ = &core_->dispatcher();
    book_ = core_->book();
    // The caps: as many at once as a worker may take.
    auto worker = dispatcher_->AddWorker(
        WorkerOptions{{Channel::kSms, Channel::kEmail}, WorkerOptions::kMaxMaxInFlight,
                      WorkerOptions::kMaxBatchSize, std::nullopt, {}},
        [this](const std::vector<LeasedMessage>& batch) {
          for (const auto& m : batch) {
            got_.push_back(Got{std::string(m.message_id), m.lease_id, m.reminder->key,
                               json::parse(m.reminder->payload)});
          }
        });
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = *worker;
  }
  void Close() {
    if (!core_) return;
    queue_.RunUntil([&] { return engine_->idle(); });
    core_.reset();
    queue_.RunPending();
    engine_ = nullptr;
    dispatcher_ = nullptr;
    book_ = nullptr;
    got_.clear();
  }
  void Restart() {
    Close();
    Open();
  }

  // A tenant document that does not set channels_by_kind gets every
  // channel per kind (testing/every_channel.h) unless a test clears
  // every_channel_per_kind_: these tests are about other rules.
  std::string PutObject(ObjectKind kind, uint32_t tenant, const std::string& id,
                        std::string doc, absl::StatusCode expect = absl::StatusCode::kOk) {
    if (kind == ObjectKind::kTenant && every_channel_per_kind_) {
      json j = json::parse(doc, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && !j.contains("channels_by_kind")) {
        j.update(json::parse("{" + std::string(rappel::testing::kEveryChannelPerKind) + "}"));
        doc = j.dump();
      }
    }
    absl::StatusOr<std::string> out = absl::UnknownError("not answered");
    bool done = false;
    book_->PutObject(kind, tenant, id, doc, [&](auto r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    EXPECT_EQ(out.status().code(), expect) << out.status();
    return out.ok() ? *out : std::string(out.status().message());
  }

  Appointment Appt(const std::string& id, int64_t start_ms, uint64_t version = 1) {
    Appointment a;
    a.tenant = 1;
    a.id = id;
    a.calendar = "dr-martin";
    a.type = "consult";
    a.patient = "p1";
    a.start_ms = start_ms;
    a.end_ms = start_ms + 30 * kMinuteMs;
    a.location = "12 rue de la Paix";
    a.version = version;
    return a;
  }
  absl::StatusOr<AppointmentResult> Upsert(Appointment a) {
    return UpsertAll({std::move(a)})[0];
  }
  std::vector<absl::StatusOr<AppointmentResult>> UpsertAll(std::vector<Appointment> items) {
    std::vector<absl::StatusOr<AppointmentResult>> out;
    bool done = false;
    book_->Upsert(std::move(items), [&](auto r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return out;
  }
  absl::StatusOr<AppointmentResult> Command(const std::string& id, AppointmentAction action,
                                            VisitStatus status = VisitStatus::kNone,
                                            uint64_t version = 0) {
    std::vector<absl::StatusOr<AppointmentResult>> out;
    bool done = false;
    book_->Commands({AppointmentCommand{1, id, action, status, version}}, [&](auto r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return out.at(0);
  }
  template <typename T, typename F>
  T Wait(F call) {
    std::optional<T> out;
    call([&](T r) { out = std::move(r); });
    EXPECT_TRUE(queue_.RunUntil([&] { return out.has_value(); }));
    return std::move(*out);
  }
  absl::StatusOr<Redeemed> Redeem(const std::string& token) {
    return Wait<absl::StatusOr<Redeemed>>([&](auto done) { book_->Redeem(token, done); });
  }

  // Polls at the fake clock's time; returns what the worker got since the
  // last call, and acks it all as sent.
  std::vector<Got> Deliveries() {
    while (!core_->Poll(clock_.now_ms(), 1 << 16)) {
    }
    queue_.RunPending();
    std::vector<Got> out = std::move(got_);
    got_.clear();
    std::vector<Dispatcher::AckRequest> acks;
    for (const Got& g : out) acks.push_back({g.lease_id, AckOutcome::kSent, "ok"});
    if (!acks.empty()) {
      bool done = false;
      dispatcher_->AckBatch(worker_, std::move(acks), [&](auto results) {
        for (const auto& st : results) EXPECT_TRUE(st.ok()) << st;
        done = true;
      });
      EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    }
    return out;
  }
  // "kind/channel" of each delivery, sorted.
  static std::vector<std::string> Kinds(const std::vector<Got>& got) {
    std::vector<std::string> out;
    for (const Got& g : got) out.push_back(g.doc["kind"].get<std::string>() + "/" +
                                           g.doc["channel"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  }
  // Advances the clock to `ms` and returns what fell due on the way.
  std::vector<Got> RunUntil(int64_t ms) {
    std::vector<Got> all;
    for (;;) {
      for (Got& g : Deliveries()) all.push_back(std::move(g));
      int64_t now = clock_.now_ms();
      if (now >= ms) break;
      // Step to each wake-up on the way, so nothing is polled late (a late
      // reminder past its expiry would be dropped, not sent).
      auto next = engine_->NextWakeMs();
      clock_.Set(!next ? ms : std::clamp(*next, now + 1, ms));
    }
    return all;
  }
  // (a copy: a range-for over Show(id)["audit"] would outlive the temporary)
  json Audit(const std::string& id) { return Show(id)["audit"]; }
  json Pending(const std::string& id) { return Show(id)["pending"]; }
  json Show(const std::string& id) {
    queue_.RunUntil([&] { return engine_->idle(); });  // drops' audits commit after the poll
    auto s = book_->Show(1, id);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? json::parse(*s) : json();
  }

  bool every_channel_per_kind_ = true;
  BookOptions book_options_;
  TempDir dir_;
  FakeClock clock_;
  TaskQueue queue_;
  EngineOptions engine_options_;
  std::unique_ptr<Core> core_;
  // Parts of core_, for the tests' convenience.
  Engine* engine_ = nullptr;
  Dispatcher* dispatcher_ = nullptr;
  AppointmentBook* book_ = nullptr;
  uint64_t worker_ = 0;
  std::vector<Got> got_;
};

}  // namespace rappel::server::plan
