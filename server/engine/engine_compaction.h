// Engine::Compaction: the engine's log as a NumberedLog, stepped over by the
// shared LogCompactor (server/store/log_compactor.h). Internal to the engine.
//
// A record is live when the key index points at it and no newer write of
// its key is in flight (that write supersedes it; copying it would put an
// old version after the new one in the log). A step re-appends the live
// records of the oldest part of the log as kRelocate ops (the index moves
// to the copies when their commit applies), then deletes the range in a
// second commit: in the same commit, a reader opened between the commit and
// the index update would look for a record already gone. A live record
// left out because a newer write of its key is in flight holds the delete
// until that write has landed; if it failed, the step is abandoned
// (Aborted) and a later step takes the range up again.
//
// Steps run when the log holds more than compact_log_to_live_ratio times the
// live reminders (and at least compact_min_log_records records), one after
// the other while that holds, compaction_step_records records at a time;
// CompactNow forces a pass over the log as it is.
//
// Thread: the engine's owner thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "server/engine/engine.h"
#include "server/store/log_compactor.h"

namespace rappel::server {

class Engine::Compaction final : public NumberedLog {
 public:
  // `floor`: the log's first record at open (the next number if empty).
  Compaction(Engine* engine, SeqNo floor);

  // A step if there is garbage (or a forced pass to go on with).
  void Run() { compactor_.Run(); }
  // Engine::CompactNow.
  void CompactNow(std::function<void(absl::StatusOr<CompactionResult>)> done);

  bool HasGarbage() const override;
  absl::StatusOr<Step> PrepareStep(uint64_t lo, uint64_t bound) override;
  void CommitCopies(uint64_t lo, uint64_t hi, bool and_delete, Done done) override;
  void CommitDelete(uint64_t lo, uint64_t hi, Done done) override;

 private:
  Engine& engine_;
  LogCompactor compactor_;
  // The step prepared (one at a time): its copies, the live records left
  // out because a newer write of their key is in flight, and what it reclaims.
  Pending copies_;
  std::vector<std::pair<KeyHash, SeqNo>> superseded_;
  uint64_t scanned_ = 0;
  uint64_t scanned_bytes_ = 0;
  uint64_t relocated_ = 0;
  // Live records re-appended by steps whose range is deleted, since open.
  uint64_t relocated_total_ = 0;
  // The pass under way (steps chained from the first until the compactor
  // stops): one info line when it ends, with what it reclaimed.
  struct Pass {
    std::chrono::steady_clock::time_point started;
    uint64_t steps = 0;
    uint64_t dropped = 0;  // garbage records deleted
    uint64_t dropped_bytes = 0;
    uint64_t relocated = 0;
  };
  std::optional<Pass> pass_;
  void EndPassIfIdle(const absl::Status& st);
};

}  // namespace rappel::server
