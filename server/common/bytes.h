// Byte encodings of the stored records: fixed-width big-endian integers
// (keys sort by them), varints (LEB128: seven bits a byte, low bits first)
// and zigzag signed integers for the compact records of the plan (audit
// lines, appointment records), whose integers are mostly small.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace rappel::server {

// Appends the low `bytes` bytes of `v`, most significant first.
inline void PutBE(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
// The `bytes`-byte big-endian integer at `off` (the caller checks the size).
inline uint64_t GetBE(std::string_view s, size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(s[off + i]);
  return v;
}

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Takes a varint off the front of `in`; false (and `in` unspecified) when
// it is truncated or longer than 64 bits.
inline bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Takes `n` bytes off the front of `in` into `out`; false when there are
// fewer.
inline bool TakeBytes(std::string_view* in, uint64_t n, std::string* out) {
  if (n > in->size()) return false;
  out->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace rappel::server
