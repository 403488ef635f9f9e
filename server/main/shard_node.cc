#include "server/main/shard_node.h"

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace rappel::server {
namespace {

coord::EtcdOptions EtcdOf(const ShardNodeOptions& o) {
  coord::EtcdOptions e;
  e.endpoints = o.etcd_endpoints;
  // A call must end well inside the lease's renewal period (TTL / 3).
  e.request_timeout_ms = std::min<int64_t>(1000, o.lease_ttl_s * 1000 / 4);
  e.connect_timeout_ms = std::min<int64_t>(300, e.request_timeout_ms);
  return e;
}

constexpr auto kTick = std::chrono::milliseconds(20);

}  // namespace

ShardNode::ShardNode(asio::io_context& io, ShardNodeOptions options, ShardRoles roles)
    : io_(io),
      options_(std::move(options)),
      roles_(std::move(roles)),
      etcd_(EtcdOf(options_)),
      tick_(io) {
  coord::ElectionOptions eo;
  eo.prefix = options_.etcd_prefix;
  eo.shard = options_.shard;
  eo.node = options_.node;
  eo.client = options_.client;
  eo.replication = options_.replication;
  eo.ttl_s = options_.lease_ttl_s;
  coord::ElectionCallbacks cb;
  cb.position = [this] {
    std::lock_guard lock(mu_);
    return coord::ShardPosition{position_.term, position_.index};
  };
  // The election thread must not block: everything else happens on the io
  // thread. `alive` drops what arrives after destruction began.
  std::weak_ptr<bool> alive = alive_;
  cb.elected = [this, alive](uint64_t term) {
    asio::post(io_, [this, alive, term] {
      if (alive.expired() || fenced_) return;
      leading_ = true;
      roles_.promote(term);
    });
  };
  cb.deposed = [this, alive](const std::string& why) {
    asio::post(io_, [this, alive, why] {
      if (alive.expired()) return;
      Fence(why);
    });
  };
  cb.leader_changed = [this, alive](const coord::LeaderInfo& info) {
    asio::post(io_, [this, alive, info] {
      if (alive.expired() || leading_ || fenced_) return;
      // `leader` naming this node is a lease from an earlier life, about
      // to expire: nobody to follow.
      if (info.node == options_.node) return roles_.follow(coord::LeaderInfo{});
      roles_.follow(info);
    });
  };
  election_ = std::make_unique<coord::Election>(&etcd_, std::move(eo), std::move(cb));
}

ShardNode::~ShardNode() {
  *alive_ = false;
  tick_.cancel();
  if (election_) election_->Abandon();
}

void ShardNode::Start() {
  {
    std::lock_guard lock(mu_);
    position_ = roles_.position();
  }
  election_->Start();
  Tick();
}

void ShardNode::Stop() {
  tick_.cancel();
  election_->Stop();
}

void ShardNode::Tick() {
  ReplPos pos = roles_.position();
  {
    std::lock_guard lock(mu_);
    position_ = pos;
  }
  if (leading_ && !election_->guard().Valid()) {
    Fence("its etcd lease could not be renewed in time");
    return;
  }
  tick_.expires_after(kTick);
  std::weak_ptr<bool> alive = alive_;
  tick_.async_wait([this, alive](asio::error_code ec) {
    if (ec || alive.expired()) return;
    Tick();
  });
}

void ShardNode::Fence(const std::string& why) {
  if (fenced_ || !leading_) return;
  fenced_ = true;
  leading_ = false;
  tick_.cancel();
  LogError(absl::StrCat("shard ", options_.shard, ": ", options_.node,
                        " is fenced (", why, "); it stops and rejoins as a standby"));
  roles_.fence(why);
}

}  // namespace rappel::server
