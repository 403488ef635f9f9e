#include "server/net/request_wire.h"

#include "absl/strings/str_cat.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

namespace {

// See "The copy budget" in the header.
constexpr size_t kCopyBudgetFrames = 4;

}  // namespace

FrameBytes Finish(FlatBufferBuilder& b, uint64_t id, wire::Body type, Offset<void> body) {
  protocol::FinishFrame(b, id, type, body);
  return FrameBytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

FrameBytes ErrorFrame(uint64_t request_id, wire::ErrorCode code, const std::string& message) {
  FlatBufferBuilder b;
  auto status = wire::CreateStatus(b, code, b.CreateString(message));
  return Finish(b, request_id, wire::Body::Error, wire::CreateError(b, status).Union());
}

ReminderSpec ReminderFromWire(const wire::Reminder& r) {
  ReminderSpec spec;
  spec.tenant = TenantId{r.tenant()};
  spec.key = Str(r.key());
  spec.channel = static_cast<Channel>(r.channel());
  spec.recipient = Str(r.recipient());
  spec.due_ms = r.due_ms();
  spec.expiry_ms = r.expiry_ms();
  if (r.payload() != nullptr) {
    spec.payload.assign(reinterpret_cast<const char*>(r.payload()->data()), r.payload()->size());
  }
  return spec;
}

Offset<wire::Reminder> ReminderToWire(FlatBufferBuilder& b, const ReminderSpec& r) {
  auto key = b.CreateString(r.key);
  auto recipient = b.CreateString(r.recipient);
  auto payload =
      b.CreateVector(reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size());
  return wire::CreateReminder(b, r.tenant.value, key, static_cast<wire::Channel>(r.channel),
                              recipient, r.due_ms, r.expiry_ms, payload);
}

ReminderKey KeyFromWire(const wire::ReminderKey* k) {
  if (k == nullptr) return ReminderKey{};
  return ReminderKey{TenantId{k->tenant()}, Str(k->key())};
}

std::vector<ReminderKey> KeysFromWire(const flatbuffers::Vector<Offset<wire::ReminderKey>>* list) {
  std::vector<ReminderKey> keys;
  if (list != nullptr) {
    keys.reserve(list->size());
    for (const wire::ReminderKey* k : *list) keys.push_back(KeyFromWire(k));
  }
  return keys;
}

Offset<flatbuffers::Vector<Offset<wire::Status>>> Statuses(FlatBufferBuilder& b,
                                                           const std::vector<absl::Status>& all) {
  std::vector<Offset<wire::Status>> out;
  out.reserve(all.size());
  for (const auto& st : all) out.push_back(protocol::ToWireStatus(b, st));
  return b.CreateVector(out);
}

size_t CopiedBytes(const flatbuffers::Vector<Offset<wire::Reminder>>* list) {
  size_t n = 0;
  if (list == nullptr) return 0;
  for (const wire::Reminder* r : *list) {
    n += Size(r->key()) + Size(r->recipient()) +
         (r->payload() != nullptr ? r->payload()->size() : 0);
  }
  return n;
}

size_t CopiedBytes(const flatbuffers::Vector<Offset<wire::ReminderKey>>* list) {
  size_t n = 0;
  if (list == nullptr) return 0;
  for (const wire::ReminderKey* k : *list) n += Size(k->key());
  return n;
}

absl::Status CheckCopyBudget(size_t copied, size_t max_frame_bytes) {
  size_t budget = kCopyBudgetFrames * max_frame_bytes;
  if (copied <= budget) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the request names ", copied, " bytes of keys, recipients and payloads, above the limit of ",
      budget, " (its entries share data)"));
}

}  // namespace rappel::server
