#include "server/store/log_compactor.h"

#include <algorithm>
#include <utility>

namespace rappel::server {

LogCompactor::LogCompactor(NumberedLog* log, uint64_t floor, Options options)
    : log_(log), options_(options), floor_(floor) {}

void LogCompactor::Run() {
  if (running_) return;
  bool by_garbage = log_->HasGarbage();
  bool forced = floor_ < force_until_;
  if (!by_garbage && !forced) {
    FinishForced(absl::OkStatus());
    return;
  }
  // A forced pass stops at the end of the log as it was when asked; one
  // driven by garbage goes on while there is garbage.
  uint64_t bound = by_garbage ? UINT64_MAX : force_until_;
  absl::StatusOr<NumberedLog::Step> step = log_->PrepareStep(floor_, bound);
  if (!step.ok()) {
    FinishForced(step.status());
    return;
  }
  if (step->hi <= floor_) {
    // Nothing left below the bound: a forced pass is done.
    if (step->none_below_bound && forced) floor_ = std::max(floor_, force_until_);
    FinishForced(absl::OkStatus());
    return;
  }
  running_ = true;
  uint64_t lo = floor_;
  uint64_t hi = step->hi;
  bool one_commit = options_.commits == Commits::kOneCommit;
  log_->CommitCopies(lo, hi, one_commit, [this, lo, hi, one_commit](absl::Status st) {
    if (!st.ok() || one_commit) {
      StepDone(hi, st);
      return;
    }
    // Only now that the owner reads the copies may the range go.
    log_->CommitDelete(lo, hi, [this, hi](absl::Status st) { StepDone(hi, st); });
  });
}

void LogCompactor::StepDone(uint64_t hi, const absl::Status& st) {
  running_ = false;
  if (!st.ok()) {
    FinishForced(st);
    return;
  }
  floor_ = hi;
  if (options_.chain) {
    Run();
  } else {
    FinishForced(absl::OkStatus());
  }
}

void LogCompactor::Force(uint64_t until, std::function<void(absl::Status)> done) {
  force_until_ = std::max(force_until_, until);
  waiters_.push_back(Waiter{until, std::move(done)});
}

void LogCompactor::FinishForced(const absl::Status& status) {
  if (waiters_.empty()) return;
  std::vector<Waiter> done;
  std::vector<Waiter> waiting;
  for (auto& w : waiters_) {
    if (!status.ok() || floor_ >= w.until) {
      done.push_back(std::move(w));
    } else {
      waiting.push_back(std::move(w));
    }
  }
  waiters_ = std::move(waiting);
  if (waiters_.empty()) force_until_ = 0;
  for (auto& w : done) w.done(status);
}

}  // namespace rappel::server
