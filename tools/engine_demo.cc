// rappel-engine-demo: the engine in one process, no network. Schedules a few
// reminders a few seconds ahead in a local store, prints each as it falls
// due, completes it, and prints the counters. Run it twice: the second run
// starts by recovering the store the first one left.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "server/common/clock.h"
#include "server/engine/engine.h"
#include "tests/testing/task_queue.h"
#include "server/common/program.h"

using rappel::server::Channel;
using rappel::server::CompletionRef;
using rappel::server::DueReminder;
using rappel::server::Engine;
using rappel::server::EngineOptions;
using rappel::server::ReminderSpec;
using rappel::server::TenantId;

namespace {

using rappel::server::SystemNowMs;
int64_t NowMs() { return SystemNowMs(); }

class PrintingSink : public rappel::server::DueSink {
 public:
  void OnDue(std::vector<rappel::server::DueRef> batch) override {
    std::optional<rappel::server::Store::Reader> reader;
    for (const auto& ref : batch) {
      DueReminder d;
      if (!engine->ReadDue(ref, &reader, &d).ok()) continue;  // stale, or back in the wheel
      std::printf("  due   %-22s %-5s to %-14s late by %3lld ms: %s\n", d.reminder.key.c_str(),
                  std::string(ChannelName(d.reminder.channel)).c_str(),
                  d.reminder.recipient.c_str(),
                  static_cast<long long>(NowMs() - d.reminder.due_ms), d.reminder.payload.c_str());
      done.push_back({{d.reminder.tenant, d.reminder.key}, d.seq});
    }
  }
  rappel::server::Engine* engine = nullptr;
  std::vector<CompletionRef> done;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rappel-engine-demo: schedule, fire and complete reminders in a local store"};
  rappel::AddVersionFlag(app, "rappel-engine-demo");
  std::string data_dir = "rappel-data";
  int count = 5;
  int spacing_ms = 700;
  app.add_option("--data-dir", data_dir, "store directory (created if missing)")
      ->capture_default_str();
  app.add_option("--count", count, "reminders to schedule")->capture_default_str()->check(
      CLI::Range(0, 100000));
  app.add_option("--spacing-ms", spacing_ms, "time between due times")->capture_default_str()->check(
      CLI::Range(1, 60000));
  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;

  rappel::testing::TaskQueue owner;
  PrintingSink sink;
  EngineOptions options;
  options.store.path = data_dir;
  auto opened = Engine::Open(options, owner.Poster());
  if (!opened.ok()) {
    std::fprintf(stderr, "rappel-engine-demo: %s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  Engine& engine = **opened;
  sink.engine = &engine;
  auto stats = engine.stats();
  std::printf("opened %s: recovered %llu log records, %llu pending, in %lld ms\n", data_dir.c_str(),
              static_cast<unsigned long long>(stats.recovered_records),
              static_cast<unsigned long long>(stats.live), static_cast<long long>(stats.recovery_ms));

  std::vector<ReminderSpec> batch;
  int64_t now = NowMs();
  for (int i = 0; i < count; ++i) {
    ReminderSpec r;
    r.tenant = TenantId{1};
    r.key = "demo-" + std::to_string(now) + "-" + std::to_string(i);
    r.channel = i % 2 == 0 ? Channel::kSms : Channel::kEmail;
    r.recipient = i % 2 == 0 ? "+33600000000" : "patient@example.org";
    r.due_ms = now + spacing_ms * (i + 1);
    r.payload = "Rappel: rendez-vous demain a " + std::to_string(9 + i) + "h00";
    batch.push_back(std::move(r));
  }
  bool acked = false;
  engine.Schedule(batch, [&](auto results) {
    int ok = 0;
    for (auto& r : results) ok += r.ok() ? 1 : 0;
    std::printf("scheduled %d reminders (durable, fsync'd) in %lld ms\n", ok,
                static_cast<long long>(NowMs() - now));
    acked = true;
  });
  owner.RunUntil([&] { return acked; });

  // The owner loop: sleep until the wheel's next expiration, fire, complete.
  int64_t deadline = NowMs() + spacing_ms * (count + 2) + 1000;
  while (NowMs() < deadline && engine.stats().live > 0) {
    engine.Poll(NowMs(), sink);
    if (!sink.done.empty()) engine.Complete(std::move(sink.done), [](absl::Status) {});
    sink.done.clear();
    owner.RunPending();
    int64_t wake = engine.NextWakeMs().value_or(NowMs() + 50);
    int64_t sleep = std::clamp<int64_t>(wake - NowMs(), 0, 50);
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep));
  }
  owner.RunUntil([&] { return engine.idle(); });
  stats = engine.stats();
  std::printf("done: fired %llu, completed %llu, pending %llu, log records %llu, commits %llu\n",
              static_cast<unsigned long long>(stats.fired),
              static_cast<unsigned long long>(stats.completed),
              static_cast<unsigned long long>(stats.live),
              static_cast<unsigned long long>(stats.log_records),
              static_cast<unsigned long long>(stats.store.commits));
  return 0;
}
