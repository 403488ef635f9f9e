// Rappeld: the whole server assembled on one io_context: the core and its
// timer loop (server/runtime/loop.h: engine, store writer thread, appointment
// book, dispatcher), the request handler and the listener. main() wraps it
// with options and signals; tests run it in-process on 127.0.0.1:0.
//
// Thread: everything but the store's writer runs on the io_context's thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "server/net/request_handler.h"
#include "server/net/server.h"
#include "server/runtime/loop.h"

namespace rappel::server {

struct RappeldOptions {
  EngineOptions engine;
  DispatchOptions dispatch;
  HandlerOptions handler;
  ServerOptions server;
  plan::BookOptions book;  // its horizon is the engine's
  // Listening beyond loopback without TLS was asked for explicitly
  // ([server] plaintext = 1); checked by CheckOptions, not by Rappeld.
  bool plaintext = false;
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
  // SIGHUP: applies what can change while serving (the tokens, for the
  // next Hello; connections already greeted keep theirs) from `next`, a
  // resolved and checked configuration. Connections stay open.
  void Reload(const RappeldOptions& next);
  // Loads new TLS files for the connections to come (Server::SetTls); on
  // error the running context stays. On the io thread.
  absl::Status ReloadTls(const TlsOptions& tls) { return server_->SetTls(tls); }

  const Server& server() const { return *server_; }
  // Stops accepting, closes connections, waits until every commit in flight
  // has completed, then calls `done` (on the io thread).
  void Shutdown(std::function<void()> done);

  Engine& engine() { return loop_->core().engine(); }
  Dispatcher& dispatcher() { return loop_->core().dispatcher(); }
  plan::AppointmentBook& book() { return *loop_->core().book(); }

 private:
  Rappeld() = default;

  std::unique_ptr<Loop> loop_;
  std::unique_ptr<RequestHandler> handler_;
  std::unique_ptr<Server> server_;
};

}  // namespace rappel::server
