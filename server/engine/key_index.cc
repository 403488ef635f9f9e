#include "server/engine/key_index.h"

namespace rappel::server {

void KeyIndex::EnsureSlot(uint32_t h) {
  while ((h >> kChunkBits) >= meta_chunks_.size()) {
    // Zeroed by the kernel: seq 0 marks a handle that holds no live reminder.
    constexpr size_t kMetaBytes = sizeof(Meta) << kChunkBits;
    auto& chunk = chunks_.emplace_back(kMetaBytes + (sizeof(uint32_t) << kChunkBits));
    auto* base = static_cast<char*>(chunk.data());
    meta_chunks_.push_back(reinterpret_cast<Meta*>(base));
    shape_chunks_.push_back(reinterpret_cast<uint32_t*>(base + kMetaBytes));
  }
}

size_t KeyIndex::MemoryBytes() const {
  return meta_chunks_.size() * (sizeof(Meta) << kChunkBits) +
         shape_chunks_.size() * (sizeof(uint32_t) << kChunkBits) +
         set_.capacity() * (sizeof(uint32_t) + 1);
}

}  // namespace rappel::server
