// RecordingHook: a CommitHook for tests of a replicating store. It numbers
// commits from `first` in `term`, records every position and batch it is
// handed, and either posts completions at once or holds them until
// Release(), as a primary waiting for its standbys would.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "server/store/commit_hook.h"
#include "tests/testing/task_queue.h"

namespace rappel::testing {

class RecordingHook : public server::CommitHook {
 public:
  RecordingHook(TaskQueue* queue, uint64_t term, uint64_t first, bool release_at_once)
      : queue_(queue), next_{term, first}, release_at_once_(release_at_once) {}

  server::ReplPos NextPosition() override {
    std::lock_guard lock(mu_);
    ++asked_;
    return next_;
  }
  void Committed(server::ReplPos pos, std::vector<std::shared_ptr<const server::WriteBatch>> group,
                 server::CommitCompletions dones) override {
    std::lock_guard lock(mu_);
    positions_.push_back(pos);
    for (auto& b : group) batches_.push_back(std::move(b));
    next_.index = pos.index + 1;
    Park(std::move(dones));
  }
  void Refused(server::CommitCompletions dones) override {
    std::lock_guard lock(mu_);
    ++refused_;
    Park(std::move(dones));
  }

  // Posts every held completion, in order.
  void Release() {
    std::lock_guard lock(mu_);
    PostHeld();
  }
  // Release(), and posts every later completion at once.
  void ReleaseFromNowOn() {
    std::lock_guard lock(mu_);
    release_at_once_ = true;
    PostHeld();
  }

  size_t committed_groups() {
    std::lock_guard lock(mu_);
    return positions_.size();
  }
  std::vector<server::ReplPos> positions() {
    std::lock_guard lock(mu_);
    return positions_;
  }
  std::vector<std::shared_ptr<const server::WriteBatch>> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }
  int asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  void Park(server::CommitCompletions dones) {
    for (auto& d : dones) held_.push_back(std::move(d));
    if (release_at_once_) PostHeld();
  }
  void PostHeld() {
    if (held_.empty()) return;
    auto dones = std::make_shared<server::CommitCompletions>(std::move(held_));
    held_.clear();
    queue_->Post([dones] { server::RunCompletions(*dones); });
  }

  TaskQueue* queue_;
  std::mutex mu_;
  server::ReplPos next_;
  bool release_at_once_;
  server::CommitCompletions held_;
  std::vector<server::ReplPos> positions_;
  std::vector<std::shared_ptr<const server::WriteBatch>> batches_;
  int refused_ = 0;
  int asked_ = 0;
};

}  // namespace rappel::testing
