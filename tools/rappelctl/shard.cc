#include "tools/rappelctl/shard.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "server/coord/etcd_client.h"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;
namespace coord = server::coord;

constexpr int kExitNoLeader = 3;

class ShardCommand final : public CommandGroup {
 public:
  explicit ShardCommand(CLI::App& app) {
    shard_cmd_ = app.add_subcommand(
        "shard", "a replicated shard from etcd: leader, term, each node's role, position and lag");
    shard_cmd_
        ->add_option("--etcd-endpoints", endpoints_,
                     "etcd's client URLs, comma-separated (default: RAPPEL_ETCD_ENDPOINTS)");
    shard_cmd_->add_option("--shard", shard_, "the shard's name (default: RAPPEL_SHARD)");
    shard_cmd_->add_option("--etcd-prefix", prefix_, "rappeld's [shard] etcd_prefix")
        ->capture_default_str();
    AddWatchOptions(shard_cmd_, &watch_seconds_, &watch_count_);
  }

  bool Chosen() const override { return shard_cmd_->parsed(); }
  bool UsesServer() const override { return false; }

  int Prepare() override {
    if (endpoints_.empty()) {
      if (const char* env = std::getenv("RAPPEL_ETCD_ENDPOINTS")) endpoints_ = env;
    }
    if (shard_.empty()) {
      if (const char* env = std::getenv("RAPPEL_SHARD")) shard_ = env;
    }
    if (endpoints_.empty() || shard_.empty()) {
      return Usage("shard needs etcd's endpoints and the shard's name (--etcd-endpoints or "
                   "RAPPEL_ETCD_ENDPOINTS, --shard or RAPPEL_SHARD)");
    }
    return 0;
  }

  int Run(client::BlockingClient&, bool json) override { return RunWithoutServer(json); }

  int RunWithoutServer(bool json) override {
    coord::EtcdOptions options;
    for (auto e : absl::StrSplit(endpoints_, ',', absl::SkipWhitespace())) {
      options.endpoints.emplace_back(e);
    }
    coord::EtcdClient etcd(options);
    auto once = [&] { return Once(etcd, json, watch_seconds_ > 0 ? -1 : 2); };
    if (watch_seconds_ <= 0) return once();
    return Watch(watch_seconds_, watch_count_, json, once);
  }

 private:
  int Once(coord::EtcdClient& etcd, bool json, int indent) {
    const std::string base = prefix_ + "/" + shard_ + "/";
    auto leader_kv = etcd.Range(base + "leader");
    if (!leader_kv.ok()) return Fail(leader_kv.status());
    auto nodes_kv = etcd.Range(base + "nodes/", /*prefix=*/true);
    if (!nodes_kv.ok()) return Fail(nodes_kv.status());
    Json leader = Json::object();
    if (!leader_kv->kvs.empty()) {
      leader = Json::parse(leader_kv->kvs.front().value, nullptr, false);
      if (!leader.is_object()) leader = Json::object();
    }
    const std::string leader_node = leader.value("node", "");
    std::vector<Json> nodes;
    uint64_t leader_index = 0;
    for (const auto& kv : nodes_kv->kvs) {
      Json n = Json::parse(kv.value, nullptr, false);
      if (!n.is_object()) continue;
      if (n.value("node", "") == leader_node) leader_index = n.value("pos_index", uint64_t{0});
      nodes.push_back(std::move(n));
    }
    Json out_nodes = Json::array();
    Table table({"NODE", "ROLE", "TERM", "POSITION", "LAG", "CLIENT", "REPLICATION"});
    for (const Json& n : nodes) {
      const std::string name = n.value("node", "");
      uint64_t index = n.value("pos_index", uint64_t{0});
      bool leads = !leader_node.empty() && name == leader_node;
      // Lag is known only against a live leader's published position.
      Json lag = leader_node.empty() ? Json(nullptr)
                                     : Json(leader_index > index ? leader_index - index : 0);
      std::string role = leads ? "leader" : "standby";
      out_nodes.push_back({{"node", name},
                           {"role", role},
                           {"term", n.value("term", uint64_t{0})},
                           {"pos_term", n.value("pos_term", uint64_t{0})},
                           {"pos_index", index},
                           {"lag", lag},
                           {"client", n.value("client", "")},
                           {"replication", n.value("replication", "")}});
      table.Add({name, role, std::to_string(n.value("term", uint64_t{0})),
                 std::to_string(n.value("pos_term", uint64_t{0})) + "/" + std::to_string(index),
                 lag.is_null() ? "-" : std::to_string(lag.get<uint64_t>()),
                 n.value("client", ""), n.value("replication", "")});
    }
    if (json) {
      Json out{{"shard", shard_},
               {"leader", leader_node.empty() ? Json(nullptr) : Json(leader_node)},
               {"term", leader.value("term", uint64_t{0})},
               {"nodes", out_nodes}};
      std::printf("%s\n", out.dump(indent).c_str());
    } else {
      if (leader_node.empty()) {
        std::printf("shard %s: no leader\n", shard_.c_str());
      } else {
        std::printf("shard %s: leader %s, term %llu\n", shard_.c_str(), leader_node.c_str(),
                    static_cast<unsigned long long>(leader.value("term", uint64_t{0})));
      }
      if (!table.empty()) table.Print();
    }
    std::fflush(stdout);
    return leader_node.empty() ? kExitNoLeader : 0;
  }

  CLI::App* shard_cmd_ = nullptr;
  std::string endpoints_;
  std::string shard_;
  std::string prefix_ = "/rappel";
  double watch_seconds_ = 0;
  uint32_t watch_count_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddShardCommand(CLI::App& app) {
  return std::make_unique<ShardCommand>(app);
}

}  // namespace rappel::ctl
