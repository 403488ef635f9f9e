// PrimaryHook: the CommitHook of an asynchronous primary. After each local
// commit it posts the round's completions at once (no standby is waited
// for: a group committed here but not yet on a standby is lost if this node
// is lost), encodes the group as a CommitGroup frame into the Backlog, and
// calls `wake` so the replication listener ships it.
//
// Positions: term = the store's last term (1 for a store never replicated),
// index = the store's last index + 1, + 1 per commit. The backlog is created
// at Opened, once that position is known.
//
// Thread: Opened on the thread opening the store; NextPosition, Committed
// and Refused on the store's writer thread; backlog() and SetWake from any
// thread (backlog() is null before Opened).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "server/replication/backlog.h"
#include "server/store/commit_hook.h"

namespace rappel::server {

class PrimaryHook : public CommitHook {
 public:
  explicit PrimaryHook(size_t backlog_bytes) : backlog_bytes_(backlog_bytes) {}

  void Opened(ReplPos last, std::function<void(std::function<void()>)> post) override;
  ReplPos NextPosition() override;
  void Committed(ReplPos pos, std::vector<std::shared_ptr<const WriteBatch>> group,
                 CommitCompletions dones) override;
  void Refused(CommitCompletions dones) override;

  // Called (on the writer thread) after each append; empty: nobody to wake.
  void SetWake(std::function<void()> wake);

  Backlog* backlog() { return backlog_.get(); }
  // The position of the last committed group ({term, 0} before any).
  ReplPos last() const;

 private:
  void Post(CommitCompletions dones);

  const size_t backlog_bytes_;
  std::function<void(std::function<void()>)> post_;
  std::unique_ptr<Backlog> backlog_;
  ReplPos last_;  // writer thread; copied under mu_ for last()
  mutable std::mutex mu_;
  ReplPos last_shared_;
  std::function<void()> wake_;
};

}  // namespace rappel::server
