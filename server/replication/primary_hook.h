// PrimaryHook: the CommitHook of a primary. After each local commit it
// encodes the group as a CommitGroup frame into the Backlog, calls `wake`
// so the replication listener ships it, and hands the round's completions
// to its AnswerQueue:
//   - asynchronous (sync_standbys 0): answered at once. A group committed
//     here but not yet durable on a standby is lost if this node is lost.
//   - synchronous (sync_standbys N > 0): held until N distinct standbys have
//     acknowledged a position at or past the group's (ReplicationServer
//     calls Release). While fewer than N standbys are connected, writes
//     wait (as PostgreSQL's synchronous_commit does).
// Either way completions are answered in commit order, and only while the
// answer gate (SetAnswerGate) allows it.
//
// Positions: term = max(the store's last term, options.term), or the
// store's last term (1 for a store never replicated) when options.term is
// 0; index = the store's last index + 1, + 1 per commit. A term above the
// store's last starts at the store's last index + 1 (the store records the
// term's start in its term history). The backlog and the answer queue are
// created at Opened, once the store's position and Poster are known.
//
// Thread: Opened on the thread opening the store; NextPosition, Committed
// and Refused on the store's writer thread; Release, answer_stats, backlog,
// last, term and SetWake from any thread (backlog() is null before Opened);
// SetAnswerGate before traffic.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "server/replication/answer_queue.h"
#include "server/replication/backlog.h"
#include "server/store/commit_hook.h"

namespace rappel::server {

struct PrimaryHookOptions {
  size_t backlog_bytes = size_t{256} << 20;
  // Standbys that must have a group durable before its writes are answered
  // (0: asynchronous).
  size_t sync_standbys = 0;
  // The leader's term (its fencing epoch); 0: the store's last term.
  uint64_t term = 0;
};

class PrimaryHook : public CommitHook {
 public:
  explicit PrimaryHook(PrimaryHookOptions options) : options_(options) {}
  explicit PrimaryHook(size_t backlog_bytes) : PrimaryHook(PrimaryHookOptions{backlog_bytes}) {}

  void Opened(ReplPos last, std::function<void(std::function<void()>)> post) override;
  ReplPos NextPosition() override;
  void Committed(ReplPos pos, std::vector<std::shared_ptr<const WriteBatch>> group,
                 CommitCompletions dones) override;
  void Refused(CommitCompletions dones) override;

  // Completions are posted only while `may_answer()` returns true when they
  // are released (asked once per release, from the releasing thread: keep
  // it cheap and thread-safe). The first false fences the hook for good:
  // nothing is answered after it (answer_queue.h). Best before Opened
  // (before any traffic); after Opened it applies from the next release.
  void SetAnswerGate(std::function<bool()> may_answer);

  // Synchronous mode: `pos` is durable on sync_standbys() standbys; answers
  // every held round up to it. Ignored before Opened.
  void Release(ReplPos pos);
  size_t sync_standbys() const { return options_.sync_standbys; }
  // Shutdown, after the client listener closed (no client hears an answer
  // any more): every held or parked completion runs now, and later ones at
  // once, so that the owner's pending writes complete (AnswerQueue::Drain).
  void Drain();

  // Called (on the writer thread) after each append; empty: nobody to wake.
  void SetWake(std::function<void()> wake);

  Backlog* backlog() { return backlog_.get(); }
  // The position of the last committed group ({term(), 0} before any).
  ReplPos last() const;
  // The term of the positions this primary gives (0 before Opened).
  uint64_t term() const { return term_.load(std::memory_order_acquire); }
  // What waits for standbys (all zero before Opened).
  AnswerQueueStats answer_stats() const;

 private:
  const PrimaryHookOptions options_;
  std::function<bool()> may_answer_;
  std::unique_ptr<AnswerQueue> answers_;
  std::unique_ptr<Backlog> backlog_;
  std::atomic<uint64_t> term_{0};
  ReplPos last_;  // writer thread; copied under mu_ for last()
  mutable std::mutex mu_;
  ReplPos last_shared_;
  std::function<void()> wake_;
};

}  // namespace rappel::server
