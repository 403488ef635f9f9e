#include "server/store/write_batch.h"

namespace rappel::server {

void WriteBatch::Append(SeqNo seq, std::string_view bytes) {
  log_.push_back({seq, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(bytes.size())});
  arena_.append(bytes);
}

void WriteBatch::DeleteLogRange(SeqNo lo, SeqNo hi) {
  if (lo < hi) deleted_.push_back({lo, hi});
}

void WriteBatch::PutState(std::string_view key, std::string_view value) {
  state_.push_back({std::string(key), std::string(value), false});
}

void WriteBatch::DeleteState(std::string_view key) {
  state_.push_back({std::string(key), std::string(), true});
}

void WriteBatch::DeleteStateRange(std::string_view lo, std::string_view hi) {
  if (lo < hi) state_.push_back({std::string(lo), std::string(), true, std::string(hi)});
}

void WriteBatch::AddStateOps(std::vector<StateOp> ops) {
  if (state_.empty()) {
    state_ = std::move(ops);
    return;
  }
  state_.reserve(state_.size() + ops.size());
  for (StateOp& op : ops) state_.push_back(std::move(op));
}

void WriteBatch::Reserve(size_t records, size_t bytes) {
  log_.reserve(log_.size() + records);
  arena_.reserve(arena_.size() + bytes);
}

}  // namespace rappel::server
