// Loop: rappeld's core on an Asio io_context. It opens the Core (core.h)
// with completions posted to the io thread, and owns the one timer loop:
// a steady timer armed for the Core's next wake (the next due time, lease
// deadline or rate-limit token), re-armed after every completion (what it
// applied may be due already), and the periodic reclaim of ended
// appointments.
//
//   timer ──▶ Tick: Core::Poll(now) ──caught up──▶ Arm (next wake)
//                     └── more due: post Tick (the sockets get a turn)
//
// Thread: the io_context's thread (Start may run before the io_context does).
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "server/runtime/core.h"

namespace rappel::server {

class Loop {
 public:
  // Opens the Core and arms the timers. `reclaim_every_ms` <= 0: no
  // periodic reclaim.
  static absl::StatusOr<std::unique_ptr<Loop>> Start(asio::io_context& io, CoreOptions options,
                                                     int64_t reclaim_every_ms);
  // Cancels the timers and closes the Core.
  ~Loop();

  Core& core() { return *core_; }

  // Stops the timers, then calls `done` (on the io thread) once every write
  // in flight has completed and `busy()` is false (e.g. a backup running).
  void Shutdown(std::function<bool()> busy, std::function<void()> done);

 private:
  explicit Loop(asio::io_context& io);
  void Tick();
  void Arm();
  void ArmReclaim();
  void CheckIdle();
  // Runs `fn` on the io thread unless the loop is gone by then.
  void PostAlive(std::function<void()> fn);

  asio::io_context& io_;
  asio::steady_timer timer_;  // the next due time, lease deadline or token
  asio::steady_timer reclaim_timer_;
  asio::steady_timer shutdown_timer_;
  int64_t reclaim_every_ms_ = 0;
  bool shutting_down_ = false;
  std::function<bool()> busy_;
  std::function<void()> shutdown_done_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<Core> core_;
};

}  // namespace rappel::server
