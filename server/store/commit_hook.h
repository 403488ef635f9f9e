// CommitHook: how a replicating primary sees the Store's group commits.
//
// Every successful write transaction of a store opened with a hook gets a
// replication position (ReplPos); the store writes it to meta `repl_pos` in
// that same transaction, so the durable position always names exactly the
// groups the store holds. After the commit the hook receives the group (to
// ship it) and the completions of the round, which it must run, in order,
// on the owner thread once the group may be answered (e.g. when a standby
// has it too).
//
// Thread: Opened is called on the thread calling Store::Open, before the
// writer starts; every other method on the Store's writer thread, one call
// at a time. The hook posts completions through the same Poster the Store was
// opened with, from whichever thread decides to release them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "server/store/write_batch.h"

namespace rappel::server {

// Position of a primary transaction in the replicated history: `term` is the
// leader's fencing number, `index` grows by one per primary transaction.
// {0, 0} is "nothing replicated".
struct ReplPos {
  uint64_t term = 0;
  uint64_t index = 0;

  friend bool operator==(const ReplPos&, const ReplPos&) = default;
  friend auto operator<=>(const ReplPos&, const ReplPos&) = default;
};

// The completions of one writer round, in submission order: each Done with
// the status it must be called with.
using CommitCompletions = std::vector<std::pair<std::function<void(absl::Status)>, absl::Status>>;

// Runs the completions in order (on the owner thread).
inline void RunCompletions(CommitCompletions& dones) {
  for (auto& [done, status] : dones) {
    if (done) done(status);
  }
}

class CommitHook {
 public:
  virtual ~CommitHook() = default;

  // The store is open: `last` is its durable meta repl_pos ({0, 0}: none),
  // `post` runs a closure on the owner thread (the Poster the store was
  // opened with; completions go through it). Before any other call.
  virtual void Opened(ReplPos last, std::function<void(std::function<void()>)> post) {
    (void)last;
    (void)post;
  }

  // The position the group about to be committed gets. Must be greater than
  // every position already passed to Committed. Not consumed by a failed
  // commit: the next call may return the same position again.
  virtual ReplPos NextPosition() = 0;

  // The transaction holding `group` (its batches in commit order) committed
  // with `pos`. `dones` are every completion of the round in submission
  // order (OK for the committed batches; errors for batches refused without
  // being written). The hook must post them, in order and after every
  // completion it was handed before, once the group may be answered. It
  // must never change their statuses: the owner's view would then differ
  // from what the store holds.
  virtual void Committed(ReplPos pos, std::vector<std::shared_ptr<const WriteBatch>> group,
                         CommitCompletions dones) = 0;

  // A round that committed nothing (a failed commit, or every batch refused
  // by an earlier failure): no position was used. `dones` hold errors only;
  // the hook posts them after every completion it was handed before, since
  // the owner matches completions to submissions by their order.
  virtual void Refused(CommitCompletions dones) = 0;
};

}  // namespace rappel::server
