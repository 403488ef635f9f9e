// ShardCluster: etcd and N rappeld shard nodes (RAPPELD_PATH) in child
// processes on free loopback ports, for the failover tests. Each node writes
// its output to a file of its own (a pipe nobody reads would stall it), its
// store in a directory of its own; nodes are killed, paused, resumed and
// restarted by pid. An admin token "admin-secret" and a replica token
// "replica-secret" are accepted by every node.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "rappel/client.h"
#include "server/coord/etcd_client.h"
#include "tests/testing/etcd_process.h"
#include "tests/testing/temp_dir.h"

namespace rappel::testing {

class ShardCluster {
 public:
  static constexpr const char* kShard = "s1";
  static constexpr const char* kAdminToken = "admin-secret";

  struct Node {
    std::string name;
    uint16_t client_port = 0;
    uint16_t replication_port = 0;
    std::string dir;
    std::string log;
    pid_t pid = -1;
  };

  // `extra` is added to every node's command line (--sync-standbys 1, ...).
  ShardCluster(int nodes, std::vector<std::string> extra, int64_t lease_ttl_s = 2)
      : extra_(std::move(extra)), ttl_s_(lease_ttl_s) {
    if (!etcd_.ok()) return;
    std::ofstream(dir_.Sub("replica.token")) << "replica-secret\n";
    for (int i = 0; i < nodes; ++i) {
      Node n;
      n.name = "n" + std::to_string(i + 1);
      auto [client, replication] = EtcdProcess::FreePorts();
      n.client_port = client;
      n.replication_port = replication;
      n.dir = dir_.Sub(n.name);
      n.log = dir_.Sub(n.name + ".log");
      nodes_.push_back(std::move(n));
    }
    server::coord::EtcdOptions eo;
    eo.endpoints = {etcd_.endpoint()};
    etcd_client_ = std::make_unique<server::coord::EtcdClient>(eo);
  }
  ~ShardCluster() {
    for (size_t i = 0; i < nodes_.size(); ++i) Kill(static_cast<int>(i));
  }

  bool ok() const { return etcd_.ok(); }
  EtcdProcess& etcd() { return etcd_; }
  const Node& node(int i) const { return nodes_[static_cast<size_t>(i)]; }
  int size() const { return static_cast<int>(nodes_.size()); }

  std::vector<std::string> Args(int i) const {
    const Node& n = node(i);
    std::vector<std::string> args = {
        "--data-dir", n.dir, "--port", std::to_string(n.client_port),
        "--replication-port", std::to_string(n.replication_port),
        "--replication-token-file", dir_.Sub("replica.token"), "--replication-node", n.name,
        "--shard", kShard, "--etcd-endpoints", etcd_.endpoint(), "--lease-ttl-s",
        std::to_string(ttl_s_), "--token", std::string(kAdminToken) + "=admin", "--token",
        "replica-secret=replica"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    return args;
  }

  void Start(int i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    if (n.pid > 0) return;
    std::vector<std::string> args = Args(i);
    n.pid = fork();
    if (n.pid == 0) {
      int fd = open(n.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(RAPPELD_PATH));
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(RAPPELD_PATH, argv.data());
      _exit(127);
    }
  }
  // SIGKILL, reaped: a crash.
  void Kill(int i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    if (n.pid <= 0) return;
    kill(n.pid, SIGKILL);
    waitpid(n.pid, nullptr, 0);
    n.pid = -1;
  }
  // SIGTERM; its exit status (-1 when it had to be killed after 15 s).
  int Stop(int i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    if (n.pid <= 0) return -1;
    kill(n.pid, SIGTERM);
    kill(n.pid, SIGCONT);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill(i);
    return -1;
  }
  void Pause(int i) { kill(node(i).pid, SIGSTOP); }
  void Resume(int i) { kill(node(i).pid, SIGCONT); }
  bool Running(int i) {
    Node& n = nodes_[static_cast<size_t>(i)];
    if (n.pid <= 0) return false;
    if (waitpid(n.pid, nullptr, WNOHANG) == n.pid) {
      n.pid = -1;
      return false;
    }
    return true;
  }

  std::string Log(int i) const {
    std::ifstream in(node(i).log);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  size_t LogSize(int i) const { return Log(i).size(); }
  // Waits until node i's log holds `text` after offset `from`.
  bool WaitForLog(int i, const std::string& text, size_t from,
                  std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Log(i).find(text, from) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::string Logs() const {
    std::string all;
    for (int i = 0; i < size(); ++i) {
      std::string log = Log(i);
      if (log.size() > 12000) log = log.substr(log.size() - 12000);
      all += "---- " + node(i).name + "\n" + log;
    }
    // And what etcd holds for the shard.
    auto range = etcd_client_->Range(std::string("/rappel/") + kShard + "/", true);
    all += "---- etcd\n";
    if (!range.ok()) all += std::string(range.status().message()) + "\n";
    for (const auto& kv : range.ok() ? range->kvs : std::vector<server::coord::EtcdKv>{}) {
      all += kv.key + " = " + kv.value + " (lease " + std::to_string(kv.lease) + ")\n";
    }
    return all;
  }

  // The node etcd's leader key names, and its term; -1 when none.
  std::pair<int, uint64_t> EtcdLeader() const {
    auto range = etcd_client_->Range(std::string("/rappel/") + kShard + "/leader");
    if (!range.ok() || range->kvs.empty()) return {-1, 0};
    auto j = nlohmann::json::parse(range->kvs.front().value, nullptr, false);
    if (!j.is_object()) return {-1, 0};
    std::string name = j.value("node", "");
    for (int i = 0; i < size(); ++i) {
      if (node(i).name == name) return {i, j.value("term", uint64_t{0})};
    }
    return {-1, 0};
  }

  client::Options ClientOptions(int i) const {
    client::Options o;
    o.port = node(i).client_port;
    o.token = kAdminToken;
    o.timeout = std::chrono::milliseconds(3000);
    o.reconnect.enabled = false;
    // The tests pick the node themselves and must know which one answered.
    o.follow_leader = client::FollowLeader::kNever;
    return o;
  }

 private:
  TempDir dir_;
  EtcdProcess etcd_;
  std::vector<std::string> extra_;
  int64_t ttl_s_;
  std::vector<Node> nodes_;
  std::unique_ptr<server::coord::EtcdClient> etcd_client_;
};

}  // namespace rappel::testing
