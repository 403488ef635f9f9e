// Hostile clients against a real rappeld (a forked child on 127.0.0.1, the
// default frame limits and receive budget, max_connections raised): its RSS
// (/proc/PID/status VmRSS) must stay under the baseline + 64 MiB while,
// one kind after another and all kept open,
//   a. N connections declare a frame just under max_frame_bytes before Hello,
//      and N more do it after a valid Hello and then send nothing;
//   b. N slow senders, after Hello, declare such a frame, send 32 KiB of it
//      and then trickle 1 KiB each every 200 ms;
//   c. with M messages stored and due, and a's and b's connections closed,
//      N workers subscribe with a wide window and never read their socket
//      (leases expire every second, until all M are dead letters): its RSS
//      must stay under its own baseline + 64 MiB, the RSS just before the
//      workers subscribe (see kind c below for why);
// and a normal client keeps being answered within 2 s.
//
// N (default 1 000), M (default 100 000) and how long each kind is held
// (default 5 000 ms) come from RAPPEL_HOSTILE_CONNECTIONS,
// RAPPEL_HOSTILE_MESSAGES and RAPPEL_HOSTILE_HOLD_MS, for a longer run.
// RSS means nothing under AddressSanitizer: skipped there.
//
// To profile rappeld during the attack (e.g. under heaptrack), start it
// yourself with --lease-timeout-ms 1000 and enough --max-connections, and
// give its pid and port in RAPPEL_HOSTILE_PID and RAPPEL_HOSTILE_PORT: the
// test measures that one instead of forking its own (and leaves it running).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/common/clock.h"
#include "tests/testing/rappeld_child.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wire_client.h"

#if defined(__SANITIZE_ADDRESS__)
#define RAPPEL_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAPPEL_UNDER_ASAN 1
#endif
#endif

