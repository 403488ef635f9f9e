#include "server/plan/zones.h"

#include <string>

#include "absl/container/flat_hash_map.h"

namespace rappel::server::plan {

absl::StatusOr<const date::time_zone*> FindZone(std::string_view name) {
  thread_local absl::flat_hash_map<std::string, const date::time_zone*> cache;
  absl::string_view key(name.data(), name.size());
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (name.empty()) return absl::InvalidArgumentError("empty time zone name");
  if (name == "localtime") return absl::InvalidArgumentError("unknown time zone \"localtime\"");
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(std::string(name));
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("unknown time zone \"" + std::string(name) + "\"");
  }
  cache.emplace(std::string(name), zone);
  return zone;
}

}  // namespace rappel::server::plan
