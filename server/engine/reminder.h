// The reminder: what a client schedules and what a due-reminder sink
// receives. Plain values; the engine owns every reminder's state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/store/write_batch.h"

namespace rappel::server {

struct TenantId {
  uint32_t value = 0;
  friend bool operator==(TenantId, TenantId) = default;
};

enum class Channel : uint8_t { kSms = 1, kEmail = 2, kVoice = 3, kPush = 4 };
inline constexpr int kChannelCount = 4;
std::string_view ChannelName(Channel c);
std::optional<Channel> ParseChannel(std::string_view name);
inline bool IsValidChannel(uint8_t c) { return c >= 1 && c <= kChannelCount; }

// Why a reminder left the log; recorded in its tombstone.
enum class EndReason : uint8_t {
  kCancelled = 1,  // a client cancelled it
  kCompleted = 2,  // the sink completed it (delivered, or given up)
  kExpired = 3,    // it fell due after its expiry: dropped, never sent
};
std::string_view EndReasonName(EndReason r);

// A reminder as a client gives it. The key is chosen by the client and is
// unique within its tenant.
struct ReminderSpec {
  TenantId tenant;
  std::string key;
  Channel channel = Channel::kSms;
  std::string recipient;
  int64_t due_ms = 0;     // unix milliseconds
  int64_t expiry_ms = 0;  // unix milliseconds; 0 = never expires
  std::string payload;
  friend bool operator==(const ReminderSpec&, const ReminderSpec&) = default;
};

struct ReminderKey {
  TenantId tenant;
  std::string key;
};

// No engine slot known (see DueReminder::slot).
inline constexpr uint32_t kNoSlot = UINT32_MAX;

// 128-bit hash of (tenant, key) (HashKey, log_record.h): the identity of a
// reminder in memory. At 10 million keys the chance that two collide is
// about 1e-25.
struct KeyHash {
  uint64_t lo = 0;
  uint64_t hi = 0;
  friend bool operator==(const KeyHash&, const KeyHash&) = default;
};

// A due reminder as Poll hands it to the sink: which version it is, and
// what a queue of due messages needs to order and route it. The content
// (key, recipient, payload) stays in the log until Engine::ReadDue, so a
// million messages falling due at once cost 56 bytes each while they wait,
// not their payloads. `slot` and `hash` spare the engine a key-index lookup
// and hashing the key again; opaque to everyone else.
struct DueRef {
  SeqNo seq = 0;
  uint32_t slot = kNoSlot;
  TenantId tenant;
  KeyHash hash;  // HashKey(tenant, key)
  int64_t due_ms = 0;
  int64_t expiry_ms = 0;  // 0 = never expires
  Channel channel = Channel::kSms;
};

// A due reminder with its content (Engine::ReadDue). `seq` names this
// version: give it back to Engine::Complete when done (CompletionRef::Of).
struct DueReminder {
  SeqNo seq = 0;
  ReminderSpec reminder;
  uint32_t slot = kNoSlot;
  std::optional<KeyHash> hash;  // HashKey(reminder.tenant, reminder.key)
};

}  // namespace rappel::server
