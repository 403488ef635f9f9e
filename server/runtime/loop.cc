#include "server/runtime/loop.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace rappel::server {

Loop::Loop(asio::io_context& io)
    : io_(io), timer_(io), reclaim_timer_(io), shutdown_timer_(io) {}

Loop::~Loop() {
  *alive_ = false;
  timer_.cancel();
  reclaim_timer_.cancel();
  shutdown_timer_.cancel();
  core_.reset();  // drains the store's queue; late completions are dropped
}

void Loop::PostAlive(std::function<void()> fn) {
  std::weak_ptr<bool> alive = alive_;
  asio::post(io_, [alive, fn = std::move(fn)] {
    if (auto a = alive.lock(); a && *a) fn();
  });
}

absl::StatusOr<std::unique_ptr<Loop>> Loop::Start(asio::io_context& io, CoreOptions options,
                                                  int64_t reclaim_every_ms) {
  std::unique_ptr<Loop> loop(new Loop(io));
  Loop* self = loop.get();
  std::weak_ptr<bool> alive = loop->alive_;
  // Completions come from the store's writer thread: run them on the io
  // thread, then re-arm (what they applied may be due already).
  Store::Poster post = [&io, alive, self](std::function<void()> fn) {
    asio::post(io, [alive, self, fn = std::move(fn)] {
      fn();
      if (auto a = alive.lock(); a && *a) self->Arm();
    });
  };
  // Rate limits may hold messages back until the next token, from a Pump
  // that may run inside Engine::Poll: re-arm later, not from within.
  auto wake = [self] { self->PostAlive([self] { self->Arm(); }); };
  auto core = Core::Open(std::move(options), std::move(post), std::move(wake));
  if (!core.ok()) return core.status();
  loop->core_ = std::move(*core);
  loop->reclaim_every_ms_ = reclaim_every_ms;
  loop->Arm();
  loop->ArmReclaim();
  return loop;
}

void Loop::Tick() {
  if (!core_->Poll(core_->NowMs())) {
    // More is due: yield to the sockets, then go on.
    PostAlive([this] { Tick(); });
    return;
  }
  Arm();
}

void Loop::Arm() {
  if (shutting_down_ || !core_) return;
  std::optional<int64_t> next = core_->NextWakeMs();
  if (!next) {
    timer_.cancel();
    return;
  }
  int64_t wait_ms = std::max<int64_t>(0, *next - core_->NowMs());
  timer_.expires_after(std::chrono::milliseconds(wait_ms));
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](asio::error_code ec) {
    if (ec) return;  // re-armed or shutting down
    if (auto a = alive.lock(); a && *a) Tick();
  });
}

void Loop::ArmReclaim() {
  if (reclaim_every_ms_ <= 0 || shutting_down_ || core_->book() == nullptr) return;
  reclaim_timer_.expires_after(std::chrono::milliseconds(reclaim_every_ms_));
  std::weak_ptr<bool> alive = alive_;
  reclaim_timer_.async_wait([this, alive](asio::error_code ec) {
    if (ec) return;
    if (auto a = alive.lock(); a && *a) {
      core_->book()->Reclaim();
      ArmReclaim();
    }
  });
}

void Loop::Shutdown(std::function<bool()> busy, std::function<void()> done) {
  shutting_down_ = true;
  reclaim_timer_.cancel();
  timer_.cancel();
  busy_ = std::move(busy);
  shutdown_done_ = std::move(done);
  CheckIdle();
}

void Loop::CheckIdle() {
  if (core_->engine().idle() && !(busy_ && busy_())) {
    if (auto done = std::move(shutdown_done_)) done();
    return;
  }
  // Completions arrive by post; look again shortly.
  shutdown_timer_.expires_after(std::chrono::milliseconds(2));
  std::weak_ptr<bool> alive = alive_;
  shutdown_timer_.async_wait([this, alive](asio::error_code ec) {
    if (auto a = alive.lock(); !ec && a && *a) CheckIdle();
  });
}

}  // namespace rappel::server
