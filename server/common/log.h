// One line to rappeld's log (stderr, "rappeld: " first), for events an
// operator must see: refusals, replaced data, closed offenders. Nothing per
// message. Any thread: one fprintf per line, so lines do not interleave.
#pragma once

#include <cstdio>
#include <string_view>

namespace rappel::server {

inline void LogLine(std::string_view line) {
  std::fprintf(stderr, "rappeld: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace rappel::server
