// rappeld's log, on the built executable: the text and json formats, the
// start-up summary, --log-level filtering, and bad values refused (exit 2).
// Its stdout and stderr share one pipe: the lines starting "rappeld: " are
// the stdout ones (the "listening on" line tools read; the log's summary
// says "serving on", so that line stays the only match), every other line
// is a log line.
#include <signal.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rappel/client.h"
#include "server/common/program.h"
#include "tests/testing/rappeld_process.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::RappeldProcess;
using ::testing::HasSubstr;

// The log lines of `output`: every line but the "rappeld: " stdout ones.
std::vector<std::string> LogLines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.rfind("rappeld: ", 0) == 0) continue;
    lines.push_back(line);
  }
  return lines;
}

// The json log lines of `output` as (level, msg) pairs; a line that does not
// parse fails the test.
std::vector<std::pair<std::string, std::string>> JsonEvents(const std::string& output) {
  std::vector<std::pair<std::string, std::string>> events;
  for (const std::string& line : LogLines(output)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
    if (j.is_object()) events.emplace_back(j["level"], j["msg"]);
  }
  return events;
}

// The messages logged at `level` containing `text`.
std::vector<std::string> Logged(const std::string& output, const std::string& level,
                                const std::string& text) {
  std::vector<std::string> found;
  for (const auto& [l, m] : JsonEvents(output)) {
    if (l == level && m.find(text) != std::string::npos) found.push_back(m);
  }
  return found;
}

absl::StatusOr<std::unique_ptr<client::BlockingClient>> Connect(uint16_t port,
                                                                const std::string& token) {
  client::Options o;
  o.port = port;
  o.timeout = std::chrono::milliseconds(5000);
  o.token = token;
  return client::BlockingClient::Connect(o);
}

// Refusal lines a second (kRefusalLinesPerSecond, server/net/tenant_access.h).
constexpr size_t kRefusalLinesPerSecond = 20;

// A due time a day from now (within the horizon, never fired here).
int64_t TomorrowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         86'400'000;
}

// Connects, retrying for a moment while the server is still closing the
// connections it refused (they count toward max_connections until then).
absl::StatusOr<std::unique_ptr<client::BlockingClient>> ConnectSoon(uint16_t port,
                                                                    const std::string& token) {
  auto c = Connect(port, token);
  for (int i = 0; i < 100 && !c.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    c = Connect(port, token);
  }
  return c;
}

const std::regex kTimestamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

TEST(RappeldLogTest, JsonLinesParseAndHoldTheStartUpSummary) {
  rappel::testing::TempDir dir;
  // A data dir with a quote and a backslash: its name is in the summary,
  // which is valid JSON only if the message is escaped.
  const std::string data_dir = dir.Sub("db \"q\" \\x");
  RappeldProcess rappeld({"--port", "0", "--data-dir", data_dir, "--log-format", "json"});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  ASSERT_EQ(rappeld.Stop(), 0) << rappeld.output();

  std::vector<std::string> lines = LogLines(rappeld.output());
  ASSERT_GE(lines.size(), 3u) << rappeld.output();  // starting, listening, stopped
  std::vector<std::string> messages;
  for (const std::string& line : lines) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << "not a JSON object: " << line;
    ASSERT_EQ(j.size(), 3u) << line;
    ASSERT_TRUE(j["ts"].is_string() && j["level"].is_string() && j["msg"].is_string()) << line;
    EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(), kTimestamp)) << line;
    EXPECT_EQ(j["level"], "info") << line;
    messages.push_back(j["msg"]);
  }
  auto logged = [&](const std::string& text) {
    for (const std::string& m : messages) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(logged(VersionLine("rappeld"))) << rappeld.output();
  EXPECT_TRUE(logged("config none")) << rappeld.output();
  EXPECT_TRUE(logged("data dir " + data_dir)) << rappeld.output();
  EXPECT_TRUE(logged("serving on 127.0.0.1:" + std::to_string(rappeld.port()))) << rappeld.output();
  EXPECT_TRUE(logged("0 pending reminders recovered in ")) << rappeld.output();
  EXPECT_TRUE(logged("stopped")) << rappeld.output();
  // The tools read the port from the one "listening on" line (stdout).
  EXPECT_EQ(rappeld.output().find("listening on"), rappeld.output().rfind("listening on"));
}

