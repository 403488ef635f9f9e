#include "server/metrics/io_snapshots.h"

#include <condition_variable>
#include <mutex>
#include <optional>

namespace rappel::server::metrics {

// What the posted jobs and the callers share: one mutex and condition
// variable for every request, so that Stop() wakes them all.
struct IoSnapshots::Shared {
  std::function<ServerSnapshot()> take;  // cleared by Stop(), read on the io thread
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  uint64_t misses = 0;
  uint64_t next_request = 0;
  // The last snapshot any request obtained, and when.
  std::optional<ServerSnapshot> last;
  std::chrono::steady_clock::time_point last_at;
  // Requests completed so far are those below `completed_up_to`: a request
  // completes when its job has run (jobs run in the order posted).
  uint64_t completed_up_to = 0;
};

IoSnapshots::IoSnapshots(asio::io_context& io, std::function<ServerSnapshot()> take,
                         std::chrono::milliseconds timeout)
    : io_(io), timeout_(timeout), shared_(std::make_shared<Shared>()) {
  shared_->take = std::move(take);
}

IoSnapshots::~IoSnapshots() { Stop(); }

void IoSnapshots::Stop() {
  std::lock_guard lock(shared_->mu);
  shared_->stopped = true;
  shared_->cv.notify_all();
}

uint64_t IoSnapshots::misses() const {
  std::lock_guard lock(shared_->mu);
  return shared_->misses;
}

IoSnapshots::Result IoSnapshots::Take() {
  std::shared_ptr<Shared> shared = shared_;
  uint64_t request;
  {
    std::lock_guard lock(shared->mu);
    request = shared->next_request++;
  }
  asio::post(io_, [shared, request] {
    // On the io thread: `take` is only ever called here.
    std::function<ServerSnapshot()> take;
    {
      std::lock_guard lock(shared->mu);
      if (!shared->stopped) take = shared->take;
    }
    std::optional<ServerSnapshot> s;
    if (take) s = take();
    std::lock_guard lock(shared->mu);
    if (s) {
      shared->last = std::move(*s);
      shared->last_at = std::chrono::steady_clock::now();
    }
    if (shared->completed_up_to < request + 1) shared->completed_up_to = request + 1;
    shared->cv.notify_all();
  });
  std::unique_lock lock(shared->mu);
  bool done = shared->cv.wait_for(lock, timeout_, [&] {
    return shared->stopped || shared->completed_up_to > request;
  });
  Result r;
  r.fresh = done && !shared->stopped && shared->last.has_value() &&
            shared->completed_up_to > request;
  if (!r.fresh) ++shared->misses;
  if (shared->last) {
    r.snapshot = *shared->last;
    r.taken_at = shared->last_at;
  } else {
    r.taken_at = std::chrono::steady_clock::now();
  }
  return r;
}

}  // namespace rappel::server::metrics
