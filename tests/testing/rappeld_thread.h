// rappeld inside the test's process, serving on its own io thread: what the
// in-process integration tests start, talk to over loopback and stop. Stop
// is the clean shutdown (every commit in flight completes first); Start may
// be called again after it, on the same store.
#pragma once

#include <asio.hpp>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "server/main/rappeld.h"

namespace rappel::testing {

class RappeldThread {
 public:
  RappeldThread() = default;
  RappeldThread(const RappeldThread&) = delete;
  RappeldThread& operator=(const RappeldThread&) = delete;
  ~RappeldThread() { Stop(); }

  absl::Status Start(server::RappeldOptions options) {
    auto d = server::Rappeld::Start(io_, std::move(options));
    if (!d.ok()) return d.status();
    rappeld_ = std::move(*d);
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }
  void Stop() {
    if (!rappeld_) return;
    asio::post(io_, [this] { rappeld_->Shutdown([this] { io_.stop(); }); });
    thread_.join();
    rappeld_.reset();
    io_.restart();
  }

  bool running() const { return rappeld_ != nullptr; }
  uint16_t port() const { return rappeld_->port(); }
  server::Rappeld& rappeld() { return *rappeld_; }
  // Work posted here runs on the server's thread.
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  std::unique_ptr<server::Rappeld> rappeld_;
  std::thread thread_;
};

}  // namespace rappel::testing
