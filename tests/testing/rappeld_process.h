// RappeldProcess: the built rappeld (RAPPELD_PATH, set by CMake) in a child
// process, for the tests of what only the executable does: its flags and
// configuration file, its signals, its output.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace rappel::testing {

class RappeldProcess {
 public:
  // Starts rappeld with `args`; returns once it printed its port, or exited.
  explicit RappeldProcess(const std::vector<std::string>& args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(out[1], STDERR_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(RAPPELD_PATH));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(RAPPELD_PATH, argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if (!ReadSome()) break;  // exited
      const std::string marker = "listening on 127.0.0.1:";
      if (auto at = output_.find(marker); at != std::string::npos) {
        port_ = static_cast<uint16_t>(std::atoi(output_.c_str() + at + marker.size()));
        if (port_ != 0) break;
      }
    }
  }
  ~RappeldProcess() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  // SIGTERM (if it started), the rest of its output, then its exit status.
  int Stop() {
    if (port_ != 0) kill(pid_, SIGTERM);
    while (ReadSome()) {
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Reads its output until it contains `text` after offset `from` (or
  // `timeout` passes, or it exits); true if it does.
  bool WaitForOutput(const std::string& text, size_t from = 0,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output_.find(text, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 50) > 0 && !ReadSome()) return false;
    }
    return true;
  }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& output() const { return output_; }

 private:
  bool ReadSome() {
    char buf[512];
    ssize_t n = read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool waited_ = false;
  uint16_t port_ = 0;
  std::string output_;
};

}  // namespace rappel::testing
