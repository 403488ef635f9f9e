// FakeClock: time that moves only when a test says so.
#pragma once

#include <cstdint>
#include <functional>

namespace rappel::testing {

class FakeClock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t now_ms() const { return now_ms_; }
  void Advance(int64_t ms) { now_ms_ += ms; }
  void Set(int64_t ms) { now_ms_ = ms; }
  std::function<int64_t()> AsFunction() {
    return [this] { return now_ms_; };
  }

 private:
  int64_t now_ms_;
};

}  // namespace rappel::testing
