// EngineHarness: an Engine on a temporary store, a fake clock, a task queue
// as its owner thread and a sink that records what fired. Synchronous
// helpers submit a request and run the queue until it is answered.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"

namespace rappel::testing {

// Reads each due reminder's content as it is handed out (Engine::ReadDue),
// so tests see what a worker would.
class RecordingSink : public server::DueSink {
 public:
  void OnDue(std::vector<server::DueRef> batch) override {
    std::optional<server::Store::Reader> reader;
    for (const server::DueRef& ref : batch) {
      refs.push_back(ref);
      server::DueReminder d;
      absl::Status st = engine->ReadDue(ref, &reader, &d);
      EXPECT_TRUE(st.ok()) << st;
      EXPECT_EQ(d.reminder.tenant, ref.tenant);
      EXPECT_EQ(d.reminder.channel, ref.channel);
      EXPECT_EQ(d.reminder.due_ms, ref.due_ms);
      EXPECT_EQ(d.reminder.expiry_ms, ref.expiry_ms);
      if (st.ok()) fired.push_back(std::move(d));
    }
  }
  server::Engine* engine = nullptr;
  std::vector<server::DueRef> refs;  // as handed out
  std::vector<server::DueReminder> fired;
};

class EngineHarness {
 public:
  explicit EngineHarness(std::string path, server::EngineOptions options = {})
      : path_(std::move(path)), options_(std::move(options)) {
    options_.store.path = path_;
    options_.clock = clock.AsFunction();
  }

  absl::Status Open() {
    auto engine = server::Engine::Open(options_, queue.Poster());
    if (!engine.ok()) return engine.status();
    engine_ = std::move(*engine);
    sink.engine = engine_.get();
    return absl::OkStatus();
  }
  // Waits for every write in flight, then closes (like a clean shutdown).
  void Close() {
    if (!engine_) return;
    queue.RunUntil([&] { return engine_->idle(); });
    engine_.reset();
    queue.RunPending();
  }
  server::Engine& engine() { return *engine_; }
  server::EngineOptions& options() { return options_; }

  std::vector<absl::StatusOr<server::ScheduleResult>> Schedule(
      std::vector<server::ReminderSpec> batch) {
    std::vector<absl::StatusOr<server::ScheduleResult>> out;
    bool done = false;
    engine_->Schedule(std::move(batch), [&](auto results) {
      out = std::move(results);
      done = true;
    });
    EXPECT_TRUE(queue.RunUntil([&] { return done; }));
    return out;
  }
  absl::StatusOr<server::ScheduleResult> ScheduleOne(server::ReminderSpec r) {
    return Schedule({std::move(r)})[0];
  }
  std::vector<absl::Status> Cancel(std::vector<server::ReminderKey> keys) {
    std::vector<absl::Status> out;
    bool done = false;
    engine_->Cancel(std::move(keys), [&](auto results) {
      out = std::move(results);
      done = true;
    });
    EXPECT_TRUE(queue.RunUntil([&] { return done; }));
    return out;
  }
  absl::Status Reschedule(server::ReminderKey key, int64_t due_ms) {
    absl::Status out;
    bool done = false;
    engine_->Reschedule(std::move(key), due_ms, [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(queue.RunUntil([&] { return done; }));
    return out;
  }
  absl::Status Complete(std::vector<server::CompletionRef> refs) {
    absl::Status out;
    bool done = false;
    engine_->Complete(std::move(refs), [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(queue.RunUntil([&] { return done; }));
    return out;
  }
  absl::Status Mutate(std::vector<server::ReminderSpec> schedule,
                      std::vector<server::ReminderKey> drop,
                      server::Engine::StateWrites extra = {}) {
    absl::Status out;
    bool done = false;
    engine_->Mutate(std::move(schedule), std::move(drop), std::move(extra), [&](absl::Status st) {
      out = st;
      done = true;
    });
    EXPECT_TRUE(queue.RunUntil([&] { return done; }));
    return out;
  }
  // Polls at the fake clock's time until caught up, running completions.
  void PollNow() {
    while (!engine_->Poll(clock.now_ms(), sink, 1 << 16)) {
    }
    queue.RunPending();
  }
  std::optional<server::ReminderState> Inspect(uint32_t tenant, const std::string& key) {
    auto s = engine_->Inspect({server::TenantId{tenant}, key});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::nullopt;
  }

  server::ReminderSpec Reminder(const std::string& key, int64_t due_in_ms,
                                std::string payload = "hello", uint32_t tenant = 1) {
    server::ReminderSpec r;
    r.tenant = server::TenantId{tenant};
    r.key = key;
    r.channel = server::Channel::kSms;
    r.recipient = "+33600000000";
    r.due_ms = clock.now_ms() + due_in_ms;
    r.payload = std::move(payload);
    return r;
  }

  FakeClock clock;
  TaskQueue queue;
  RecordingSink sink;

 private:
  std::string path_;
  server::EngineOptions options_;
  std::unique_ptr<server::Engine> engine_;
};

}  // namespace rappel::testing
