#include "server/coord/election.h"

#include <charconv>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/log.h"

namespace rappel::server::coord {
namespace {

using json = nlohmann::json;

uint64_t ParseTerm(std::string_view text) {
  uint64_t term = 0;
  std::from_chars(text.data(), text.data() + text.size(), term);
  return term;
}

LeaderInfo ParseLeader(const EtcdKv& kv) {
  LeaderInfo info;
  info.create_revision = kv.create_revision;
  json j = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    info.node = "?";  // someone else's value: still a leader, unnamed
    return info;
  }
  info.node = j.value("node", "?");
  info.client = j.value("client", "");
  info.replication = j.value("replication", "");
  info.term = j.value("term", uint64_t{0});
  return info;
}

}  // namespace

Election::Election(EtcdClient* etcd, ElectionOptions options, ElectionCallbacks callbacks)
    : etcd_(etcd),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      base_(absl::StrCat(options_.prefix, "/", options_.shard, "/")),
      guard_(options_.margin_ms > 0 ? options_.margin_ms
                                    : LeaseGuard::DefaultMarginMs(options_.ttl_s * 1000)),
      lease_ttl_ms_(options_.ttl_s * 1000) {}

Election::~Election() { Stop(); }

void Election::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Run(std::move(stop)); });
}

void Election::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  leader_.store(false, std::memory_order_release);
  guard_.Lost();
  if (lease_id_ != 0) {
    // Deleting the lease deletes `leader` and `nodes/<me>` with it.
    etcd_->LeaseRevoke(lease_id_).IgnoreError();
    lease_id_ = 0;
  }
}

void Election::Abandon() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  leader_.store(false, std::memory_order_release);
  lease_id_ = 0;  // left to expire in etcd
}

LeaderInfo Election::leader() const {
  std::lock_guard lock(mu_);
  return leader_info_;
}

void Election::Run(std::stop_token stop) {
  stop_ = stop;
  while (!stop.stop_requested()) {
    if (KeepLease()) {
      Publish(/*force=*/false);
      FollowLeaderKey();
    }
    SleepMs(options_.poll_ms);
  }
}

bool Election::SleepMs(int64_t ms) {
  // Short steps: Stop() is prompt without a condition variable.
  int64_t until = guard_.Now() + ms;
  while (!stop_.stop_requested()) {
    int64_t left = until - guard_.Now();
    if (left <= 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left, 20)));
  }
  return false;
}

bool Election::KeepLease() {
  int64_t sent = guard_.Now();
  if (lease_id_ == 0) {
    auto lease = etcd_->LeaseGrant(options_.ttl_s);
    if (!lease.ok()) return false;
    lease_id_ = lease->id;
    lease_ttl_ms_ = lease->ttl_s * 1000;
    guard_.Renewed(sent, lease_ttl_ms_);
    next_renewal_ms_ = sent + lease_ttl_ms_ / 3;
    published_.clear();
    return true;
  }
  if (sent < next_renewal_ms_) return true;
  auto ttl = etcd_->LeaseKeepAlive(lease_id_);
  if (!ttl.ok()) {
    // etcd unreachable: try again at the next poll; the guard runs out by
    // itself meanwhile.
    next_renewal_ms_ = sent + options_.poll_ms;
    return false;
  }
  if (*ttl == 0) {
    guard_.Lost();
    lease_id_ = 0;
    if (is_leader()) Depose("its etcd lease expired");
    return false;
  }
  guard_.Renewed(sent, *ttl * 1000);
  next_renewal_ms_ = sent + lease_ttl_ms_ / 3;
  return true;
}

void Election::Publish(bool force) {
  int64_t now = guard_.Now();
  if (!force && now < next_publish_ms_) return;
  ShardPosition pos = callbacks_.position ? callbacks_.position() : ShardPosition{};
  std::string value = json{{"node", options_.node},
                           {"role", is_leader() ? "leader" : "standby"},
                           {"term", term()},
                           {"pos_term", pos.term},
                           {"pos_index", pos.index},
                           {"client", options_.client},
                           {"replication", options_.replication}}
                          .dump();
  if (value == published_) return;
  // At most four writes a second, whatever the position does.
  next_publish_ms_ = now + 250;
  auto put = etcd_->Put(NodesPrefix() + options_.node, value, lease_id_);
  if (put.ok()) published_ = std::move(value);
}

