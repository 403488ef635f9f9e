// The system clock in unix milliseconds: the only clock read by the server.
// Everything below the server's main takes time as an argument or as a
// std::function<int64_t()>, so tests give a fake one.
#pragma once

#include <chrono>
#include <cstdint>

namespace rappel::server {

inline int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace rappel::server
