// AnswerQueue: the completions of a primary's writer rounds between the
// local commit and the moment they may be answered.
//
// Each round comes with the position that must be durable on enough
// standbys before it is answered (its group's position); a round that
// committed nothing only waits for the rounds before it. Rounds are answered strictly in the order they
// were added, once Release has been told a position at or past theirs; a
// queue made with `hold` false answers each round as it is added
// (asynchronous replication).
//
// The answer gate (SetAnswerGate) is asked once per batch of released
// rounds: while it says true they are posted; the first time it says false
// the queue is fenced for good: that batch and every later round is parked,
// never answered (the node is losing its leadership and will restart; the
// clients see their connections drop). Later trues change nothing: a parked
// round can never be overtaken.
//
// Thread-safe: Add from the store's writer thread, Release from the io
// thread, stats() from any; every post happens under the queue's lock, so
// the owner receives the completions in order.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "server/store/commit_hook.h"

namespace rappel::server {

// What waits for standbys, for metrics and status.
struct AnswerQueueStats {
  uint64_t waiting_rounds = 0;
  uint64_t waiting_completions = 0;
  int64_t oldest_wait_ms = 0;  // 0 when nothing waits
  bool fenced = false;         // the gate said no: nothing is answered any more
  uint64_t parked_completions = 0;
  ReplPos released;            // the highest position passed to Release
};

class AnswerQueue {
 public:
  using Poster = std::function<void(std::function<void()>)>;

  // `post` runs a closure on the owner thread (the store's Poster).
  AnswerQueue(Poster post, bool hold);

  // Before any Add. Empty: always answer.
  void SetAnswerGate(std::function<bool()> may_answer);

  // A round's completions, answerable once `pos` is released.
  void Add(ReplPos pos, CommitCompletions dones);
  // A round that committed nothing: answered right after the rounds added
  // before it (at once when none waits).
  void AddBehind(CommitCompletions dones);

  // Every round at or below `pos` may be answered. Positions only grow: a
  // lower one than before changes nothing.
  void Release(ReplPos pos);

  // Shutdown, once no client can hear an answer any more (the client
  // listener is closed): posts every parked and waiting round now, in
  // order, and every later one at once, whatever the gate says, so that
  // the owner's pending writes complete (it waits for them to stop).
  void Drain();

  AnswerQueueStats stats() const;

 private:
  struct Round {
    ReplPos pos;
    std::chrono::steady_clock::time_point since;
    CommitCompletions dones;
  };
  // Under mu_: posts `rounds` (in order), or parks them when fenced.
  void AnswerLocked(std::vector<CommitCompletions> rounds);
  void PostLocked(std::vector<CommitCompletions> rounds);

  const Poster post_;
  const bool hold_;
  std::function<bool()> may_answer_;
  mutable std::mutex mu_;
  std::deque<Round> waiting_;
  uint64_t waiting_completions_ = 0;
  ReplPos released_;
  bool fenced_ = false;
  bool draining_ = false;
  std::vector<CommitCompletions> parked_;  // kept, never run
  uint64_t parked_completions_ = 0;
};

}  // namespace rappel::server
