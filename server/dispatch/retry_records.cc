#include "server/dispatch/retry_records.h"

#include <utility>
#include <vector>

#include "server/common/bytes.h"

namespace rappel::server {
namespace {

constexpr std::string_view kRetryPrefix = "rt/";
constexpr uint8_t kRetryFormat = 1;
constexpr size_t kRetryKeyBytes = 3 + 16;

std::string RetryKey(const KeyHash& h) {
  std::string k(kRetryPrefix);
  PutBE(&k, h.lo, 8);
  PutBE(&k, h.hi, 8);
  return k;
}

std::string EncodeRetry(uint32_t failures, std::string_view message_id) {
  std::string v(1, static_cast<char>(kRetryFormat));
  PutBE(&v, failures, 4);
  v.append(message_id);
  return v;
}

}  // namespace

absl::Status RetryRecords::Recover(const Store::Reader& reader, const Engine& engine,
                                   Engine::StateWrites* stale) {
  std::vector<std::pair<KeyHash, Attempts>> found;
  absl::Status st = reader.ScanState(kRetryPrefix, [&](std::string_view k, std::string_view v) {
    if (!k.starts_with(kRetryPrefix)) return false;
    if (k.size() != kRetryKeyBytes || v.size() < 5 || static_cast<uint8_t>(v[0]) != kRetryFormat) {
      stale->push_back(StateDelete(std::string(k)));
      return true;
    }
    found.emplace_back(KeyHash{GetBE(k, 3, 8), GetBE(k, 11, 8)},
                       Attempts{static_cast<uint32_t>(GetBE(v, 1, 4)), std::string(v.substr(5))});
    return true;
  });
  if (!st.ok()) return st;
  for (auto& [hash, a] : found) {
    if (engine.IsLive(hash)) {
      attempts_[hash] = std::move(a);
    } else {
      stale->push_back(EndOf(hash));  // cancelled or expired while retrying
    }
  }
  return absl::OkStatus();
}

void RetryRecords::RecordIn(const KeyHash& hash, const Attempts& attempts,
                            Engine::StateWrites* writes) const {
  writes->push_back(StatePut(RetryKey(hash), EncodeRetry(attempts.failures, attempts.message_id)));
}

Engine::StateWrites::value_type RetryRecords::EndOf(const KeyHash& hash) {
  return StateDelete(RetryKey(hash));
}

}  // namespace rappel::server
