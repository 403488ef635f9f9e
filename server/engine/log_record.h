// The engine's log records: how a reminder version and a tombstone are laid
// out in the store's append-only log. The store sees opaque bytes.
//
// Layout, little-endian, 40 bytes of fixed overhead:
//
//   offset size field
//        0    1 format (kRecordFormat)
//        1    1 type: 1 reminder, 2 tombstone
//        2    1 channel (reminder) or EndReason (tombstone)
//        3    1 reserved, 0
//        4    4 tenant id
//        8    8 due_ms (reminder) or time of the tombstone
//       16    8 expiry_ms (0: none; 0 in tombstones)
//       24    2 key length
//       26    2 recipient length (0 in tombstones)
//       28    4 payload length (0 in tombstones)
//       32    . key, recipient, payload
//    end-8    8 XXH3-64 of every byte before it
//
// The checksum makes a torn or corrupted record a DataLoss error at decode,
// never a reminder with wrong content.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/engine/reminder.h"

namespace rappel::server {

inline constexpr uint8_t kRecordFormat = 1;
inline constexpr size_t kRecordOverheadBytes = 40;
inline constexpr size_t kMaxKeyBytes = 65535;

enum class RecordType : uint8_t { kReminder = 1, kTombstone = 2 };

// A decoded record; the views point into the bytes given to DecodeRecord.
struct RecordView {
  RecordType type = RecordType::kReminder;
  TenantId tenant;
  Channel channel = Channel::kSms;          // reminders
  EndReason reason = EndReason::kCancelled;  // tombstones
  int64_t due_ms = 0;                        // reminders; tombstones: when
  int64_t expiry_ms = 0;
  std::string_view key;
  std::string_view recipient;
  std::string_view payload;

  ReminderSpec ToSpec() const;
  // The same into *out, whose strings keep their capacity (no allocation
  // when they are large enough already).
  void CopyTo(ReminderSpec* out) const;
};

// Appends the encoding to *out. Lengths must already be validated
// (key <= 65535 bytes, payload < 4 GiB).
void EncodeReminder(const ReminderSpec& r, std::string* out);
void EncodeTombstone(TenantId tenant, std::string_view key, EndReason reason, int64_t at_ms,
                     std::string* out);

// Decodes and verifies. DataLoss with the reason on a short, inconsistent or
// corrupted record.
absl::StatusOr<RecordView> DecodeRecord(std::string_view bytes);
// kStructure checks the layout (format, type, lengths) but not the checksum:
// for a reader that only routes on the header and whose content is decoded
// and verified again before use (Engine::Poll, then ReadDue).
enum class Verify : uint8_t { kChecksum, kStructure };
absl::StatusOr<RecordView> DecodeRecord(std::string_view bytes, Verify verify);

// KeyHash (reminder.h) of (tenant, key).
KeyHash HashKey(TenantId tenant, std::string_view key);

}  // namespace rappel::server
