// LogCompactor: reclaims a numbered log, Bitcask-style, a step at a time.
//
// A numbered log is a run of records keyed by increasing numbers, where a
// new version of something is appended at the top and the old one becomes
// garbage: the engine's log (the `log` database, by SeqNo) and the
// appointment book's records (`pa/<seq 8>` keys in the `state` database).
// Its owner knows which records are live. Everything below the floor has
// been reclaimed. A step takes the oldest range [floor, hi), copies its live
// records to new numbers at the top, then deletes the range:
//
//   floor      hi                                 next number
//     │ step   │                                    │
//     ▼        ▼                                    ▼
//     [ a  x  b)[ ... newer records ...            ][ a' b' ]
//       a, b live: copied to a', b' (commit 1)
//     [ deleted )                                      (commit 2, or 1)
//     floor := hi; the next step starts there.
//
// Commits. With kCopyThenDelete the copies land in one commit and the
// range is deleted in the next, once the owner has moved its readers to the
// copies (the engine: its index moves when the copies' commit completes, and
// a reader opened before that still reads the old numbers). With kOneCommit
// both are in one commit (the book: it names the copies by their new
// numbers as soon as the step is built, and the store makes the copies
// before the delete within the commit). A step whose commit fails leaves
// the floor where it was: the range is still there, and a later step takes
// it up again.
//
// What the owner does is the NumberedLog interface below; the compactor
// keeps the floor, runs one step at a time, and answers forced passes.
// Steps follow each other while the owner says there is garbage, so that
// compaction keeps up with the write rate (unless Options::chain is off,
// when the owner starts each step with Run).
//
// Thread: the owner's thread only (every call, every callback).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rappel::server {

// What the compactor asks of the log's owner. Owner thread.
class NumberedLog {
 public:
  using Done = std::function<void(absl::Status)>;
  virtual ~NumberedLog() = default;

  // Whether the log holds garbage enough for a step now (the owner's ratio).
  virtual bool HasGarbage() const = 0;

  // What PrepareStep chose.
  struct Step {
    // The step reclaims [lo, hi). hi == lo: no step now.
    uint64_t hi = 0;
    // With hi == lo: the log holds no record at all in [lo, bound), so a
    // forced pass to bound is done (else: a record at lo cannot be copied
    // yet, e.g. its creation is in flight).
    bool none_below_bound = false;
  };
  // Chooses the next step's range from `lo` (hi <= bound) and gets ready to
  // copy its live records. Errors (a failed read) fail the forced passes
  // waiting and start no step.
  virtual absl::StatusOr<Step> PrepareStep(uint64_t lo, uint64_t bound) = 0;
  // Submits the prepared step's copies, and with `and_delete` the delete of
  // [lo, hi) in the same commit. `done` once the commit has landed and the
  // owner reads the copies (or with its error). May run `done` at once
  // (nothing to copy and nothing to delete).
  virtual void CommitCopies(uint64_t lo, uint64_t hi, bool and_delete, Done done) = 0;
  // Submits the delete of [lo, hi), the copies being durable and applied
  // (kCopyThenDelete only). The owner may refuse (done with an error, at
  // once) if the range must not go yet; the range then stays.
  virtual void CommitDelete(uint64_t lo, uint64_t hi, Done done) = 0;
};

class LogCompactor {
 public:
  enum class Commits { kCopyThenDelete, kOneCommit };
  struct Options {
    Commits commits = Commits::kCopyThenDelete;
    // Start the next step as soon as one is done, while there is garbage.
    bool chain = true;
  };

  // `log` outlives the compactor. `floor`: no record below it (the oldest
  // record's number at open, or the next number when the log is empty).
  LogCompactor(NumberedLog* log, uint64_t floor, Options options);
  LogCompactor(const LogCompactor&) = delete;
  LogCompactor& operator=(const LogCompactor&) = delete;

  // Starts a step if none is running and there is garbage or a forced pass
  // to finish; else answers the forced passes already done.
  void Run();
  // Asks that every record below `until` be reclaimed, whatever the
  // garbage: `done` gets OK once the floor reaches it, or the error of the
  // first step or read that fails. Does not start a step: call Run (the
  // engine does, behind the writes in flight).
  void Force(uint64_t until, std::function<void(absl::Status)> done);

  uint64_t floor() const { return floor_; }
  bool running() const { return running_; }

 private:
  void StepDone(uint64_t hi, const absl::Status& st);
  void FinishForced(const absl::Status& status);

  NumberedLog* log_;
  Options options_;
  uint64_t floor_;
  bool running_ = false;
  struct Waiter {
    uint64_t until;
    std::function<void(absl::Status)> done;
  };
  std::vector<Waiter> waiters_;
  uint64_t force_until_ = 0;  // the largest `until` waiting; 0: none
};

}  // namespace rappel::server
