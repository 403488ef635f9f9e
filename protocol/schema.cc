#include "protocol/schema.h"

#include <cstddef>

namespace rappel::protocol {

// Defined in the generated rappel_bfbs.cc (protocol/CMakeLists.txt).
extern const unsigned char kRappelBfbs[];
extern const size_t kRappelBfbs_size;

std::span<const uint8_t> BinarySchemaBytes() { return {kRappelBfbs, kRappelBfbs_size}; }

}  // namespace rappel::protocol
