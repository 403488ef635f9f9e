// rappeld's metrics listener end to end: rappeld in-process with
// --metrics-port 0, reminders scheduled through the client library, then
// /metrics, /healthz and /readyz over HTTP (libcurl), promtool's lint on the
// exposition, and a real Prometheus (Debian's /usr/bin/prometheus) scraping
// it and answering a query through its HTTP API.
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace rappel {
namespace {

struct HttpReply {
  long status = 0;  // 0: no answer
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

HttpReply Get(const std::string& url) {
  HttpReply r;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10'000L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  }
  curl_easy_cleanup(curl);
  return r;
}

// The value of an unlabelled sample `name` in an exposition, if present.
std::optional<double> Sample(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::strtod(line.c_str() + name.size() + 1, nullptr);
  }
  return std::nullopt;
}

// A loopback port free right now (bound, read, closed).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::RappeldOptions options;
    options.engine.store.path = dir_.Sub("db");
    options.server.port = 0;
    options.metrics.port = 0;
    options.metrics.snapshot_timeout_ms = 300;
    options.metrics.top_tenants = top_tenants_;
    absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_NE(server_.rappeld().metrics_port(), 0);
  }
  void TearDown() override { server_.Stop(); }

  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server_.rappeld().metrics_port()) + path;
  }
  // Schedules `n` reminders due in an hour; returns the client, kept open.
  std::unique_ptr<client::BlockingClient> ScheduleSome(int n) {
    client::Options o;
    o.port = server_.port();
    auto c = client::BlockingClient::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    std::vector<client::Reminder> batch;
    int64_t due = server::SystemNowMs() + 3'600'000 - 60'000;
    for (int i = 0; i < n; ++i) {
      batch.push_back({7, "k" + std::to_string(i), client::Channel::kEmail, "a@b.c", due, 0, "x"});
    }
    auto scheduled = (*c)->Schedule(batch);
    EXPECT_TRUE(scheduled.ok()) << scheduled.status();
    return std::move(*c);
  }

  rappel::testing::TempDir dir_;
  rappel::testing::RappeldThread server_;
  uint32_t top_tenants_ = 20;
};

class MetricsTopTenantsTest : public MetricsTest {
 protected:
  void SetUp() override {
    top_tenants_ = 1;
    MetricsTest::SetUp();
  }
};

// top_tenants = 1 and two tenants: one series for the busiest, one "other".
TEST_F(MetricsTopTenantsTest, CapsAtNPlusOther) {
  client::Options o;
  o.port = server_.port();
  auto c = client::BlockingClient::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  int64_t due = server::SystemNowMs() + 3'600'000;
  std::vector<client::Reminder> batch;
  for (int i = 0; i < 3; ++i) batch.push_back({5, "k" + std::to_string(i), client::Channel::kSms, "1", due, 0, "x"});
  batch.push_back({9, "k", client::Channel::kSms, "1", due, 0, "x"});
  ASSERT_TRUE((*c)->Schedule(batch).ok());
  std::string m = Get(Url("/metrics")).body;
  EXPECT_EQ(Sample(m, "rappel_tenant_live_reminders{tenant=\"5\"}"), 3.0) << m;
  EXPECT_EQ(Sample(m, "rappel_tenant_live_reminders{tenant=\"other\"}"), 1.0);
  EXPECT_EQ(Sample(m, "rappel_tenant_live_reminders{tenant=\"9\"}"), std::nullopt);
  EXPECT_EQ(Sample(m, "rappel_tenant_dead_letters{tenant=\"5\"}"), 0.0);
  size_t series = 0;
  std::istringstream in(m);
  std::string line;
  while (std::getline(in, line)) series += line.rfind("rappel_tenant_live_reminders{", 0) == 0;
  EXPECT_EQ(series, 2u);
}

