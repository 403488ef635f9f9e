#include "server/runtime/core.h"

#include <utility>

#include "server/common/clock.h"

namespace rappel::server {

absl::StatusOr<std::unique_ptr<Core>> Core::Open(CoreOptions options, Store::Poster post,
                                                 std::function<void()> wake) {
  std::unique_ptr<Core> core(new Core());
  if (!options.engine.clock) options.engine.clock = SystemNowMs;
  std::function<int64_t()> clock = options.engine.clock;
  const int64_t horizon_ms = static_cast<int64_t>(options.engine.horizon_ms);
  auto engine = Engine::Open(std::move(options.engine), std::move(post));
  if (!engine.ok()) return engine.status();
  core->engine_ = std::move(*engine);
  if (options.book) {
    options.book->horizon_ms = horizon_ms;
    auto book = plan::AppointmentBook::Open(core->engine_.get(), *options.book);
    if (!book.ok()) return book.status();
    core->book_ = std::move(*book);
  }
  core->dispatcher_ = std::make_unique<Dispatcher>(core->engine_.get(), core->book_.get(),
                                                   options.dispatch, std::move(clock),
                                                   std::move(wake));
  if (absl::Status st = core->dispatcher_->Recover(); !st.ok()) return st;
  return core;
}

Core::~Core() {
  // The engine first: it drains the store's queue, and the completions it
  // drops may no longer reach the dispatcher or the book.
  engine_.reset();
  dispatcher_.reset();
  book_.reset();
}

bool Core::Poll(int64_t now_ms, size_t budget) {
  bool caught_up = engine_->Poll(now_ms, *dispatcher_, budget);
  dispatcher_->ExpireLeases(now_ms);
  return caught_up;
}

std::optional<int64_t> Core::NextWakeMs() const {
  std::optional<int64_t> next = engine_->NextWakeMs();
  if (auto lease = dispatcher_->NextDeadlineMs(); lease && (!next || *lease < *next)) next = lease;
  return next;
}

}  // namespace rappel::server
