// StartRappeldChild: rappeld in a forked child process on 127.0.0.1:0, for
// the tests that kill it with SIGKILL. The child never returns.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "server/main/rappeld.h"

namespace rappel::testing {

// Returns the child's pid and port ({-1, 0} if the fork failed; port 0 if
// rappeld did not start). `tweak` adjusts the options before the start.
inline std::pair<pid_t, uint16_t> StartRappeldChild(
    const std::string& path, const std::function<void(server::RappeldOptions&)>& tweak = {}) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, 0};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    asio::io_context io;
    server::RappeldOptions options;
    options.engine.store.path = path;
    options.server.port = 0;
    if (tweak) tweak(options);
    auto d = server::Rappeld::Start(io, options);
    if (!d.ok()) _exit(2);
    uint16_t port = (*d)->port();
    if (write(fds[1], &port, sizeof port) != sizeof port) _exit(3);
    io.run();
    _exit(0);
  }
  close(fds[1]);
  uint16_t port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) port = 0;
  close(fds[0]);
  return {pid, port};
}

// Kills and reaps the child if a check fails before the round ends (an
// orphaned rappeld would hold the test's output open).
struct ChildGuard {
  pid_t pid;
  bool reaped = false;
  void Reap() {
    int status = 0;
    waitpid(pid, &status, 0);
    reaped = true;
  }
  ~ChildGuard() {
    if (reaped) return;
    kill(pid, SIGKILL);
    Reap();
  }
};

}  // namespace rappel::testing