TEST(RappeldLogTest, TextLinesStartWithATimestampAndALevel) {
  rappel::testing::TempDir dir;
  RappeldProcess rappeld({"--port", "0", "--data-dir", dir.Sub("db")});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  ASSERT_EQ(rappeld.Stop(), 0) << rappeld.output();
  std::vector<std::string> lines = LogLines(rappeld.output());
  ASSERT_GE(lines.size(), 3u) << rappeld.output();
  const std::regex line_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|warn|error) .+)");
  for (const std::string& line : lines) {
    EXPECT_TRUE(std::regex_match(line, line_re)) << "not a text log line: " << line;
  }
  EXPECT_THAT(rappeld.output(), HasSubstr(" info starting " + VersionLine("rappeld")));
}

TEST(RappeldLogTest, WarnLevelHidesTheInfoSummaryButNotWarnings) {
  rappel::testing::TempDir dir;
  const std::string config = dir.Sub("rappeld.toml");
  std::ofstream(config) << "[server]\nport = 0\nlog_level = \"warn\"\n[store]\ndata_dir = \"db\"\n";
  RappeldProcess rappeld({"--config", config});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  // A file that does not resolve: the refusal is a warning, still logged.
  std::ofstream(config, std::ios::trunc) << "[server]\nport = \"x\"\n";
  size_t mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration refused", mark)) << rappeld.output();
  ASSERT_EQ(rappeld.Stop(), 0) << rappeld.output();

  EXPECT_THAT(rappeld.output(), Not(HasSubstr("starting rappeld"))) << rappeld.output();
  EXPECT_THAT(rappeld.output(), Not(HasSubstr(" info "))) << rappeld.output();
  std::vector<std::string> lines = LogLines(rappeld.output());
  ASSERT_EQ(lines.size(), 1u) << rappeld.output();
  EXPECT_THAT(lines[0], HasSubstr(" warn SIGHUP: configuration refused"));
}

TEST(RappeldLogTest, BadLogSettingsExitTwoNamingTheSetting) {
  rappel::testing::TempDir dir;
  {
    RappeldProcess rappeld({"--port", "0", "--data-dir", dir.Sub("db"), "--log-format", "xml"});
    EXPECT_EQ(rappeld.port(), 0);
    EXPECT_EQ(rappeld.Stop(), 2) << rappeld.output();
    EXPECT_THAT(rappeld.output(), HasSubstr("--log-format: 'xml' is not a log format"));
  }
  {
    RappeldProcess rappeld({"--port", "0", "--data-dir", dir.Sub("db"), "--log-level", "loud"});
    EXPECT_EQ(rappeld.Stop(), 2) << rappeld.output();
    EXPECT_THAT(rappeld.output(), HasSubstr("--log-level: 'loud' is not a log level"));
  }
  {
    const std::string config = dir.Sub("rappeld.toml");
    std::ofstream(config) << "[server]\nlog_format = \"yaml\"\n";
    RappeldProcess rappeld({"--config", config});
    EXPECT_EQ(rappeld.Stop(), 2) << rappeld.output();
    EXPECT_THAT(rappeld.output(), HasSubstr("[server] log_format: 'yaml' is not a log format"));
  }
}