void Election::FollowLeaderKey() {
  auto range = etcd_->Range(LeaderKey());
  if (!range.ok()) return;
  if (range->kvs.empty()) {
    if (is_leader()) Depose("the leader key was deleted");
    SetLeader({});
    Campaign();
    return;
  }
  const EtcdKv& kv = range->kvs.front();
  LeaderInfo info = ParseLeader(kv);
  if (is_leader()) {
    if (kv.create_revision == my_leader_revision_) return;
    Depose("another node holds the leader key");
  } else if (kv.lease == lease_id_ && info.node == options_.node) {
    // A campaign whose answer was lost (timeout) but that was applied: the
    // key hangs on this node's live lease, so it is this node's.
    Won(info.term, kv.create_revision);
    return;
  }
  SetLeader(std::move(info));
}

void Election::Campaign() {
  if (!guard_.Valid()) return;
  // Let every standby publish its final position before comparing.
  Publish(/*force=*/true);
  if (!SleepMs(options_.settle_ms)) return;
  ShardPosition mine = callbacks_.position ? callbacks_.position() : ShardPosition{};
  if (SomeoneIsAhead(mine)) return;

  auto term_kv = etcd_->Range(TermKey());
  if (!term_kv.ok()) return;
  uint64_t term = 0;
  EtcdCompare term_unchanged = EtcdCompare::CreateRevisionIs(TermKey(), 0);
  if (!term_kv->kvs.empty()) {
    term = ParseTerm(term_kv->kvs.front().value);
    term_unchanged = EtcdCompare::ValueIs(TermKey(), term_kv->kvs.front().value);
  }
  uint64_t next = term + 1;
  std::string value = json{{"node", options_.node},
                           {"term", next},
                           {"client", options_.client},
                           {"replication", options_.replication}}
                          .dump();
  auto txn = etcd_->Txn({EtcdCompare::CreateRevisionIs(LeaderKey(), 0), term_unchanged},
                        {EtcdOp::Put(LeaderKey(), value, lease_id_),
                         EtcdOp::Put(TermKey(), std::to_string(next))},
                        {EtcdOp::Range(LeaderKey())});
  if (!txn.ok()) return;  // the next poll reads what happened
  if (txn->succeeded) {
    // Every write of a transaction carries its revision.
    Won(next, txn->revision);
  } else if (!txn->kvs.empty()) {
    SetLeader(ParseLeader(txn->kvs.front()));
  }
}

bool Election::SomeoneIsAhead(ShardPosition mine) {
  auto nodes = etcd_->Range(NodesPrefix(), /*prefix=*/true);
  if (!nodes.ok()) return true;  // cannot tell: do not campaign now
  for (const EtcdKv& kv : nodes->kvs) {
    json j = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || kv.lease == 0) continue;
    std::string node = j.value("node", "");
    if (node.empty() || node == options_.node) continue;
    ShardPosition theirs{j.value("pos_term", uint64_t{0}), j.value("pos_index", uint64_t{0})};
    if (theirs > mine || (theirs == mine && node < options_.node)) return true;
  }
  return false;
}

void Election::Won(uint64_t term, int64_t revision) {
  my_leader_revision_ = revision;
  term_.store(term, std::memory_order_release);
  leader_.store(true, std::memory_order_release);
  SetLeader({options_.node, options_.client, options_.replication, term, revision});
  LogInfo(absl::StrCat("shard ", options_.shard, ": ", options_.node, " is the leader, term ",
                       term));
  Publish(/*force=*/true);
  if (callbacks_.elected) callbacks_.elected(term);
}

void Election::Depose(const std::string& why) {
  leader_.store(false, std::memory_order_release);
  my_leader_revision_ = 0;
  LogWarn(absl::StrCat("shard ", options_.shard, ": ", options_.node,
                       " is no longer the leader: ", why));
  if (callbacks_.deposed) callbacks_.deposed(why);
}

void Election::SetLeader(LeaderInfo info) {
  {
    std::lock_guard lock(mu_);
    if (leader_info_ == info) return;
    leader_info_ = info;
  }
  if (!is_leader() && callbacks_.leader_changed) callbacks_.leader_changed(info);
}

}  // namespace rappel::server::coord
