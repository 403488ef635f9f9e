// rappeld's log, on the built executable: the text and json formats, the
// start-up summary, --log-level filtering, and bad values refused (exit 2).
// Its stdout and stderr share one pipe: the lines starting "rappeld: " are
// the stdout ones (the "listening on" line tools read; the log's summary
// says "serving on", so that line stays the only match), every other line
// is a log line.
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
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

}  // namespace
}  // namespace rappel::server