TEST_F(MetricsTest, CountersMatchWhatWasDone) {
  auto client = ScheduleSome(5);
  ASSERT_TRUE(client);
  HttpReply r = Get(Url("/metrics"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Sample(r.body, "rappel_reminders_scheduled_total"), 5.0) << r.body;
  EXPECT_EQ(Sample(r.body, "rappel_live_reminders"), 5.0);
  EXPECT_EQ(Sample(r.body, "rappel_pending"), 5.0);
  EXPECT_EQ(Sample(r.body, "rappel_due_next_hour"), 5.0);
  EXPECT_EQ(Sample(r.body, "rappel_tenants"), 1.0);
  EXPECT_EQ(Sample(r.body, "rappel_connections"), 1.0);
  EXPECT_EQ(Sample(r.body, "rappel_store_writable"), 1.0);
  EXPECT_NE(r.body.find("rappel_live_reminders_by_channel{channel=\"email\"} 5"),
            std::string::npos);
  EXPECT_GE(Sample(r.body, "rappel_store_commits_total").value_or(0), 1.0);
  EXPECT_GT(Sample(r.body, "process_resident_memory_bytes").value_or(0), 1e6);
  EXPECT_EQ(Sample(r.body, "rappel_metrics_snapshot_misses_total"), 0.0);
}

TEST_F(MetricsTest, PromtoolAcceptsTheExposition) {
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool absent (Debian's prometheus)";
  auto client = ScheduleSome(3);
  HttpReply r = Get(Url("/metrics"));
  ASSERT_EQ(r.status, 200);
  std::string file = dir_.Sub("exposition.txt");
  std::ofstream(file) << r.body;
  std::string out_file = dir_.Sub("promtool.out");
  int rc = std::system(("/usr/bin/promtool check metrics < " + file + " > " + out_file + " 2>&1").c_str());
  std::ifstream in(out_file);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool's lint found problems";
}

TEST_F(MetricsTest, HealthAndReadiness) {
  HttpReply h = Get(Url("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  HttpReply r = Get(Url("/readyz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
  EXPECT_EQ(Get(Url("/nothing")).status, 404);
}

// The io thread stuck (here: a job sleeping on it): /readyz says so, and a
// scrape still answers, from the last snapshot, counting the miss.
TEST_F(MetricsTest, AStuckIoThreadServesTheLastSnapshot) {
  auto client = ScheduleSome(2);
  ASSERT_EQ(Sample(Get(Url("/metrics")).body, "rappel_live_reminders"), 2.0);
  asio::post(server_.io(), [] { std::this_thread::sleep_for(std::chrono::milliseconds(1500)); });
  HttpReply ready = Get(Url("/readyz"));
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("io thread"), std::string::npos) << ready.body;
  HttpReply m = Get(Url("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(Sample(m.body, "rappel_live_reminders"), 2.0);
  EXPECT_GE(Sample(m.body, "rappel_metrics_snapshot_misses_total").value_or(0), 1.0);
  EXPECT_GT(Sample(m.body, "rappel_metrics_snapshot_age_seconds").value_or(0), 0.2);
}

// Reminders due now (one 5 s late) go to a worker that acks them: the
// histograms count exactly what was done, and the late one is counted.
TEST_F(MetricsTest, HistogramsCountWhatWasDone) {
  client::Options o;
  o.port = server_.port();
  auto producer = client::BlockingClient::Connect(o);
  ASSERT_TRUE(producer.ok()) << producer.status();
  int64_t now = server::SystemNowMs();
  std::vector<client::Reminder> batch = {
      {7, "a", client::Channel::kEmail, "a@b.c", now, 0, "x"},
      {7, "b", client::Channel::kEmail, "a@b.c", now, 0, "x"},
      {7, "c", client::Channel::kEmail, "a@b.c", now - 5'000, 0, "x"}};
  ASSERT_TRUE((*producer)->Schedule(batch).ok());
  auto worker = client::BlockingClient::Connect(o);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE((*worker)->Subscribe({client::Channel::kEmail}, 16, 16).ok());
  size_t acked = 0;
  int acks_sent = 0;
  for (int i = 0; i < 50 && acked < batch.size(); ++i) {
    auto got = (*worker)->Receive(std::chrono::milliseconds(100));
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->empty()) continue;
    std::vector<client::AckItem> items;
    for (const client::Message& m : *got) items.push_back({m.lease_id, client::AckOutcome::kSent, ""});
    ASSERT_TRUE((*worker)->Ack(items).ok());
    ++acks_sent;
    acked += items.size();
  }
  ASSERT_EQ(acked, batch.size());

  std::string m = Get(Url("/metrics")).body;
  EXPECT_EQ(Sample(m, "rappel_handout_lag_seconds_count"), 3.0) << m;
  EXPECT_EQ(Sample(m, "rappel_lease_ack_seconds_count"), 3.0);
  // Two were handed out within 1 s of due, the third 5 s late.
  EXPECT_EQ(Sample(m, "rappel_handout_lag_seconds_bucket{le=\"1\"}"), 2.0);
  EXPECT_EQ(Sample(m, "rappel_handout_lag_seconds_bucket{le=\"+Inf\"}"), 3.0);
  EXPECT_GE(Sample(m, "rappel_handout_lag_seconds_sum").value_or(0), 5.0);
  EXPECT_EQ(Sample(m, "rappel_messages_late_total{channel=\"email\"}"), 1.0);
  EXPECT_EQ(Sample(m, "rappel_messages_late_total{channel=\"sms\"}"), 0.0);
  EXPECT_EQ(Sample(m, "rappel_request_duration_seconds_count{type=\"Hello\"}"), 2.0);
  EXPECT_EQ(Sample(m, "rappel_request_duration_seconds_count{type=\"Schedule\"}"), 1.0);
  EXPECT_EQ(Sample(m, "rappel_request_duration_seconds_count{type=\"Subscribe\"}"), 1.0);
  EXPECT_EQ(Sample(m, "rappel_request_duration_seconds_count{type=\"Ack\"}"),
            static_cast<double>(acks_sent));
  EXPECT_EQ(Sample(m, "rappel_request_duration_seconds_count{type=\"Cancel\"}"), std::nullopt);
  EXPECT_GT(Sample(m, "rappel_store_commit_duration_seconds_count").value_or(0), 0.0);
  EXPECT_GT(Sample(m, "rappel_store_commit_duration_seconds_sum").value_or(0), 0.0);
  EXPECT_EQ(Sample(m, "rappel_store_commit_records_count"),
            Sample(m, "rappel_store_commit_duration_seconds_count"));
  EXPECT_GE(Sample(m, "rappel_store_commit_records_sum").value_or(0), 3.0);
  // No tokens configured: every Hello is admin.
  EXPECT_EQ(Sample(m, "rappel_connections_by_role{role=\"admin\"}"), 2.0);
  EXPECT_EQ(Sample(m, "rappel_connections_by_role{role=\"worker\"}"), 0.0);
  // Tenant 7 has none live left: only "other" remains.
  EXPECT_EQ(Sample(m, "rappel_tenant_live_reminders{tenant=\"7\"}"), std::nullopt);
  EXPECT_EQ(Sample(m, "rappel_tenant_live_reminders{tenant=\"other\"}"), 0.0);
}

// A real Prometheus scrapes rappeld every second; its query API returns the
// number of reminders scheduled.
TEST_F(MetricsTest, PrometheusScrapesAndAnswersAQuery) {
  if (access("/usr/bin/prometheus", X_OK) != 0) GTEST_SKIP() << "prometheus absent (Debian's prometheus)";
  auto client = ScheduleSome(4);
  ASSERT_TRUE(client);
  std::string config = dir_.Sub("prometheus.yml");
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                        << "scrape_configs:\n  - job_name: rappel\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << server_.rappeld().metrics_port()
                        << "']\n";
  int port = FreePort();
  std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
  std::string config_flag = "--config.file=" + config;
  std::string storage = "--storage.tsdb.path=" + dir_.Sub("tsdb");
  std::string log = dir_.Sub("prometheus.log");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const char* argv[] = {"/usr/bin/prometheus", config_flag.c_str(), storage.c_str(),
                        listen.c_str(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, const_cast<char**>(argv), environ), 0);
  posix_spawn_file_actions_destroy(&actions);

  std::string url = "http://127.0.0.1:" + std::to_string(port) +
                    "/api/v1/query?query=rappel_reminders_scheduled_total";
  std::string last;
  bool found = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!found && std::chrono::steady_clock::now() < deadline) {
    HttpReply r = Get(url);
    last = r.body;
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[t,"4"]}]}}
    found = r.status == 200 && r.body.find("\"job\":\"rappel\"") != std::string::npos &&
            r.body.find(",\"4\"]") != std::string::npos;
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  std::ifstream in(log);
  std::string log_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(found) << "last answer: " << last << "\nprometheus log:\n" << log_text;
}

}  // namespace
}  // namespace rappel
