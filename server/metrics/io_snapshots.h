// IoSnapshots: takes ServerSnapshots on rappeld's io thread for callers on
// other threads (the HTTP exporter's). Take() posts the copy to the io
// thread and waits for it, at most the timeout; past it (the io thread busy
// or not running) it returns the last snapshot taken and counts a miss. No
// state of the io thread is ever read from the caller's thread.
//
// Threads: Take() and misses() from any thread. Stop() from any thread:
// every Take() waiting returns at once, and copies still queued on the io
// thread no longer call `take`. Destroy after Stop() and after the io
// thread ran or dropped what was posted (the posted jobs hold only shared
// state, never `this`).
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "server/metrics/snapshot.h"

namespace rappel::server::metrics {

class IoSnapshots {
 public:
  // `take` runs on `io`'s thread only.
  IoSnapshots(asio::io_context& io, std::function<ServerSnapshot()> take,
              std::chrono::milliseconds timeout);
  ~IoSnapshots();
  IoSnapshots(const IoSnapshots&) = delete;
  IoSnapshots& operator=(const IoSnapshots&) = delete;

  struct Result {
    ServerSnapshot snapshot;  // default (zeros) if none was ever taken
    bool fresh = false;       // taken for this call
    std::chrono::steady_clock::time_point taken_at;
  };
  Result Take();
  void Stop();
  uint64_t misses() const;

 private:
  struct Shared;
  asio::io_context& io_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace rappel::server::metrics
