// The wire schema itself (protocol/rappel.fbs), as the binary schema flatc
// writes with `--binary --schema` at build time, compiled into this
// library. Read it with FlatBuffers reflection (flatbuffers/reflection.h):
// code that must treat every field of a kind alike (every string of a
// request, say) walks the schema instead of naming fields, so a field added
// to rappel.fbs is covered without a code change.
#pragma once

#include <cstdint>
#include <span>

#include "flatbuffers/reflection.h"

namespace rappel::protocol {

// The bytes of rappel.bfbs: a verified reflection::Schema buffer (checked
// by a test), alive for the whole program.
std::span<const uint8_t> BinarySchemaBytes();
// The same, as the reflection root.
inline const reflection::Schema& BinarySchema() {
  return *reflection::GetSchema(BinarySchemaBytes().data());
}

}  // namespace rappel::protocol
