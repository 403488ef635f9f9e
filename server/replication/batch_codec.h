// Batch codec: one committed group of WriteBatches, with its replication
// position, as the bytes a primary ships to its standbys.
//
// Layout (all integers LEB128 varints unless said otherwise):
//   version (1 byte, kGroupCodecVersion)
//   prev.term prev.index pos.term pos.index commit_unix_ms
//   batch count, then per batch:
//     record count, per record: seq, size, bytes
//     range count,  per range:  lo, hi            (lo < hi)
//     op count,     per op:     flags (1 byte), key, then the fields the
//                               flags name, each as size + bytes
//   XXH64 (seed 0) of everything before it, 8 bytes little-endian.
//
// Decoding is strict: a wrong version, a bad checksum, a truncation,
// trailing bytes, a count larger than the bytes left could hold or a
// contradictory op is an error, never a crash or a huge allocation.
//
// Thread: pure functions, any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/commit_hook.h"
#include "server/store/write_batch.h"

namespace rappel::server {

inline constexpr uint8_t kGroupCodecVersion = 1;

struct ReplGroup {
  ReplPos prev;  // the position of the group before it (gap check)
  ReplPos pos;
  uint64_t commit_unix_ms = 0;                             // the primary's commit time (lag in ms)
  std::vector<std::shared_ptr<const WriteBatch>> batches;  // commit order
};

// The exact size of the encoding of `group`.
size_t EncodedGroupSize(const ReplGroup& group);
// Writes the encoding of `group` to `out`, which holds EncodedGroupSize
// bytes (a primary encodes straight into the frame it ships).
void EncodeGroupTo(const ReplGroup& group, uint8_t* out);
// Appends the encoding of `group` to `out`.
void EncodeGroup(const ReplGroup& group, std::string& out);
std::string EncodeGroup(const ReplGroup& group);

// DataLoss on a bad checksum; InvalidArgument on any other malformed input.
absl::StatusOr<ReplGroup> DecodeGroup(std::string_view bytes);

}  // namespace rappel::server
