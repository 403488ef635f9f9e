// A primary's replication metrics (/metrics): its term and index, and each
// connected standby's acknowledged index and lag, with a real standby
// (both rappeld in this process) following it.
#include <curl/curl.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "gtest/gtest.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string Scrape(uint16_t port) {
  std::string body;
  CURL* curl = curl_easy_init();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10'000L);
  EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
  curl_easy_cleanup(curl);
  return body;
}

// The value of one sample line ("name{labels} value"); -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(ReplicationMetricsTest, PrimaryShowsItsPositionAndEachStandbysLag) {
  rappel::testing::TempDir dir;
  rappel::testing::RappeldThread primary, standby;
  RappeldOptions p;
  p.engine.store.path = dir.Sub("primary");
  p.server.port = 0;
  p.replication.port = 0;
  p.metrics.port = 0;
  p.handler.tokens = {MakeCredential("a", protocol::wire::Role::Admin),
                      MakeCredential("r", protocol::wire::Role::Replica)};
  ASSERT_TRUE(primary.Start(p).ok());
  const uint16_t metrics_port = primary.rappeld().metrics_port();
  ASSERT_NE(metrics_port, 0);
  // No standby yet: the position, none connected.
  std::string before = Scrape(metrics_port);
  EXPECT_EQ(Sample(before, "rappel_standbys_connected"), 0) << before;
  EXPECT_EQ(Sample(before, "rappel_replication_term"), 1) << before;
  EXPECT_EQ(Sample(before, "rappel_shard_leader"), 0) << before;

  std::ofstream(dir.Sub("token")) << "r\n";
  RappeldOptions s;
  s.engine.store.path = dir.Sub("standby");
  s.replication.replica_of = "127.0.0.1:" + std::to_string(primary.rappeld().replication_port());
  s.replication.token_file = dir.Sub("token");
  s.replication.node = "sb1";
  ASSERT_TRUE(standby.Start(s).ok());

  client::Options o;
  o.port = primary.port();
  o.token = "a";
  auto c = client::BlockingClient::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status();
  const int64_t due = SystemNowMs() + 3'600'000;
  for (int i = 0; i < 5; ++i) {
    auto r = (*c)->Schedule({{1, "k" + std::to_string(i), client::Channel::kSms, "+33600000001",
                              due, 0, "p"}});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // The standby acknowledges everything: lag 0, acked = the primary's index.
  std::string text;
  for (int i = 0; i < 250; ++i) {
    text = Scrape(metrics_port);
    if (Sample(text, "rappel_standby_lag_groups{node=\"sb1\"}") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double index = Sample(text, "rappel_replication_index");
  EXPECT_GE(index, 5) << text;
  EXPECT_EQ(Sample(text, "rappel_standbys_connected"), 1) << text;
  EXPECT_EQ(Sample(text, "rappel_standby_acked_index{node=\"sb1\"}"), index) << text;
  EXPECT_EQ(Sample(text, "rappel_standby_lag_groups{node=\"sb1\"}"), 0) << text;
  standby.Stop();
  primary.Stop();
}

}  // namespace
}  // namespace rappel::server
