// group_fuzz: the bytes a standby receives as one replication group.
// Each input is decoded twice: as is (almost always a checksum mismatch)
// and sealed with a valid checksum, so that the decoder's parsing is
// reached. Checks: no crash, no sanitizer report, only InvalidArgument or
// DataLoss as errors, and a decoded group encodes to bytes that decode to
// the same encoding again.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/replication/batch_codec.h"

using rappel::server::DecodeGroup;
using rappel::server::EncodeGroup;

namespace {

void Check(std::string_view bytes) {
  auto group = DecodeGroup(bytes);
  if (!group.ok()) {
    if (!absl::IsInvalidArgument(group.status()) && !absl::IsDataLoss(group.status())) abort();
    return;
  }
  std::string again = EncodeGroup(*group);
  auto redecoded = DecodeGroup(again);
  if (!redecoded.ok() || EncodeGroup(*redecoded) != again) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  Check(raw);
  std::string sealed(raw);
  uint64_t h = XXH64(sealed.data(), sealed.size(), 0);
  for (int i = 0; i < 8; ++i) sealed.push_back(static_cast<char>(h >> (8 * i)));
  Check(sealed);
  return 0;
}
