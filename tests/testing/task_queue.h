// TaskQueue: a minimal owner-thread executor for tests and benchmarks. The
// store's writer thread posts completions here; the test thread runs them.
// (rappeld uses an Asio io_context for the same role.)
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace rappel::testing {

class TaskQueue {
 public:
  // Any thread.
  void Post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  // A poster suitable for Store::Open / Engine::Open.
  std::function<void(std::function<void()>)> Poster() {
    return [this](std::function<void()> task) { Post(std::move(task)); };
  }

  // Owner thread: runs what is queued now; returns how many ran.
  size_t RunPending() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard lock(mu_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
    return tasks.size();
  }

  // Owner thread: runs tasks as they come until pred() holds or the timeout
  // passes. Returns pred().
  template <typename Pred>
  bool RunUntil(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      {
        std::unique_lock lock(mu_);
        if (!cv_.wait_until(lock, deadline, [&] { return !tasks_.empty(); })) return pred();
      }
      RunPending();
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace rappel::testing
