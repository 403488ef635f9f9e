#include "server/engine/log_record.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "xxhash.h"

namespace rappel::server {
namespace {

static_assert(std::endian::native == std::endian::little,
              "log records are written with memcpy of little-endian integers");

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void EncodeRecord(RecordType type, uint8_t code, TenantId tenant, int64_t due_ms,
                  int64_t expiry_ms, std::string_view key, std::string_view recipient,
                  std::string_view payload, std::string* out) {
  size_t start = out->size();
  out->reserve(start + kRecordOverheadBytes + key.size() + recipient.size() + payload.size());
  Put<uint8_t>(out, kRecordFormat);
  Put<uint8_t>(out, static_cast<uint8_t>(type));
  Put<uint8_t>(out, code);
  Put<uint8_t>(out, 0);
  Put<uint32_t>(out, tenant.value);
  Put<int64_t>(out, due_ms);
  Put<int64_t>(out, expiry_ms);
  Put<uint16_t>(out, static_cast<uint16_t>(key.size()));
  Put<uint16_t>(out, static_cast<uint16_t>(recipient.size()));
  Put<uint32_t>(out, static_cast<uint32_t>(payload.size()));
  out->append(key);
  out->append(recipient);
  out->append(payload);
  Put<uint64_t>(out, XXH3_64bits(out->data() + start, out->size() - start));
}

}  // namespace

ReminderSpec RecordView::ToSpec() const {
  return ReminderSpec{tenant,      std::string(key), channel,         std::string(recipient),
                      due_ms,      expiry_ms,        std::string(payload)};
}

void RecordView::CopyTo(ReminderSpec* out) const {
  out->tenant = tenant;
  out->key.assign(key);
  out->channel = channel;
  out->recipient.assign(recipient);
  out->due_ms = due_ms;
  out->expiry_ms = expiry_ms;
  out->payload.assign(payload);
}

void EncodeReminder(const ReminderSpec& r, std::string* out) {
  EncodeRecord(RecordType::kReminder, static_cast<uint8_t>(r.channel), r.tenant, r.due_ms,
               r.expiry_ms, r.key, r.recipient, r.payload, out);
}

void EncodeTombstone(TenantId tenant, std::string_view key, EndReason reason, int64_t at_ms,
                     std::string* out) {
  EncodeRecord(RecordType::kTombstone, static_cast<uint8_t>(reason), tenant, at_ms, 0, key, {}, {},
               out);
}

absl::StatusOr<RecordView> DecodeRecord(std::string_view bytes) {
  return DecodeRecord(bytes, Verify::kChecksum);
}

absl::StatusOr<RecordView> DecodeRecord(std::string_view bytes, Verify verify) {
  if (bytes.size() < kRecordOverheadBytes) {
    return absl::DataLossError(absl::StrCat("log record of ", bytes.size(), " bytes is truncated"));
  }
  const char* p = bytes.data();
  if (static_cast<uint8_t>(p[0]) != kRecordFormat) {
    return absl::DataLossError(
        absl::StrCat("log record has unknown format ", static_cast<int>(p[0])));
  }
  size_t key_len = Get<uint16_t>(p + 24);
  size_t recipient_len = Get<uint16_t>(p + 26);
  size_t payload_len = Get<uint32_t>(p + 28);
  if (kRecordOverheadBytes + key_len + recipient_len + payload_len != bytes.size()) {
    return absl::DataLossError("log record lengths do not add up to its size");
  }
  if (verify == Verify::kChecksum) {
    uint64_t sum = Get<uint64_t>(p + bytes.size() - 8);
    if (sum != XXH3_64bits(p, bytes.size() - 8)) {
      return absl::DataLossError("log record checksum mismatch");
    }
  }
  RecordView v;
  uint8_t type = static_cast<uint8_t>(p[1]);
  uint8_t code = static_cast<uint8_t>(p[2]);
  if (type == static_cast<uint8_t>(RecordType::kReminder)) {
    if (!IsValidChannel(code)) return absl::DataLossError("log record has an unknown channel");
    v.type = RecordType::kReminder;
    v.channel = static_cast<Channel>(code);
  } else if (type == static_cast<uint8_t>(RecordType::kTombstone)) {
    if (code < 1 || code > 3) return absl::DataLossError("tombstone has an unknown reason");
    v.type = RecordType::kTombstone;
    v.reason = static_cast<EndReason>(code);
  } else {
    return absl::DataLossError(absl::StrCat("log record has unknown type ", type));
  }
  v.tenant = TenantId{Get<uint32_t>(p + 4)};
  v.due_ms = Get<int64_t>(p + 8);
  v.expiry_ms = Get<int64_t>(p + 16);
  v.key = bytes.substr(32, key_len);
  v.recipient = bytes.substr(32 + key_len, recipient_len);
  v.payload = bytes.substr(32 + key_len + recipient_len, payload_len);
  return v;
}

KeyHash HashKey(TenantId tenant, std::string_view key) {
  XXH128_hash_t h = XXH3_128bits_withSeed(key.data(), key.size(), tenant.value);
  return KeyHash{h.low64, h.high64};
}

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kSms: return "sms";
    case Channel::kEmail: return "email";
    case Channel::kVoice: return "voice";
    case Channel::kPush: return "push";
  }
  return "unknown";
}

std::optional<Channel> ParseChannel(std::string_view name) {
  for (uint8_t c = 1; c <= kChannelCount; ++c) {
    if (ChannelName(static_cast<Channel>(c)) == name) return static_cast<Channel>(c);
  }
  return std::nullopt;
}

std::string_view EndReasonName(EndReason r) {
  switch (r) {
    case EndReason::kCancelled: return "cancelled";
    case EndReason::kCompleted: return "completed";
    case EndReason::kExpired: return "expired";
  }
  return "unknown";
}

}  // namespace rappel::server
