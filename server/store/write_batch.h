// WriteBatch: the mutations of one caller request, committed atomically by
// the Store's writer thread together with every other batch queued at the
// same time (group commit).
//
// Thread: built on the owner thread, then handed to Store::Submit and only
// read afterwards (by the writer thread and, through a shared_ptr, by the
// owner for read-your-writes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rappel::server {

// Position of a record in the append-only log. Assigned by the owner, strictly
// increasing across every batch it submits (gaps allowed).
using SeqNo = uint64_t;

class WriteBatch {
 public:
  // Appends `bytes` to the log under `seq`, which must be greater than every
  // sequence number appended before (checked by the writer: MDB_APPEND).
  void Append(SeqNo seq, std::string_view bytes);
  // Deletes every log record with lo <= seq < hi (the compactor's reclaim).
  void DeleteLogRange(SeqNo lo, SeqNo hi);
  // Low-volume state (settings, balances): an ordinary B-tree database.
  void PutState(std::string_view key, std::string_view value);
  void DeleteState(std::string_view key);
  // Deletes every state key in [lo, hi), in key order (cheap: the pages of
  // a dense range are freed whole).
  void DeleteStateRange(std::string_view lo, std::string_view hi);
  struct StateOp;
  // Takes already built state operations (puts and deletes), without copies.
  void AddStateOps(std::vector<StateOp> ops);
  // Room for `records` log records of `bytes` in all (saves regrowth).
  void Reserve(size_t records, size_t bytes);

  struct LogRecord {
    SeqNo seq;
    uint32_t offset;  // into the batch's byte arena
    uint32_t size;
  };
  struct StateOp {
    std::string key;
    std::string value;
    bool is_delete;
    // A delete with a range_end deletes every state key in [key, range_end).
    std::string range_end = {};
    // A put with a copy_from takes the value stored under copy_from when it
    // is written (the writer copies it), or else under copy_fallback; one
    // of them must exist.
    std::string copy_from = {};
    std::string copy_fallback = {};
  };
  struct Range {
    SeqNo lo;
    SeqNo hi;
  };

  const std::vector<LogRecord>& log_records() const { return log_; }
  std::string_view record_bytes(const LogRecord& r) const {
    return std::string_view(arena_).substr(r.offset, r.size);
  }
  std::string_view record_bytes(size_t i) const { return record_bytes(log_[i]); }
  const std::vector<Range>& deleted_ranges() const { return deleted_; }
  const std::vector<StateOp>& state_ops() const { return state_; }
  bool empty() const { return log_.empty() && deleted_.empty() && state_.empty(); }
  size_t byte_size() const { return arena_.size(); }

 private:
  std::string arena_;  // all appended record bytes, back to back
  std::vector<LogRecord> log_;
  std::vector<Range> deleted_;
  std::vector<StateOp> state_;
};

// A put and a delete of one key of the `state` database, for the state
// writes that ride in a commit (the dispatcher's and the book's records).
inline WriteBatch::StateOp StatePut(std::string key, std::string value) {
  return {std::move(key), std::move(value), false};
}
inline WriteBatch::StateOp StateDelete(std::string key) { return {std::move(key), {}, true}; }

}  // namespace rappel::server
