// Rappeld: the whole server assembled on one io_context: engine (and its
// store's writer thread), dispatcher, request handler, listener, and the
// ticker that polls the wheel when something falls due. main() wraps it with
// options and signals; tests run it in-process on 127.0.0.1:0.
//
// Thread: everything but the store's writer runs on the io_context's thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"
#include "server/net/request_handler.h"
#include "server/net/server.h"
#include "server/plan/book.h"

namespace rappel::server {

struct RappeldOptions {
  EngineOptions engine;
  DispatchOptions dispatch;
  HandlerOptions handler;
  ServerOptions server;
  plan::BookOptions book;  // its horizon is the engine's
  // How often ended appointments past their audit retention are reclaimed.
  int64_t reclaim_every_ms = 3'600'000;
};

class Rappeld {
 public:
  // Opens the store (recovering it), then listens. Must be called on the
  // io_context's thread (or before it runs).
  static absl::StatusOr<std::unique_ptr<Rappeld>> Start(asio::io_context& io,
                                                        RappeldOptions options);
  ~Rappeld();

  uint16_t port() const { return server_->port(); }
  // Stops accepting, closes connections, waits until every commit in flight
  // has completed, then calls `done` (on the io thread).
  void Shutdown(std::function<void()> done);

  Engine& engine() { return *engine_; }
  Dispatcher& dispatcher() { return *dispatcher_; }
  plan::AppointmentBook& book() { return *book_; }

 private:
  explicit Rappeld(asio::io_context& io);
  void Tick();
  void Arm();
  void CheckIdle();
  void ArmReclaim();

  asio::io_context& io_;
  asio::steady_timer timer_;           // the ticker: next due time or lease deadline
  asio::steady_timer shutdown_timer_;
  asio::steady_timer reclaim_timer_;
  int64_t reclaim_every_ms_ = 0;
  bool shutting_down_ = false;
  std::function<void()> shutdown_done_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::function<int64_t()> clock_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<plan::AppointmentBook> book_;  // the dispatcher's filter
  std::unique_ptr<RequestHandler> handler_;
  std::unique_ptr<Server> server_;
};

}  // namespace rappel::server
