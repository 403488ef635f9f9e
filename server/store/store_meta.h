// The keys and encodings of a store's meta database, shared by the Store
// and by the functions that read a closed store's files (store_files.h).
// Internal to server/store/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/commit_hook.h"

namespace rappel::server::store_meta {

inline constexpr char kSchemaVersion[] = "schema_version";
inline constexpr char kNextSeq[] = "next_seq";
inline constexpr char kReplPos[] = "repl_pos";
inline constexpr char kReplTerms[] = "repl_terms";

// Fixed-width little-endian integers in meta, so a store moves between hosts.
inline std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}
inline std::optional<uint64_t> DecodeU64(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

// A ReplPos in meta: term then index, fixed-width little-endian. The term
// history is a run of them.
inline void AppendReplPos(std::string& out, ReplPos pos) {
  out += EncodeU64(pos.term);
  out += EncodeU64(pos.index);
}
inline std::optional<ReplPos> DecodeReplPos(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  return ReplPos{*DecodeU64(s.substr(0, 8)), *DecodeU64(s.substr(8))};
}
inline std::optional<std::vector<ReplPos>> DecodeReplTerms(std::string_view s) {
  if (s.size() % 16 != 0) return std::nullopt;
  std::vector<ReplPos> out;
  for (size_t i = 0; i < s.size(); i += 16) out.push_back(*DecodeReplPos(s.substr(i, 16)));
  return out;
}

}  // namespace rappel::server::store_meta
