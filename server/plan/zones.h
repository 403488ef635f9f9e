// The tenant time zones (IANA names, Howard Hinnant's date/tz on the
// system tzdata), looked up once per thread: locate_zone searches the whole
// database. Shared by rendering, sending hours and the book.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "date/tz.h"

namespace rappel::server::plan {

// The zone named `name`. InvalidArgument for an unknown name, an empty one,
// or "localtime" (the host's zone, not a place: a tenant's times never
// depend on the machine). Unknown names are not cached (an error path, and
// unbounded).
absl::StatusOr<const date::time_zone*> FindZone(std::string_view name);

}  // namespace rappel::server::plan
