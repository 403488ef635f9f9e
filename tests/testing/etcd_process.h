// EtcdProcess: Debian's etcd (/usr/bin/etcd, package etcd-server) as a
// one-member cluster in a child process, on free 127.0.0.1 ports (client and
// peer) with its own data directory, for the tests of what talks to etcd.
// Started healthy or not at all (ok()); stopped by its pid, never by name.
// Pause()/Resume() (SIGSTOP/SIGCONT) make an etcd that accepts connections
// but answers nothing; Stop() then Start() restarts it on the same ports and
// data (its leases survive, refreshed to their full TTL).
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace rappel::testing {

class EtcdProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";

  // Picks ports and starts etcd; a port taken between the pick and etcd's
  // bind (another test) is retried with new ports, a few times.
  EtcdProcess() {
    for (int attempt = 0; attempt < 3 && !ok_; ++attempt) {
      PickPorts();
      ok_ = Start();
    }
  }
  ~EtcdProcess() { Stop(); }
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // True once etcd answered healthy.
  bool ok() const { return ok_; }
  pid_t pid() const { return pid_; }
  uint16_t client_port() const { return client_port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  // The end of etcd's log, for a failing test's message.
  std::string LogTail(size_t bytes = 4000) const {
    std::ifstream in(dir_.Sub("etcd.log"));
    std::stringstream s;
    s << in.rdbuf();
    std::string all = s.str();
    return all.size() > bytes ? all.substr(all.size() - bytes) : all;
  }

  // Starts etcd on the ports already picked; waits (at most 20 s) for
  // GET /health to say {"health":"true"}. False if it exited or never did.
  bool Start() {
    if (pid_ > 0) return false;
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {kBinary,
                                     "--name",
                                     "n",
                                     "--data-dir",
                                     dir_.Sub("data"),
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     "n=" + peer,
                                     "--logger",
                                     "zap",
                                     "--log-outputs",
                                     "stderr"};
    const std::string log = dir_.Sub("etcd.log");
    // The environment minus ETCD_* (etcd reads its flags from them too).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).substr(0, 5) != "ETCD_") env_strings.emplace_back(*e);
    }
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      std::vector<char*> envp;
      for (auto& e : env_strings) envp.push_back(e.data());
      envp.push_back(nullptr);
      execve(kBinary, argv.data(), envp.data());
      _exit(127);
    }
    if (pid_ < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: port clash, bad flag
        pid_ = -1;
        return false;
      }
      if (Healthy()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop();
    return false;
  }

  // SIGTERM, then SIGKILL if it has not exited after 5 s; reaps it.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    if (paused_) kill(pid_, SIGCONT);  // a stopped process handles no SIGTERM
    paused_ = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGKILL at once (a crash), reaped.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    paused_ = false;
  }
  void Pause() {
    if (pid_ > 0 && kill(pid_, SIGSTOP) == 0) paused_ = true;
  }
  void Resume() {
    if (pid_ > 0 && kill(pid_, SIGCONT) == 0) paused_ = false;
  }

  // GET /health answered {"health":"true"} within 1 s.
  bool Healthy() const {
    CURL* c = curl_easy_init();
    if (c == nullptr) return false;
    std::string body;
    const std::string url = endpoint() + "/health";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    bool healthy =
        curl_easy_perform(c) == CURLE_OK && body.find("\"health\":\"true\"") != std::string::npos;
    curl_easy_cleanup(c);
    return healthy;
  }

  // Two distinct free loopback ports: both bound to port 0 at once, read
  // back, released. Another process may take one before etcd does (then
  // Start fails and is retried).
  static std::pair<uint16_t, uint16_t> FreePorts() {
    int socks[2] = {socket(AF_INET, SOCK_STREAM, 0), socket(AF_INET, SOCK_STREAM, 0)};
    uint16_t ports[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      if (socks[i] >= 0 && bind(socks[i], reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          getsockname(socks[i], reinterpret_cast<sockaddr*>(&a), &len) == 0) {
        ports[i] = ntohs(a.sin_port);
      }
    }
    for (int s : socks) {
      if (s >= 0) close(s);
    }
    return {ports[0], ports[1]};
  }

 private:
  static size_t Append(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
  }
  void PickPorts() { std::tie(client_port_, peer_port_) = FreePorts(); }

  TempDir dir_;
  pid_t pid_ = -1;
  bool ok_ = false;
  bool paused_ = false;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
};

}  // namespace rappel::testing
