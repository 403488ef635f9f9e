#include "server/replication/answer_queue.h"

#include <memory>
#include <utility>

#include "server/common/log.h"

namespace rappel::server {

AnswerQueue::AnswerQueue(Poster post, bool hold) : post_(std::move(post)), hold_(hold) {}

void AnswerQueue::SetAnswerGate(std::function<bool()> may_answer) {
  std::lock_guard lock(mu_);
  may_answer_ = std::move(may_answer);
}

void AnswerQueue::Add(ReplPos pos, CommitCompletions dones) {
  std::lock_guard lock(mu_);
  if (!hold_ || draining_ || (waiting_.empty() && pos <= released_)) {
    if (dones.empty()) return;
    std::vector<CommitCompletions> rounds;
    rounds.push_back(std::move(dones));
    AnswerLocked(std::move(rounds));
    return;
  }
  waiting_completions_ += dones.size();
  waiting_.push_back({pos, std::chrono::steady_clock::now(), std::move(dones)});
}

void AnswerQueue::AddBehind(CommitCompletions dones) {
  if (dones.empty()) return;
  std::lock_guard lock(mu_);
  if (waiting_.empty() || draining_) {
    std::vector<CommitCompletions> rounds;
    rounds.push_back(std::move(dones));
    AnswerLocked(std::move(rounds));
    return;
  }
  waiting_completions_ += dones.size();
  waiting_.push_back({waiting_.back().pos, std::chrono::steady_clock::now(), std::move(dones)});
}

void AnswerQueue::Release(ReplPos pos) {
  std::lock_guard lock(mu_);
  if (pos <= released_) return;
  released_ = pos;
  if (waiting_.empty() || pos < waiting_.front().pos) return;
  std::vector<CommitCompletions> rounds;
  while (!waiting_.empty() && waiting_.front().pos <= pos) {
    waiting_completions_ -= waiting_.front().dones.size();
    if (!waiting_.front().dones.empty()) rounds.push_back(std::move(waiting_.front().dones));
    waiting_.pop_front();
  }
  if (!rounds.empty()) AnswerLocked(std::move(rounds));
}

void AnswerQueue::Drain() {
  std::lock_guard lock(mu_);
  draining_ = true;
  std::vector<CommitCompletions> rounds = std::move(parked_);
  parked_.clear();
  for (Round& r : waiting_) rounds.push_back(std::move(r.dones));
  waiting_.clear();
  waiting_completions_ = 0;
  if (!rounds.empty()) PostLocked(std::move(rounds));
}

void AnswerQueue::AnswerLocked(std::vector<CommitCompletions> rounds) {
  if (!draining_) {
    if (!fenced_ && may_answer_ && !may_answer_()) {
      fenced_ = true;
      LogWarn("replication: the answer gate is closed (leadership no longer proven): committed "
              "writes stay unanswered from now on");
    }
    if (fenced_) {
      for (auto& r : rounds) {
        parked_completions_ += r.size();
        parked_.push_back(std::move(r));
      }
      return;
    }
  }
  PostLocked(std::move(rounds));
}

void AnswerQueue::PostLocked(std::vector<CommitCompletions> rounds) {
  // One closure per release: the owner runs the rounds back to back.
  auto held = std::make_shared<std::vector<CommitCompletions>>(std::move(rounds));
  post_([held] {
    for (auto& r : *held) RunCompletions(r);
  });
}

AnswerQueueStats AnswerQueue::stats() const {
  std::lock_guard lock(mu_);
  AnswerQueueStats s;
  s.waiting_rounds = waiting_.size();
  s.waiting_completions = waiting_completions_;
  if (!waiting_.empty()) {
    s.oldest_wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - waiting_.front().since)
                           .count();
  }
  s.fenced = fenced_;
  s.parked_completions = parked_completions_;
  s.released = released_;
  return s;
}

}  // namespace rappel::server
