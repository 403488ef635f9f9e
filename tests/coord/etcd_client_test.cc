// EtcdClient against a real etcd (Debian's /usr/bin/etcd on free loopback
// ports): leases, keys, the leader campaign transaction, watches, endpoint
// failover and a dead or silent etcd. Each test starts its own etcd (about a
// second) so that stopping or pausing it touches nothing else.
#include "server/coord/etcd_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "tests/testing/etcd_process.h"

namespace rappel::server::coord {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::EtcdProcess;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

EtcdOptions OptionsFor(const EtcdProcess& etcd, int64_t timeout_ms = 2000) {
  EtcdOptions o;
  o.endpoints = {etcd.endpoint()};
  o.request_timeout_ms = timeout_ms;
  return o;
}

// An endpoint where nothing listens: the connection is refused.
std::string DeadEndpoint() {
  return "http://127.0.0.1:" + std::to_string(EtcdProcess::FreePorts().first);
}

#define ASSERT_ETCD_UP(etcd) ASSERT_TRUE((etcd).ok()) << (etcd).LogTail()

TEST(EtcdBase64, RoundTripsEveryByteAndRejectsGarbage) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t len : {0u, 1u, 2u, 3u, 4u, 255u, 256u}) {
    auto back = EtcdBase64Decode(EtcdBase64Encode(bytes.substr(0, len)));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, bytes.substr(0, len));
  }
  EXPECT_EQ(EtcdBase64Encode("/rappel/s1/leader"), "L3JhcHBlbC9zMS9sZWFkZXI=");
  EXPECT_FALSE(EtcdBase64Decode("abc").ok());
  EXPECT_FALSE(EtcdBase64Decode("ab!=").ok());
}

TEST(EtcdPrefixEnd, IncrementsTheLastByteBelow0xff) {
  EXPECT_EQ(EtcdPrefixEnd("/a/"), "/a0");
  EXPECT_EQ(EtcdPrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(EtcdPrefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdClient, GrantRaisesTtlToTheFloorAndKeepAliveRenews) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd));
  auto lease = client.LeaseGrant(2);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE(lease->id, 0);
  EXPECT_EQ(lease->ttl_s, 2);
  // etcd's minimum TTL with default flags is 2 s: a 1 s grant is raised.
  auto short_lease = client.LeaseGrant(1);
  ASSERT_TRUE(short_lease.ok()) << short_lease.status();
  EXPECT_EQ(short_lease->ttl_s, 2);
  EXPECT_NE(short_lease->id, lease->id);

  auto ttl = client.LeaseKeepAlive(lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(*ttl, 2);
}

TEST(EtcdClient, KeepAliveAfterRevokeAnswersZero) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd));
  auto lease = client.LeaseGrant(10);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client.Put("/k", "v", lease->id).ok());
  ASSERT_TRUE(client.LeaseRevoke(lease->id).ok());
  auto ttl = client.LeaseKeepAlive(lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(*ttl, 0);
  // Revoking deleted its key; a second revoke is the gateway's NotFound.
  auto range = client.Range("/k");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_TRUE(range->kvs.empty());
  absl::Status again = client.LeaseRevoke(lease->id);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound) << again;
  EXPECT_NE(again.message().find("lease not found"), std::string::npos) << again;
  // So is a put under a lease that does not exist.
  auto put = client.Put("/k", "v", lease->id);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kNotFound) << put.status();
}

TEST(EtcdClient, PutRangeDeleteWithRevisionsAndBinaryBytes) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd));
  const std::string binary_key("/p/\0\xff", 5);
  auto r1 = client.Put("/p/a", "one");
  auto r2 = client.Put(binary_key, std::string("\x00\x01\xfe", 3));
  auto r3 = client.Put("/p/a", "two");
  auto r4 = client.Put("/p/empty", "");
  auto r5 = client.Put("/q", "outside");
  for (const auto* r : {&r1, &r2, &r3, &r4, &r5}) ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_LT(*r1, *r2);
  EXPECT_LT(*r2, *r3);

  auto all = client.Range("/p/", /*prefix=*/true);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->revision, *r5);
  ASSERT_EQ(all->kvs.size(), 3u);  // sorted by key bytes: "/p/\0\xff" < "/p/a" < "/p/empty"
  EXPECT_EQ(all->kvs[0].key, binary_key);
  EXPECT_EQ(all->kvs[0].value, std::string("\x00\x01\xfe", 3));
  EXPECT_EQ(all->kvs[1].key, "/p/a");
  EXPECT_EQ(all->kvs[1].value, "two");
  EXPECT_EQ(all->kvs[1].create_revision, *r1);
  EXPECT_EQ(all->kvs[1].mod_revision, *r3);
  EXPECT_EQ(all->kvs[1].version, 2);
  EXPECT_EQ(all->kvs[1].lease, 0);
  EXPECT_EQ(all->kvs[2].key, "/p/empty");
  EXPECT_EQ(all->kvs[2].value, "");  // omitted by the gateway

  auto one = client.Range("/p/a");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->kvs.size(), 1u);
  auto none = client.Range("/p/missing");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->kvs.empty());

  auto deleted = client.DeleteRange("/p/", /*prefix=*/true);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 3);
  auto deleted_again = client.DeleteRange("/p/", /*prefix=*/true);
  ASSERT_TRUE(deleted_again.ok()) << deleted_again.status();
  EXPECT_EQ(*deleted_again, 0);  // omitted by the gateway
  auto left = client.Range("/q");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->kvs.size(), 1u);
}

