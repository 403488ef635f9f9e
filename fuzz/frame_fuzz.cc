// libFuzzer target for frame decoding (README.md, "Fuzzing").
//
// The input is the byte stream of one connection. It is read frame by frame
// exactly as rappeld's session (server/net/session.cc) and the client
// (client/blocking_client.cc) read it: the 4-byte prefix through
// DecodeFrameLength with the default limits, then the body into a buffer of
// exactly 4 + N bytes, then VerifyFrame. The stream ends where either would
// stop reading: too few bytes left (the peer went away) or a refused frame
// (the connection is closed).
//
// A frame that verifies is then
//   - read the way the request families read a request
//     (server/net/*_requests.cc, request_wire.cc) and the way the client
//     reads a reply or a Delivery, every field of every body, so that ASan
//     and UBSan watch the reads of verified data;
//   - unpacked whole with the object API, packed again with FinishFrame, and
//     the result must verify and unpack to the same values.
// Any broken invariant aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/framing.h"

namespace {

using namespace rappel::protocol;
using flatbuffers::Offset;

// Everything read ends up here, so that no read can be optimised away.
uint64_t g_sink = 0;

[[noreturn]] void Fail(const char* what, const absl::Status& status = absl::OkStatus()) {
  std::fprintf(stderr, "frame_fuzz: %s %s\n", what, status.ok() ? "" : status.ToString().c_str());
  std::abort();
}

void Sink(uint64_t v) { g_sink = g_sink * 31 + v; }
void Sink(const std::string& s) {
  Sink(s.size());
  for (char c : s) Sink(static_cast<uint8_t>(c));
}
void Sink(const absl::Status& st) {
  Sink(static_cast<uint64_t>(st.code()));
  Sink(std::string(st.message()));
}

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

// ---- The server's reads (the request families and request_wire) ----

// ReminderFromWire (server/net/request_wire.cc).
void ServerReminder(const wire::Reminder& r) {
  Sink(r.tenant());
  Sink(Str(r.key()));
  Sink(static_cast<uint8_t>(r.channel()));
  Sink(Str(r.recipient()));
  Sink(static_cast<uint64_t>(r.due_ms()));
  Sink(static_cast<uint64_t>(r.expiry_ms()));
  if (r.payload() != nullptr) {
    std::string payload(reinterpret_cast<const char*>(r.payload()->data()), r.payload()->size());
    Sink(payload);
  }
}

// KeyFromWire.
void ServerKey(const wire::ReminderKey* k) {
  if (k == nullptr) return;
  Sink(k->tenant());
  Sink(Str(k->key()));
}

// KeysFromWire.
void ServerKeys(const flatbuffers::Vector<Offset<wire::ReminderKey>>* list) {
  if (list == nullptr) return;
  for (const wire::ReminderKey* k : *list) ServerKey(k);
}

void ReadAsServer(const wire::Frame& frame) {
  Sink(frame.request_id());
  wire::Body type = frame.body_type();
  // The handler names unknown and forbidden types in its error messages.
  Sink(std::string(wire::EnumNameBody(type)));
  switch (type) {
    case wire::Body::Hello: {
      const wire::Hello* hello = frame.body_as_Hello();
      if (hello == nullptr) Fail("Hello frame without a Hello");
      Sink(hello->protocol_version());
      Sink(Str(hello->token()));
      Sink(Str(hello->client_name()));
      break;
    }
    case wire::Body::Schedule:
      if (const auto* list = frame.body_as_Schedule()->reminders()) {
        Sink(list->size());
        for (const wire::Reminder* r : *list) ServerReminder(*r);
      }
      break;
    case wire::Body::Cancel:
      ServerKeys(frame.body_as_Cancel()->keys());
      break;
    case wire::Body::Reschedule: {
      const auto* req = frame.body_as_Reschedule();
      ServerKey(req->key());
      Sink(static_cast<uint64_t>(req->due_ms()));
      break;
    }
    case wire::Body::Subscribe: {
      const auto* req = frame.body_as_Subscribe();
      if (req->channels() != nullptr) {
        for (auto c : *req->channels()) Sink(static_cast<uint8_t>(c));
      }
      Sink(req->max_in_flight());
      Sink(req->batch_size());
      break;
    }
    case wire::Body::Ack: {
      const auto* items = frame.body_as_Ack()->items();
      size_t n = items != nullptr ? items->size() : 0;
      for (size_t i = 0; i < n; ++i) {
        const wire::AckItem* item = items->Get(static_cast<flatbuffers::uoffset_t>(i));
        Sink(static_cast<uint8_t>(item->outcome()));
        Sink(item->lease_id());
        Sink(Str(item->detail()));
      }
      break;
    }
    case wire::Body::Inspect:
      ServerKey(frame.body_as_Inspect()->key());
      break;
    case wire::Body::DeadLetterList: {
      const auto* req = frame.body_as_DeadLetterList();
      Sink(req->tenant());
      Sink(req->limit());
      break;
    }
    case wire::Body::DeadLetterReplay:
      ServerKeys(frame.body_as_DeadLetterReplay()->keys());
      break;
    case wire::Body::Backup:
      Sink(Str(frame.body_as_Backup()->path()));
      break;
    case wire::Body::RateLimitSet:  // RateRequests::Handle
      if (const auto* list = frame.body_as_RateLimitSet()->limits()) {
        Sink(list->size());
        for (const wire::RateLimit* l : *list) {
          Sink(static_cast<uint8_t>(l->channel()));
          Sink(l->tenant());
          Sink(static_cast<uint8_t>(l->all_tenants()));
          Sink(l->count());
          Sink(l->period_ms());
          Sink(l->burst());
        }
      }
      break;
    case wire::Body::RateList:
      Sink(frame.body_as_RateList()->max_rows());
      break;
    default:
      break;  // Ping, Stats: no fields; the rest are not requests
  }
}

// ---- The client's reads (BlockingClient) ----

// FromWire(const wire::Reminder*) in the client.
void ClientReminder(const wire::Reminder* r) {
  if (r == nullptr) return;
  ServerReminder(*r);  // the same fields, read the same way
}

void ClientStatuses(const flatbuffers::Vector<Offset<wire::Status>>* v) {
  if (v == nullptr) return;
  for (const wire::Status* s : *v) Sink(FromWireStatus(s));
}

void ReadAsClient(const wire::Frame& frame) {
  Sink(frame.request_id());
  switch (frame.body_type()) {
    case wire::Body::HelloReply: {
      const auto* r = frame.body_as_HelloReply();
      Sink(r->protocol_version());
      Sink(Str(r->server_name()));
      Sink(static_cast<uint8_t>(r->role()));
      Sink(r->max_frame_bytes());  // the client's frame limit from then on
      Sink(r->max_payload_bytes());
      break;
    }
    case wire::Body::ScheduleReply:
      if (const auto* results = frame.body_as_ScheduleReply()->results()) {
        for (const wire::ScheduleResult* r : *results) {
          Sink(FromWireStatus(r->status()));
          Sink(static_cast<uint8_t>(r->outcome()));
        }
      }
      break;
    case wire::Body::CancelReply:
      ClientStatuses(frame.body_as_CancelReply()->results());
      break;
    case wire::Body::RescheduleReply:
      Sink(FromWireStatus(frame.body_as_RescheduleReply()->status()));
      break;
    case wire::Body::SubscribeReply:
      Sink(FromWireStatus(frame.body_as_SubscribeReply()->status()));
      break;
    case wire::Body::Delivery:
      if (const auto* messages = frame.body_as_Delivery()->messages()) {
        for (const wire::Message* m : *messages) {
          Sink(Str(m->message_id()));
          Sink(m->lease_id());
          Sink(m->attempt());
          Sink(static_cast<uint64_t>(m->lease_deadline_ms()));
          ClientReminder(m->reminder());
        }
      }
      break;
    case wire::Body::AckReply:
      ClientStatuses(frame.body_as_AckReply()->results());
      break;
    case wire::Body::StatsReply: {
      const wire::StatsReply* r = frame.body_as_StatsReply();
      Sink(r->pending());
      Sink(r->leased());
      Sink(r->dead_letters());
      Sink(r->log_records());
      Sink(r->store_used_bytes());
      Sink(r->commits());
      Sink(Str(r->fatal_error()));
      if (r->by_channel() != nullptr) {
        for (const wire::ChannelCount* c : *r->by_channel()) {
          Sink(static_cast<uint8_t>(c->channel()));
          Sink(c->pending());
        }
      }
      break;
    }
    case wire::Body::InspectReply: {
      const wire::InspectReply* r = frame.body_as_InspectReply();
      Sink(FromWireStatus(r->status()));
      ClientReminder(r->reminder());
      Sink(r->version());
      Sink(r->leased());
      break;
    }
    case wire::Body::DeadLetterListReply:
      if (const auto* letters = frame.body_as_DeadLetterListReply()->letters()) {
        for (const wire::DeadLetter* d : *letters) {
          ClientReminder(d->reminder());
          Sink(d->attempts());
          Sink(Str(d->last_detail()));
        }
      }
      break;
    case wire::Body::DeadLetterReplayReply:
      ClientStatuses(frame.body_as_DeadLetterReplayReply()->results());
      break;
    case wire::Body::BackupReply:
      Sink(FromWireStatus(frame.body_as_BackupReply()->status()));
      break;
    case wire::Body::RateLimitSetReply:
      Sink(FromWireStatus(frame.body_as_RateLimitSetReply()->status()));
      break;
    case wire::Body::RateListReply:  // codec::DecodeRateListReply
      if (const auto* rows = frame.body_as_RateListReply()->rows()) {
        for (const wire::RateRow* r : *rows) {
          if (const wire::RateLimit* l = r->limit()) {
            Sink(static_cast<uint8_t>(l->channel()));
            Sink(l->tenant());
            Sink(l->count());
            Sink(l->period_ms());
            Sink(l->burst());
          }
          Sink(r->waiting());
          Sink(r->late());
          Sink(r->expired());
        }
      }
      break;
    case wire::Body::Error:
      Sink(FromWireStatus(frame.body_as_Error()->status()));
      break;
    default:
      break;  // Pong: no fields; the rest are requests
  }
}

// ---- Round trip through the object API and FinishFrame ----

void RoundTrip(const wire::Frame& frame, const FrameLimits& limits) {
  // A body type this build does not know unpacks to nothing; the server
  // answers UnknownRequest without reading it.
  if (frame.body_type() > wire::Body::MAX) return;
  wire::FrameT unpacked;
  frame.UnPackTo(&unpacked);
  flatbuffers::FlatBufferBuilder b;
  FinishFrame(b, unpacked.request_id, unpacked.body.type, unpacked.body.Pack(b));
  // What FinishFrame writes must be a frame any peer accepts.
  auto length = DecodeFrameLength(b.GetBufferPointer(), limits);
  if (!length.ok()) Fail("re-packed frame: bad length prefix:", length.status());
  if (*length + kLengthPrefixBytes != b.GetSize()) Fail("re-packed frame: prefix != size");
  std::vector<uint8_t> copy(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  auto again = VerifyFrame(copy.data(), copy.size(), limits);
  if (!again.ok()) Fail("re-packed frame does not verify:", again.status());
  wire::FrameT repacked;
  (*again)->UnPackTo(&repacked);
  if (!(unpacked == repacked)) Fail("re-packed frame differs from the original");
}

// ---- One frame, as read from the stream ----

// False when the frame is refused: the session then closes the connection.
bool OnFrame(const uint8_t* prefix, const uint8_t* body, uint32_t length,
             const FrameLimits& limits) {
  // Session::ReadBody: a buffer of exactly prefix + body, so that ASan flags
  // any read past the frame.
  std::vector<uint8_t> frame(kLengthPrefixBytes + length);
  std::memcpy(frame.data(), prefix, kLengthPrefixBytes);
  std::memcpy(frame.data() + kLengthPrefixBytes, body, length);
  auto verified = VerifyFrame(frame.data(), frame.size(), limits);
  if (!verified.ok()) {
    if (!absl::IsInvalidArgument(verified.status())) {
      Fail("VerifyFrame: unexpected code", verified.status());
    }
    return false;
  }
  const wire::Frame* f = *verified;
  if (f == nullptr || f->body_type() == wire::Body::NONE || f->body() == nullptr) {
    Fail("VerifyFrame accepted a frame without a body");
  }
  if (reinterpret_cast<const uint8_t*>(f) < frame.data() ||
      reinterpret_cast<const uint8_t*>(f) >= frame.data() + frame.size()) {
    Fail("VerifyFrame returned a root outside the frame");
  }
  ReadAsServer(*f);
  ReadAsClient(*f);
  RoundTrip(*f, limits);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const FrameLimits limits;  // the defaults, as rappeld and the client start with
  size_t pos = 0;
  while (size - pos >= kLengthPrefixBytes) {
    const uint8_t* prefix = data + pos;
    auto length = DecodeFrameLength(prefix, limits);
    uint32_t raw = static_cast<uint32_t>(prefix[0]) | static_cast<uint32_t>(prefix[1]) << 8 |
                   static_cast<uint32_t>(prefix[2]) << 16 |
                   static_cast<uint32_t>(prefix[3]) << 24;
    if (!length.ok()) {
      // Refused before any allocation, with the code the session maps to a
      // wire error: ResourceExhausted -> FrameTooLarge, else MalformedFrame.
      bool too_large = raw > limits.max_frame_bytes;
      if (too_large ? !absl::IsResourceExhausted(length.status())
                    : !(raw < kMinFrameBytes && absl::IsInvalidArgument(length.status()))) {
        Fail("DecodeFrameLength: wrong refusal", length.status());
      }
      return 0;  // the connection is closed
    }
    if (*length != raw || *length < kMinFrameBytes || *length > limits.max_frame_bytes) {
      Fail("DecodeFrameLength accepted a length outside the limits");
    }
    pos += kLengthPrefixBytes;
    if (size - pos < *length) return 0;  // truncated: the peer went away mid-frame
    if (!OnFrame(prefix, data + pos, *length, limits)) return 0;
    pos += *length;
  }
  return 0;
}
