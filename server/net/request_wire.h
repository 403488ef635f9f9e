// The pieces every request family (reminder_requests, worker_requests,
// admin_requests, appointment_requests, rate_requests) shares: the reply
// callback, building a reply frame, and reading the wire tables that more
// than one family takes in or sends out (reminders, keys, per-item
// statuses). One copy, so that a reminder reads and a reply is framed the
// same way whichever family handles the request.
//
// Nothing here keeps state; any thread may call it (the families run on the
// io thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "protocol/framing.h"
#include "server/engine/reminder.h"

namespace rappel::server {

using FrameBytes = std::vector<uint8_t>;
// Called exactly once per request, maybe later (after a durable commit),
// with the reply frame and whether the connection must be closed after it.
using ReplyFn = std::function<void(FrameBytes, bool close)>;

// Finishes `b` as a frame with `body` of `type` answering request `id`, and
// copies it out.
FrameBytes Finish(flatbuffers::FlatBufferBuilder& b, uint64_t id, protocol::wire::Body type,
                  flatbuffers::Offset<void> body);

// An Error frame with `code` and `message`.
FrameBytes ErrorFrame(uint64_t request_id, protocol::wire::ErrorCode code,
                      const std::string& message);

// An absent string reads as empty.
inline std::string Str(const flatbuffers::String* s) {
  return s != nullptr ? s->str() : std::string();
}
inline size_t Size(const flatbuffers::String* s) { return s != nullptr ? s->size() : 0; }

// Reminders and keys, wire <-> engine. An unknown channel value stays
// unknown: the engine refuses the item.
ReminderSpec ReminderFromWire(const protocol::wire::Reminder& r);
flatbuffers::Offset<protocol::wire::Reminder> ReminderToWire(flatbuffers::FlatBufferBuilder& b,
                                                             const ReminderSpec& r);
// A missing key reads as tenant 0 and an empty key (which the engine refuses).
ReminderKey KeyFromWire(const protocol::wire::ReminderKey* k);
std::vector<ReminderKey> KeysFromWire(
    const flatbuffers::Vector<flatbuffers::Offset<protocol::wire::ReminderKey>>* list);

// Items of a batched request refused before the call (their index in the
// request, ascending, and why). PutBack merges them with the results of
// the others, so the reply has one result per item in request order.
using Refused = std::vector<std::pair<size_t, absl::Status>>;
template <typename Result>  // absl::Status or absl::StatusOr<...>
std::vector<Result> PutBack(const Refused& refused, std::vector<Result> done) {
  if (refused.empty()) return done;
  std::vector<Result> out;
  out.reserve(refused.size() + done.size());
  size_t r = 0;
  size_t d = 0;
  while (r < refused.size() || d < done.size()) {
    if (r < refused.size() && (refused[r].first == out.size() || d == done.size())) {
      out.push_back(Result(refused[r++].second));
    } else {
      out.push_back(std::move(done[d++]));
    }
  }
  return out;
}

// One wire Status per item, in order.
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<protocol::wire::Status>>> Statuses(
    flatbuffers::FlatBufferBuilder& b, const std::vector<absl::Status>& all);

// The copy budget. FlatBuffers lets many vector entries point at one table
// or string, so a small frame can name far more bytes than it carries (a
// 12 MiB frame whose 900 000 reminders share one 8 MiB payload names 7 TB).
// Before copying anything out, a family sums the bytes a request would copy
// (CopiedBytes) and refuses it past a budget of a few largest frames
// (CheckCopyBudget: InvalidArgument): room for clients that share strings
// (CreateSharedString) honestly, a bound on what one request can allocate.
size_t CopiedBytes(const flatbuffers::Vector<flatbuffers::Offset<protocol::wire::Reminder>>* list);
size_t CopiedBytes(
    const flatbuffers::Vector<flatbuffers::Offset<protocol::wire::ReminderKey>>* list);
absl::Status CheckCopyBudget(size_t copied, size_t max_frame_bytes);

}  // namespace rappel::server