// The leader campaign: create the leader key only if absent and the term is
// the one read; otherwise read the holder.
EtcdTxnResult Campaign(EtcdClient& client, const std::string& me, int64_t lease,
                       const std::string& term_read, const std::string& next_term) {
  auto result = client.Txn(
      {EtcdCompare::CreateRevisionIs("/s/leader", 0), EtcdCompare::ValueIs("/s/term", term_read)},
      {EtcdOp::Put("/s/leader", me, lease), EtcdOp::Put("/s/term", next_term)},
      {EtcdOp::Range("/s/leader")});
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : EtcdTxnResult{};
}

TEST(EtcdClient, TxnCampaignFirstWinsSecondReadsTheHolder) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd));
  ASSERT_TRUE(client.Put("/s/term", "4").ok());
  auto a = client.LeaseGrant(10);
  auto b = client.LeaseGrant(10);
  ASSERT_TRUE(a.ok() && b.ok());

  EtcdTxnResult won = Campaign(client, "node-a", a->id, "4", "5");
  EXPECT_TRUE(won.succeeded);
  EXPECT_TRUE(won.kvs.empty());
  EtcdTxnResult lost = Campaign(client, "node-b", b->id, "4", "5");
  EXPECT_FALSE(lost.succeeded);
  ASSERT_EQ(lost.kvs.size(), 1u);
  EXPECT_EQ(lost.kvs[0].value, "node-a");
  EXPECT_EQ(lost.kvs[0].lease, a->id);
  EXPECT_EQ(lost.kvs[0].create_revision, won.revision);

  auto term = client.Range("/s/term");
  ASSERT_TRUE(term.ok());
  ASSERT_EQ(term->kvs.size(), 1u);
  EXPECT_EQ(term->kvs[0].value, "5");

  // The leader gone, a campaign with a stale term still loses (and reads
  // nothing: the key is absent).
  ASSERT_TRUE(client.LeaseRevoke(a->id).ok());
  EtcdTxnResult stale = Campaign(client, "node-b", b->id, "4", "5");
  EXPECT_FALSE(stale.succeeded);
  EXPECT_TRUE(stale.kvs.empty());
  EtcdTxnResult fresh = Campaign(client, "node-b", b->id, "5", "6");
  EXPECT_TRUE(fresh.succeeded);
}

TEST(EtcdClient, LeasedKeyVanishesAfterTheTtlAndWatchSeesTheDelete) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd));
  const auto granted_at = Clock::now();  // before etcd starts the lease's clock
  auto lease = client.LeaseGrant(2);
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto put = client.Put("/w/leader", "me", lease->id);
  ASSERT_TRUE(put.ok()) << put.status();

  std::mutex mu;
  std::vector<EtcdWatchEvent> events;
  std::promise<int64_t> deleted_ms;
  std::stop_source stop;
  std::thread watcher([&] {
    absl::Status s = client.Watch(
        "/w/", *put,
        [&](const EtcdWatchEvent& e) {
          std::lock_guard lock(mu);
          events.push_back(e);
          if (e.type == EtcdWatchEvent::Type::kDelete) deleted_ms.set_value(MsSince(granted_at));
        },
        stop.get_token());
    EXPECT_TRUE(s.ok()) << s;
  });
  auto got = deleted_ms.get_future();
  const bool seen = got.wait_for(std::chrono::seconds(6)) == std::future_status::ready;
  stop.request_stop();
  watcher.join();
  ASSERT_TRUE(seen) << "no DELETE within 6 s of a 2 s lease";
  const int64_t delay_ms = got.get();
  std::printf("lease-expiry delay: %lld ms after the grant (TTL 2000 ms)\n",
              static_cast<long long>(delay_ms));
  ::testing::Test::RecordProperty("lease_expiry_delay_ms", std::to_string(delay_ms));
  EXPECT_GE(delay_ms, 2000);
  EXPECT_LE(delay_ms, 4000);  // TTL + 2 s: etcd revokes every 500 ms; a loaded VM

  std::lock_guard lock(mu);
  ASSERT_EQ(events.size(), 2u);  // from the put's revision: the PUT, then the DELETE
  EXPECT_EQ(events[0].type, EtcdWatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.key, "/w/leader");
  EXPECT_EQ(events[0].kv.value, "me");
  EXPECT_EQ(events[0].kv.lease, lease->id);
  EXPECT_EQ(events[1].type, EtcdWatchEvent::Type::kDelete);
  EXPECT_EQ(events[1].kv.key, "/w/leader");
  EXPECT_GT(events[1].kv.mod_revision, *put);
  auto after = client.Range("/w/leader");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->kvs.empty());
}

