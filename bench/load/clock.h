// The clocks a load run reads, shared by rappel-load and the peer clients
// (bench/peers/): wall time for due times and lags, the steady clock for
// durations, and this process's CPU time to tell whether the load
// generator itself was the limit (bench/peers/compare reports it).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>

namespace rappel::bench {

using Steady = std::chrono::steady_clock;

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline double NowUs() {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
}
inline double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of this process so far, all threads, user + system.
inline double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace rappel::bench
