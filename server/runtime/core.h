// Core: the one owner that builds rappel's core and wires it, with no
// setters and no back-pointers: each part is handed what it needs when it
// is made, in the order of the data flow.
//
//   Engine::Open (store, key index, wheel: recovered from the log)
//      └─▶ AppointmentBook::Open (objects and appointments from `state`)
//             └─▶ Dispatcher (engine, the book as its MessageFilter)
//                    └─▶ Dispatcher::Recover (attempts, dead letters, limits)
//
// Poll is one turn of the timer loop: what is due goes from the engine to
// the dispatcher, and leases past their deadline come back. Whoever owns the
// Core drives it: rappeld's Loop (loop.h) from an Asio timer, tests and
// benchmarks by hand with a fake clock.
//
// Thread: the owner thread, which `post` must run closures on (the store's
// writer thread hands its completions back that way).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"
#include "server/plan/book.h"

namespace rappel::server {

struct CoreOptions {
  EngineOptions engine;
  DispatchOptions dispatch;
  // The appointment book, if wanted (its horizon is set to the engine's).
  // nullopt: raw reminders only.
  std::optional<plan::BookOptions> book = plan::BookOptions{};
};

class Core {
 public:
  // Opens and recovers everything (errors: those of Engine::Open,
  // AppointmentBook::Open and Dispatcher::Recover). `post` runs completions
  // on the owner thread. `wake` (may be empty) is called when the time of
  // the next Poll may have moved (rate limits holding messages back).
  static absl::StatusOr<std::unique_ptr<Core>> Open(CoreOptions options, Store::Poster post,
                                                    std::function<void()> wake = {});
  // Drains the store's queue; completions posted later are dropped.
  ~Core();

  Engine& engine() { return *engine_; }
  Dispatcher& dispatcher() { return *dispatcher_; }
  // Null without a book.
  plan::AppointmentBook* book() { return book_.get(); }

  // Hands what is due at now_ms to the dispatcher (at most `budget` units of
  // wheel work) and expires the leases past their deadline. True when
  // caught up; false when more is due (call again soon).
  bool Poll(int64_t now_ms, size_t budget = 4096);
  // When Poll next has work: the next due time or lease deadline, or
  // nullopt when there is neither.
  std::optional<int64_t> NextWakeMs() const;
  // The engine's clock (unix ms).
  int64_t NowMs() const { return engine_->NowMs(); }

 private:
  Core() = default;

  // Declared in the order they are built; destroyed in reverse, so the
  // dispatcher (which holds the book as its filter) goes first.
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<plan::AppointmentBook> book_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

}  // namespace rappel::server
