#include "server/main/service_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "server/common/log.h"

namespace rappel::server {
namespace {

void Notify(std::string_view state, std::string_view status) {
  // One line: a newline in a message would start another assignment.
  std::string line(status);
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  std::string message(state);
  if (!message.empty()) message += '\n';
  message += "STATUS=" + line;
  int rc = sd_notify(/*unset_environment=*/0, message.c_str());
  // 0: no NOTIFY_SOCKET, nothing to do. Negative: the manager could not be
  // told, which it will see as a start or reload that never ends.
  if (rc < 0) LogError(std::string("sd_notify failed: ") + std::strerror(-rc));
}

}  // namespace

void NotifyStatus(std::string_view status) { Notify("", status); }

void NotifyReady(std::string_view status) { Notify("READY=1", status); }

void NotifyReloading(std::string_view status) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1'000'000 +
                  static_cast<uint64_t>(now.tv_nsec) / 1'000;
  Notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), status);
}

void NotifyStopping(std::string_view status) { Notify("STOPPING=1", status); }

}  // namespace rappel::server