namespace rappel::server {
namespace {

using rappel::testing::ChildGuard;
using rappel::testing::TempDir;
using rappel::testing::WireClient;
namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMiB = 1 << 20;

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoll(v) : fallback;
}

// VmRSS of `pid` in bytes; -1 if unreadable.
int64_t RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

std::vector<uint8_t> Bytes(FlatBufferBuilder& b) {
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}
std::vector<uint8_t> HelloFrame() {
  FlatBufferBuilder b;
  protocol::FinishFrame(b, 1, wire::Body::Hello,
                        wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString(""),
                                          b.CreateString("hostile"))
                            .Union());
  return Bytes(b);
}
std::vector<uint8_t> Prefix(uint32_t n) {
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

// Raw sockets: a hostile client sends what it likes and never reads.
int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}
// Best effort, never blocks: a server that closed or stopped reading is fine.
void SendSome(int fd, const std::vector<uint8_t>& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}
// True when the server has closed this connection (reads what is queued).
bool ClosedByServer(int fd) {
  uint8_t buf[4096];
  for (int i = 0; i < 10'000; ++i) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
  return false;
}

struct Kind {
  std::string name;
  int64_t peak_rss = 0;
  size_t closed_by_server = 0;
  int64_t baseline = 0;  // what its peak is measured against
};

TEST(HostileClientsTest, RssStaysBoundedAndANormalClientIsServed) {
#ifdef RAPPEL_UNDER_ASAN
  GTEST_SKIP() << "RSS means nothing under AddressSanitizer";
#endif
  const int64_t n = EnvOr("RAPPEL_HOSTILE_CONNECTIONS", 1000);
  const int64_t messages = EnvOr("RAPPEL_HOSTILE_MESSAGES", 100'000);
  const int64_t hold_ms = EnvOr("RAPPEL_HOSTILE_HOLD_MS", 5000);

  // 4 kinds' sockets here and as many in rappeld (the child inherits it).
  rlimit nofile{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  const rlim_t need = static_cast<rlim_t>(5 * n + 200);
  if (nofile.rlim_cur < need) {
    if (nofile.rlim_max < need) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << need;
    nofile.rlim_cur = need;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0);
  }

  TempDir dir;
  const bool external = EnvOr("RAPPEL_HOSTILE_PID", 0) > 0;
  auto [pid, port] =
      external ? std::pair<pid_t, uint16_t>(static_cast<pid_t>(EnvOr("RAPPEL_HOSTILE_PID", 0)),
                                            static_cast<uint16_t>(EnvOr("RAPPEL_HOSTILE_PORT", 0)))
               : testing::StartRappeldChild(dir.Sub("db"), [n](RappeldOptions& o) {
                   o.server.max_connections = static_cast<size_t>(5 * n + 100);
                   // leases expire and are handed again during the test
                   o.dispatch.lease_timeout_ms = 1000;
                 });
  ASSERT_GT(pid, 0);
  ChildGuard guard{pid, /*reaped=*/external};
  ASSERT_NE(port, 0) << "rappeld did not start";
  const uint32_t max_frame = protocol::FrameLimits{}.max_frame_bytes;

  // The normal client: a Ping every 50 ms, each answered within 2 s. The
  // producer that schedules kind c's messages connects before the hostile
  // clients too (a client connecting in the middle of the attack may be the
  // newest holder of partial frames, which the budget closes first).
  WireClient normal(port);
  ASSERT_NE(normal.Hello(), nullptr);
  WireClient producer(port);
  ASSERT_NE(producer.Hello(), nullptr);
  const int64_t baseline = RssBytes(pid);
  ASSERT_GT(baseline, 0);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> worst_ping_ms{0};
  std::atomic<int> unanswered{0};
  std::atomic<int> pings{0};
  std::thread normal_thread([&] {
    for (uint64_t id = 100; !stop; ++id) {
      auto sent = Clock::now();
      FlatBufferBuilder b;
      normal.Send(b, id, wire::Body::Ping, wire::CreatePing(b).Union());
      const wire::Frame* f = normal.ReadReply(std::chrono::seconds(5));
      int64_t ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent).count();
      if (f == nullptr || f->request_id() != id || f->body_type() != wire::Body::Pong) {
        ++unanswered;
        return;  // out of step: stop asking
      }
      ++pings;
      int64_t prev = worst_ping_ms;
      while (ms > prev && !worst_ping_ms.compare_exchange_weak(prev, ms)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::atomic<int64_t> phase_peak{0};
  std::thread sampler;
  // On any way out (a failed ASSERT too): stop the threads, then the child.
  struct Stop {
    std::atomic<bool>& stop;
    std::thread& a;
    std::thread& b;
    ~Stop() {
      stop = true;
      if (a.joinable()) a.join();
      if (b.joinable()) b.join();
    }
  } stopper{stop, normal_thread, sampler};
  sampler = std::thread([&] {
    while (!stop) {
      int64_t rss = RssBytes(pid);
      int64_t prev = phase_peak;
      while (rss > prev && !phase_peak.compare_exchange_weak(prev, rss)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::vector<Kind> kinds;
  std::vector<std::vector<int>> fds;
  auto open = [&](const std::vector<uint8_t>& first_bytes) {
    std::vector<int> v;
    for (int64_t i = 0; i < n; ++i) {
      int fd = Connect(port);
      if (fd < 0) break;
      SendSome(fd, first_bytes);
      v.push_back(fd);
    }
    return v;
  };
  // Holds the kind for hold_ms, running `tick` every 200 ms (and longer,
  // up to 60 s more, until `done` holds if given), then records its peak
  // and how many of its connections the server closed.
  auto hold = [&](const std::string& name, const std::function<void()>& tick,
                  int64_t kind_baseline, const std::function<bool()>& done = {}) {
    phase_peak = RssBytes(pid);
    auto start = Clock::now();
    for (auto end = start + std::chrono::milliseconds(hold_ms); Clock::now() < end;) {
      if (tick) tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    while (done && !done() && Clock::now() < start + std::chrono::milliseconds(hold_ms + 60'000)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    Kind k{name, phase_peak.load(), 0, kind_baseline};
    for (int fd : fds.back()) k.closed_by_server += ClosedByServer(fd) ? 1 : 0;
    kinds.push_back(k);
  };
  std::vector<uint8_t> hello = HelloFrame();
  std::vector<uint8_t> huge = Prefix(max_frame - 1);

  // a. Huge declared lengths, before Hello and after it.
  fds.push_back(open(huge));
  ASSERT_EQ(static_cast<int64_t>(fds.back().size()), n) << "could not connect";
  hold("a: huge length before Hello", {}, baseline);
  EXPECT_EQ(static_cast<int64_t>(kinds.back().closed_by_server), n)
      << "a frame over 4 KiB before Hello must close the connection";
  std::vector<uint8_t> hello_then_huge = hello;
  hello_then_huge.insert(hello_then_huge.end(), huge.begin(), huge.end());
  fds.push_back(open(hello_then_huge));
  ASSERT_EQ(static_cast<int64_t>(fds.back().size()), n) << "could not connect";
  hold("a: huge length after Hello", {}, baseline);

  // b. Slow senders: a burst, then a trickle.
  std::vector<uint8_t> burst = hello_then_huge;
  burst.resize(burst.size() + 32 * 1024, 0);
  fds.push_back(open(burst));
  ASSERT_EQ(static_cast<int64_t>(fds.back().size()), n) << "could not connect";
  std::vector<uint8_t> trickle(1024, 0);
  hold(
      "b: slow senders", [&] { for (int fd : fds.back()) SendSome(fd, trickle); }, baseline);

  // c. Workers that never read, once the messages are stored and due.
  // Measured against the RSS just before they subscribe, with a's and b's
  // connections closed: the messages are the data a scenario of normal
  // workers holds too (~48 MiB for 100 000, LMDB pages included), and a's
  // and b's leftovers are theirs; the target is what the hostile workers
  // add.
  {
    const int64_t due = SystemNowMs() + 1000;
    std::vector<uint8_t> payload(200, 'p');
    for (int64_t first = 0; first < messages; first += 1000) {
      FlatBufferBuilder b;
      std::vector<flatbuffers::Offset<wire::Reminder>> rs;
      for (int64_t i = first; i < std::min(messages, first + 1000); ++i) {
        rs.push_back(wire::CreateReminder(b, 1, b.CreateString("h-" + std::to_string(i)),
                                          wire::Channel::Sms, b.CreateString("+33600000000"),
                                          due, 0, b.CreateVector(payload)));
      }
      producer.Send(b, static_cast<uint64_t>(first + 10), wire::Body::Schedule,
                    wire::CreateSchedule(b, b.CreateVector(rs)).Union());
      const wire::Frame* f = producer.ReadReply(std::chrono::seconds(30));
      ASSERT_NE(f, nullptr);
      ASSERT_EQ(f->body_type(), wire::Body::ScheduleReply)
          << (f->body_type() == wire::Body::Error ? f->body_as_Error()->status()->message()->str()
                                                  : std::string());
    }
  }
  for (auto& v : fds) {
    for (int fd : v) close(fd);
    v.clear();
  }
  // Due, and the closed connections gone.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int64_t baseline_c = RssBytes(pid);
  ASSERT_GT(baseline_c, 0);
  uint64_t stats_id = 1'000'000;
  // How many of the messages are dead letters (every lease expires, and
  // the last attempt's expiry dead-letters it); -1 if unanswered.
  auto dead_letters = [&]() -> int64_t {
    FlatBufferBuilder b;
    producer.Send(b, ++stats_id, wire::Body::Stats, wire::CreateStats(b).Union());
    const wire::Frame* f = producer.ReadReply(std::chrono::seconds(10));
    if (f == nullptr || f->body_type() != wire::Body::StatsReply) return -1;
    return static_cast<int64_t>(f->body_as_StatsReply()->dead_letters());
  };
  FlatBufferBuilder sb;
  std::vector<wire::Channel> channels{wire::Channel::Sms};
  protocol::FinishFrame(
      sb, 2, wire::Body::Subscribe,
      wire::CreateSubscribe(sb, sb.CreateVector(channels), 10'000, 1000).Union());
  std::vector<uint8_t> subscribe = hello;
  std::vector<uint8_t> sub_frame = Bytes(sb);
  subscribe.insert(subscribe.end(), sub_frame.begin(), sub_frame.end());
  fds.push_back(open(subscribe));
  ASSERT_EQ(static_cast<int64_t>(fds.back().size()), n) << "could not connect";
  // Held until every message is a dead letter: the last expiry pass is
  // the largest moment.
  int64_t dead = 0;
  std::function<bool()> all_dead;
  if (n > 0) all_dead = [&] { return (dead = dead_letters()) >= messages; };
  hold("c: workers that never read", {}, baseline_c, all_dead);
  if (n > 0) {
    EXPECT_EQ(dead, messages) << "every message ends as one dead letter";
  }

  stop = true;
  if (normal_thread.joinable()) normal_thread.join();
  if (sampler.joinable()) sampler.join();
  for (auto& v : fds) {
    for (int fd : v) close(fd);
  }
  int64_t peak = 0;
  std::printf("hostile clients: N=%lld M=%lld hold=%lld ms; rappeld VmRSS baseline %.1f MiB\n",
              static_cast<long long>(n), static_cast<long long>(messages),
              static_cast<long long>(hold_ms), static_cast<double>(baseline) / kMiB);
  for (const Kind& k : kinds) {
    std::printf("  %-32s peak %.1f MiB (+%.1f over %.1f), closed by the server: %zu\n",
                k.name.c_str(), static_cast<double>(k.peak_rss) / kMiB,
                static_cast<double>(k.peak_rss - k.baseline) / kMiB,
                static_cast<double>(k.baseline) / kMiB, k.closed_by_server);
    peak = std::max(peak, k.peak_rss);
  }
  std::printf("  normal client: %d pings, worst %lld ms, %d unanswered\n", pings.load(),
              static_cast<long long>(worst_ping_ms.load()), unanswered.load());
  for (const Kind& k : kinds) EXPECT_LT(k.peak_rss, k.baseline + 64 * kMiB) << k.name;
  EXPECT_EQ(unanswered.load(), 0);
  EXPECT_LT(worst_ping_ms.load(), 2000);
  EXPECT_GT(pings.load(), 0);
  if (!external) {
    kill(pid, SIGKILL);
    guard.Reap();
  }
}

}  // namespace
}  // namespace rappel::server
