// Framing of the rappel wire protocol (protocol/README.md).
//
// A frame on the wire is a 4-byte little-endian length N followed by N bytes
// holding a FlatBuffer whose root is wire::Frame, with file identifier
// "RPL1" (what FlatBufferBuilder::FinishSizePrefixed writes).
//
// A reader takes the 4-byte prefix first and calls DecodeFrameLength, which
// refuses a length above the limit before any buffer for the body is
// allocated; then it reads the N bytes after the prefix into the same buffer
// and calls VerifyFrame on all 4 + N bytes before touching any field. Both are pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/rappel_generated.h"

namespace rappel::protocol {

// The protocol version this build speaks (Hello.protocol_version).
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kLengthPrefixBytes = 4;
// The smallest possible frame body: root offset plus file identifier.
inline constexpr uint32_t kMinFrameBytes = 8;
// Largest frame body accepted before Hello: a Hello (version, token, client
// name) needs far less, and a client without a token cannot make the server
// hold more than this.
inline constexpr uint32_t kMaxHelloFrameBytes = 4096;

struct FrameLimits {
  // Largest frame body accepted. 16 MiB holds a batch of a few hundred
  // reminders with the largest payloads.
  uint32_t max_frame_bytes = 16u << 20;
  // FlatBuffers verifier limits: nesting depth and number of tables, so a
  // hostile frame cannot make verification itself expensive.
  uint32_t max_depth = 16;
  uint32_t max_tables = 1'000'000;
};

// Reads the length prefix (4 bytes at `prefix`). Errors:
//   ResourceExhausted: above limits.max_frame_bytes (wire code FrameTooLarge)
//   InvalidArgument:   below kMinFrameBytes (wire code MalformedFrame)
absl::StatusOr<uint32_t> DecodeFrameLength(const uint8_t* prefix, const FrameLimits& limits);

// Verifies a whole frame, length prefix included (`size` = 4 + N), and
// returns its root, which points into `data`. The prefix stays in the buffer
// because FlatBuffers aligns fields relative to its start. InvalidArgument
// (wire code MalformedFrame) when the prefix disagrees with `size`, the
// identifier is wrong, verification fails or the frame has no body.
absl::StatusOr<const wire::Frame*> VerifyFrame(const uint8_t* data, size_t size,
                                               const FrameLimits& limits);

// Finishes `builder` as a size-prefixed frame with the file identifier. The
// bytes to send are builder.GetBufferPointer() / GetSize().
void FinishFrame(flatbuffers::FlatBufferBuilder& builder, uint64_t request_id,
                 wire::Body body_type, flatbuffers::Offset<void> body);

// Status <-> wire. Canonical absl codes map one to one onto ErrorCode 0-16.
wire::ErrorCode ToWireCode(absl::StatusCode code);
flatbuffers::Offset<wire::Status> ToWireStatus(flatbuffers::FlatBufferBuilder& builder,
                                               const absl::Status& status);
// A missing Status table means Ok. Protocol-level codes (100 and up) map to
// the nearest canonical code, with the wire name in the message.
absl::Status FromWireStatus(const wire::Status* status);

}  // namespace rappel::protocol
