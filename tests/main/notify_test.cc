// rappeld's notifications to systemd (sd_notify, Type=notify), without
// systemd: the test binds the unix datagram socket systemd would, starts the
// built rappeld with NOTIFY_SOCKET pointing at it, and reads what arrives.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rappel/client.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The socket systemd listens on for a Type=notify service.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    bound_ = fd_ >= 0 && path.size() < sizeof a.sun_path &&
             bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }
  // The next message, or "" when none arrives within `timeout`.
  std::string Next(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// The built rappeld with NOTIFY_SOCKET set, its output to a file; killed
// by its pid if the test did not stop it.
class NotifiedRappeld {
 public:
  NotifiedRappeld(const std::string& notify_socket, const std::string& log,
                  const std::vector<std::string>& args) {
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
      setenv("NOTIFY_SOCKET", notify_socket.c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(RAPPELD_PATH)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(RAPPELD_PATH, argv.data());
      _exit(127);
    }
  }
  ~NotifiedRappeld() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Its exit status, waiting at most `timeout` (then SIGKILL: -1).
  int Wait(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      usleep(10'000);
    }
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool waited_ = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(RappeldNotifyTest, ReadyOnceServingThenReloadingAndStopping) {
  rappel::testing::TempDir dir;
  NotifySocket notify(dir.Sub("notify.sock"));
  ASSERT_TRUE(notify.bound()) << std::strerror(errno);
  std::string config = dir.Sub("rappeld.toml");
  const std::string good = "[server]\nport = 0\n[store]\ndata_dir = \"db\"\n";
  WriteFile(config, good);
  std::string log = dir.Sub("rappeld.log");
  NotifiedRappeld rappeld(notify.path(), log, {"--config", config});

  // Until READY=1, only what it is doing; the port is learnt from READY's
  // STATUS, so the connection below proves the listener accepted by then.
  std::string message = notify.Next();
  EXPECT_THAT(message, HasSubstr("STATUS=recovering the store"));
  EXPECT_THAT(message, Not(HasSubstr("READY=1")));
  while (!message.empty() && message.find("READY=1") == std::string::npos) message = notify.Next();
  ASSERT_THAT(message, HasSubstr("READY=1")) << ReadFile(log);
  const std::string serving = "STATUS=serving on 127.0.0.1:";
  auto at = message.find(serving);
  ASSERT_NE(at, std::string::npos) << message;
  client::Options o;
  o.port = static_cast<uint16_t>(std::atoi(message.c_str() + at + serving.size()));
  o.timeout = std::chrono::milliseconds(5000);
  auto c = client::BlockingClient::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status() << "\n" << message;
  EXPECT_TRUE((*c)->Ping().ok());

  // SIGHUP: RELOADING=1 (with the monotonic time systemd 253 asks for),
  // then READY=1 with the outcome, applied or refused.
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  message = notify.Next();
  EXPECT_THAT(message, HasSubstr("RELOADING=1"));
  EXPECT_THAT(message, HasSubstr("MONOTONIC_USEC="));
  message = notify.Next();
  EXPECT_THAT(message, HasSubstr("READY=1"));
  EXPECT_THAT(message, HasSubstr("last SIGHUP: configuration reloaded"));

  WriteFile(config, "[server]\nport = \"seven\"\n");
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  EXPECT_THAT(notify.Next(), HasSubstr("RELOADING=1"));
  message = notify.Next();
  EXPECT_THAT(message, HasSubstr("READY=1"));
  EXPECT_THAT(message, HasSubstr("last SIGHUP: configuration refused"));
  EXPECT_TRUE((*c)->Ping().ok()) << "a refused reload leaves it serving";

  ASSERT_EQ(kill(rappeld.pid(), SIGTERM), 0);
  EXPECT_THAT(notify.Next(), HasSubstr("STOPPING=1"));
  EXPECT_EQ(rappeld.Wait(), 0) << ReadFile(log);
}

TEST(RappeldNotifyTest, AFailedStartIsNeverReady) {
  rappel::testing::TempDir dir;
  NotifySocket notify(dir.Sub("notify.sock"));
  ASSERT_TRUE(notify.bound()) << std::strerror(errno);
  // The store's directory is a regular file: the store cannot open.
  std::string not_a_dir = dir.Sub("not-a-dir");
  WriteFile(not_a_dir, "x");
  std::string log = dir.Sub("rappeld.log");
  NotifiedRappeld rappeld(notify.path(), log, {"--port", "0", "--data-dir", not_a_dir});
  EXPECT_EQ(rappeld.Wait(), 1) << ReadFile(log);
  std::string all;
  for (std::string m = notify.Next(std::chrono::milliseconds(200)); !m.empty();
       m = notify.Next(std::chrono::milliseconds(200))) {
    all += m + "\n";
  }
  EXPECT_THAT(all, HasSubstr("STATUS=failed to start: "));
  EXPECT_THAT(all, Not(HasSubstr("READY=1")));
}

}  // namespace
}  // namespace rappel::server