TEST(EtcdClient, WatchStopsPromptlyAndOnlySeesItsPrefix) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd));
  std::atomic<int> seen{0};
  std::atomic<bool> outside{false};
  std::stop_source stop;
  absl::Status result;
  std::thread watcher([&] {
    result = client.Watch(
        "/in/", 0,
        [&](const EtcdWatchEvent& e) {
          if (e.kv.key.rfind("/in/", 0) != 0) outside = true;
          ++seen;
        },
        stop.get_token());
  });
  // Writes until the watch (started from "now") reports one: bounded.
  for (int i = 0; i < 100 && seen == 0; ++i) {
    ASSERT_TRUE(client.Put("/out", "x").ok());
    ASSERT_TRUE(client.Put("/in/k", std::to_string(i)).ok());
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_GT(seen.load(), 0);
  const auto asked = Clock::now();
  stop.request_stop();
  watcher.join();
  EXPECT_LT(MsSince(asked), 500);
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_FALSE(outside.load());
}

TEST(EtcdClient, DeadEndpointFirstThenTheLiveOne) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdOptions o = OptionsFor(etcd);
  o.endpoints = {DeadEndpoint(), etcd.endpoint()};
  EtcdClient client(o);
  auto put = client.Put("/e", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  auto range = client.Range("/e");
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].value, "v");
  // Watches fail over the same way.
  std::stop_source stop;
  std::promise<void> created;
  std::thread watcher([&] {
    EXPECT_TRUE(client
                    .Watch(
                        "/e", range->revision + 1,
                        [&](const EtcdWatchEvent&) { created.set_value(); }, stop.get_token())
                    .ok());
  });
  ASSERT_TRUE(client.Put("/e", "w").ok());
  auto f = created.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  stop.request_stop();
  watcher.join();
}

TEST(EtcdClient, NoEndpointReachableIsUnavailable) {
  EtcdOptions o;
  o.endpoints = {DeadEndpoint(), DeadEndpoint()};
  o.request_timeout_ms = 1000;
  EtcdClient client(o);
  auto range = client.Range("/x");
  EXPECT_EQ(range.status().code(), absl::StatusCode::kUnavailable) << range.status();
  absl::Status watch = client.Watch("/x", 0, [](const EtcdWatchEvent&) {}, {});
  EXPECT_EQ(watch.code(), absl::StatusCode::kUnavailable) << watch;
}

TEST(EtcdClient, StoppedEtcdIsUnavailableWithinTheDeadline) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd, /*timeout_ms=*/500));
  auto lease = client.LeaseGrant(5);
  ASSERT_TRUE(lease.ok()) << lease.status();
  etcd.Stop();
  const auto start = Clock::now();
  auto ttl = client.LeaseKeepAlive(lease->id);
  EXPECT_EQ(ttl.status().code(), absl::StatusCode::kUnavailable) << ttl.status();
  EXPECT_LT(MsSince(start), 1000);
  // Back on the same ports and data: leases survive a restart.
  ASSERT_TRUE(etcd.Start()) << etcd.LogTail();
  auto again = client.LeaseKeepAlive(lease->id);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(*again, 0);
}

TEST(EtcdClient, PausedEtcdTimesOutAsUnavailableNotAHang) {
  EtcdProcess etcd;
  ASSERT_ETCD_UP(etcd);
  EtcdClient client(OptionsFor(etcd, /*timeout_ms=*/500));
  ASSERT_TRUE(client.Put("/z", "1").ok());
  etcd.Pause();  // the kernel still accepts connections; nothing answers
  auto start = Clock::now();
  auto put = client.Put("/z", "2");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_NE(put.status().message().find("may have been applied"), std::string::npos);
  const int64_t put_ms = MsSince(start);
  EXPECT_GE(put_ms, 450);
  EXPECT_LT(put_ms, 1500);
  start = Clock::now();
  absl::Status watch = client.Watch("/z", 0, [](const EtcdWatchEvent&) {}, {});
  EXPECT_EQ(watch.code(), absl::StatusCode::kUnavailable) << watch;
  EXPECT_LT(MsSince(start), 1500);
  etcd.Resume();
  auto range = client.Range("/z");
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs.size(), 1u);
}

}  // namespace
}  // namespace rappel::server::coord