TEST(RappeldLogTest, RefusalsBackupsCompactionsAndSlowCommitsAreLoggedAtTheirLevel) {
  rappel::testing::TempDir dir;
  const std::string config = dir.Sub("rappeld.toml");
  // slow_commit_ms = 0: every commit is slow, so the line shows up at once.
  std::ofstream(config) << "[server]\nport = 0\nmax_connections = 2\n"
                        << "[store]\ndata_dir = \"db\"\nslow_commit_ms = 0\n"
                        << "[[token]]\nsecret = \"admin-secret-1\"\nrole = \"admin\"\n"
                        << "name = \"ops\"\n"
                        << "[[token]]\nsecret = \"clinic-secret-2\"\nrole = \"producer\"\n"
                        << "name = \"clinic-a\"\ntenants = [1]\n";
  RappeldProcess rappeld({"--config", config, "--log-format", "json"});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();

  auto admin = ConnectSoon(rappeld.port(), "admin-secret-1");
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto producer = ConnectSoon(rappeld.port(), "clinic-secret-2");
  ASSERT_TRUE(producer.ok()) << producer.status();
  // A role refusal and a tenant refusal.
  EXPECT_TRUE(absl::IsPermissionDenied((*producer)->Backup(dir.Sub("nope"))));
  client::Reminder r{.tenant = 2, .key = "k", .recipient = "+15550100", .due_ms = TomorrowMs()};
  (void)(*producer)->Schedule({r});
  // The third connection is over the limit.
  EXPECT_FALSE(Connect(rappeld.port(), "admin-secret-1").ok());
  // A flood of failed Hellos (in the slot the producer leaves): each
  // refused, a budgeted few logged. Some may meet the connection limit
  // while the server is still closing the one before.
  producer->reset();
  constexpr int kBadHellos = 60;
  for (int i = 0; i < kBadHellos; ++i) {
    EXPECT_FALSE(Connect(rappeld.port(), "wrong-secret-3").ok());
  }

  // Garbage to compact: a key written twice.
  r.tenant = 1;
  for (int i = 0; i < 2; ++i) {
    r.payload = "v" + std::to_string(i);
    auto s = (*admin)->Schedule({r});
    ASSERT_TRUE(s.ok() && s->at(0).ok()) << (s.ok() ? s->at(0).status() : s.status());
  }
  auto compacted = (*admin)->Compact();
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  const std::string backup = dir.Sub("backup");
  std::filesystem::create_directories(backup);
  ASSERT_TRUE((*admin)->Backup(backup).ok());
  ASSERT_EQ(rappeld.Stop(), 0) << rappeld.output();
  const std::string& out = rappeld.output();

  // Never a secret, whatever the line.
  EXPECT_THAT(out, Not(HasSubstr("secret-"))) << out;
  std::vector<std::string> auth = Logged(out, "warn", "authentication failed from 127.0.0.1:");
  EXPECT_GE(auth.size(), 1u) << out;
  EXPECT_LE(auth.size(), 2 * kRefusalLinesPerSecond) << out;  // at most two one-second windows
  EXPECT_LT(auth.size(), static_cast<size_t>(kBadHellos)) << out;
  EXPECT_THAT(auth.at(0), HasSubstr(": unknown token"));
  EXPECT_EQ(Logged(out, "warn", "refused Backup from 127.0.0.1:").size(), 1u) << out;
  EXPECT_EQ(Logged(out, "warn", "token 'clinic-a' has role Producer").size(), 1u) << out;
  EXPECT_EQ(Logged(out, "warn", "for tenant 2 from 127.0.0.1:").size(), 1u) << out;
  EXPECT_GE(Logged(out, "warn", "refused a connection from 127.0.0.1:").size(), 1u) << out;
  EXPECT_EQ(Logged(out, "warn", "refused a connection from ").size(),
            Logged(out, "warn", ": connection limit of 2 reached").size())
      << out;
  EXPECT_EQ(Logged(out, "info", "backup to " + backup + " started").size(), 1u) << out;
  std::vector<std::string> backed = Logged(out, "info", "backup to " + backup + " done: ");
  ASSERT_EQ(backed.size(), 1u) << out;
  EXPECT_THAT(
      backed[0],
      HasSubstr(std::to_string(std::filesystem::file_size(backup + "/data.mdb")) + " bytes in "));
  std::vector<std::string> compaction = Logged(out, "info", "compaction: dropped ");
  ASSERT_GE(compaction.size(), 1u) << out;
  EXPECT_THAT(compaction.back(), Not(HasSubstr("dropped 0 records"))) << out;
  EXPECT_GE(Logged(out, "warn", "slow commit: ").size(), 1u) << out;
}

TEST(RappeldLogTest, AFullStoreLogsTheFirstRefusalAndTheRecoveryOnly) {
  rappel::testing::TempDir dir;
  const std::string mnt = dir.Sub("tmpfs");
  std::filesystem::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=6m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs CAP_SYS_ADMIN)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    // Space the "operator" frees later.
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    filler << std::string(2 << 20, 'x');
  }
  RappeldProcess rappeld({"--port", "0", "--data-dir", mnt + "/db", "--log-format", "json"});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  auto c = Connect(rappeld.port(), "");
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<client::Reminder> batch(100);
  int next = 0;
  auto schedule = [&]() -> absl::Status {
    for (auto& r : batch) {
      r = client::Reminder{.tenant = 1,
                           .key = "k" + std::to_string(next++),
                           .recipient = "+15550100",
                           .due_ms = TomorrowMs(),
                           .payload = std::string(1000, 'p')};
    }
    auto s = (*c)->Schedule(batch);
    if (!s.ok()) return s.status();
    return s->at(0).status();
  };
  absl::Status st;
  for (int i = 0; i < 200 && (st = schedule()).ok(); ++i) {
  }
  ASSERT_TRUE(absl::IsResourceExhausted(st)) << st;
  // Refused again and again: still one line.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(schedule().ok());
  std::filesystem::remove(mnt + "/filler");
  st = schedule();
  EXPECT_TRUE(st.ok()) << st;
  ASSERT_EQ(rappeld.Stop(), 0) << rappeld.output();
  const std::string& out = rappeld.output();
  EXPECT_EQ(Logged(out, "error", "writes refused: disk full").size(), 1u) << out;
  EXPECT_EQ(Logged(out, "info", "writable again").size(), 1u) << out;
}

}  // namespace
}  // namespace rappel::server
