#include "server/replication/backlog.h"

namespace rappel::server {

Backlog::Backlog(size_t max_bytes, uint64_t next_index) : max_bytes_(max_bytes), first_(next_index) {}

bool Backlog::Append(uint64_t index, SharedBytes bytes) {
  std::lock_guard lock(mu_);
  if (index != first_ + entries_.size()) return false;
  bytes_ += bytes->size();
  entries_.push_back(std::move(bytes));
  while (bytes_ > max_bytes_ && entries_.size() > 1) {
    bytes_ -= entries_.front()->size();
    entries_.pop_front();
    ++first_;
  }
  return true;
}

bool Backlog::Holds(uint64_t index) const {
  std::lock_guard lock(mu_);
  return index >= first_ && index <= first_ + entries_.size();
}

std::vector<SharedBytes> Backlog::ReadFrom(uint64_t index,
                                                                  size_t max_entries,
                                                                  size_t max_bytes) const {
  std::vector<SharedBytes> out;
  std::lock_guard lock(mu_);
  if (index < first_) return out;
  size_t bytes = 0;
  for (uint64_t i = index - first_; i < entries_.size() && out.size() < max_entries; ++i) {
    if (!out.empty() && bytes + entries_[i]->size() > max_bytes) break;
    bytes += entries_[i]->size();
    out.push_back(entries_[i]);
  }
  return out;
}

uint64_t Backlog::first_index() const {
  std::lock_guard lock(mu_);
  return first_;
}
uint64_t Backlog::next_index() const {
  std::lock_guard lock(mu_);
  return first_ + entries_.size();
}
size_t Backlog::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace rappel::server
