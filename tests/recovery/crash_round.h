// What every round of the appointment crash tests repeats: a client of the
// rappeld child, the clinic's objects on the first round, and the killer
// that ends the round.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "rappel/client.h"

namespace rappel::testing {

// A blocking client of the rappeld on `port` (3 s per request).
inline absl::StatusOr<std::unique_ptr<client::BlockingClient>> ConnectTo(uint16_t port) {
  client::Options o;
  o.port = port;
  o.timeout = std::chrono::milliseconds(3000);
  return client::BlockingClient::Connect(o);
}

// Tenant 1 with `tenant_json`, calendar "cal", on-site type "t" and patient
// "p" (a mobile number). Call under ASSERT_NO_FATAL_FAILURE.
inline void PutClinic(client::BlockingClient& platform, const std::string& tenant_json) {
  using client::ObjectKind;
  ASSERT_TRUE(platform.PutObject(ObjectKind::kTenant, 1, "", tenant_json).ok());
  ASSERT_TRUE(platform.PutObject(ObjectKind::kCalendar, 1, "cal", "{}").ok());
  ASSERT_TRUE(platform.PutObject(ObjectKind::kAppointmentType, 1, "t", R"({"mode": "on_site"})").ok());
  ASSERT_TRUE(platform.PutObject(ObjectKind::kPatient, 1, "p",
                                 R"({"first_name": "Zoë", "mobile": "+33600000000"})").ok());
}

// SIGKILLs `pid` after `delay_ms` and then sets `killed`; join it.
inline std::thread KillAfter(pid_t pid, int delay_ms, std::atomic<bool>* killed) {
  return std::thread([pid, delay_ms, killed] {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    *killed = true;
  });
}

}  // namespace rappel::testing
