// rappeld's signals, on the built executable: SIGHUP reloads the tokens
// and the TLS files from the configuration file without closing
// connections and refuses a file that does not resolve or load; SIGPIPE
// does not kill it.
#include <signal.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rappel/client.h"
#include "tests/testing/rappeld_process.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server {
namespace {

using rappel::testing::RappeldProcess;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string Config(const std::string& secret, int port = 0) {
  return "[server]\nport = " + std::to_string(port) + "\n[store]\ndata_dir = \"db\"\n" +
         "[[token]]\nsecret = \"" + secret + "\"\nrole = \"admin\"\n";
}

absl::StatusOr<std::unique_ptr<client::BlockingClient>> Connect(uint16_t port,
                                                                const std::string& token) {
  client::Options o;
  o.port = port;
  o.timeout = std::chrono::milliseconds(5000);
  o.token = token;
  return client::BlockingClient::Connect(o);
}

TEST(RappeldSignalsTest, SighupReloadsTokensAndRefusesABadFile) {
  rappel::testing::TempDir dir;
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, Config("first-secret"));
  RappeldProcess rappeld({"--config", config});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  auto before = Connect(rappeld.port(), "first-secret");
  ASSERT_TRUE(before.ok()) << before.status();

  // A new token replaces the old one for the next Hello; the connection
  // greeted with the removed one is closed, one whose token stays is not.
  WriteFile(config, Config("first-secret") + "[[token]]\nsecret = \"kept-secret\"\nrole = \"admin\"\n");
  size_t mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration reloaded", mark)) << rappeld.output();
  auto kept = Connect(rappeld.port(), "kept-secret");
  ASSERT_TRUE(kept.ok()) << kept.status();
  WriteFile(config, Config("second-secret") + "[[token]]\nsecret = \"kept-secret\"\nrole = \"admin\"\n");
  mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration reloaded", mark)) << rappeld.output();
  EXPECT_THAT(rappeld.output().substr(mark), ::testing::HasSubstr("closed 1 connection(s)"));
  EXPECT_FALSE((*before)->Ping().ok()) << "the removed token's connection is closed";
  EXPECT_TRUE((*kept)->Ping().ok()) << "a token that stays keeps its connections";
  EXPECT_TRUE(Connect(rappeld.port(), "second-secret").ok());
  auto old_token = Connect(rappeld.port(), "first-secret");
  EXPECT_TRUE(absl::IsUnauthenticated(old_token.status())) << old_token.status();

  // A file that does not resolve: refused, logged, the running tokens stay.
  WriteFile(config, "[server]\nport = \"seven\"\n");
  mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration refused", mark)) << rappeld.output();
  EXPECT_THAT(rappeld.output().substr(mark), ::testing::HasSubstr("port"));
  EXPECT_TRUE(Connect(rappeld.port(), "second-secret").ok());
  EXPECT_TRUE((*kept)->Ping().ok());

  // A setting only a restart applies: logged and kept.
  WriteFile(config, Config("second-secret", rappeld.port() == 65535 ? 65534 : 65535));
  mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration reloaded", mark)) << rappeld.output();
  EXPECT_THAT(rappeld.output().substr(mark),
              ::testing::HasSubstr("[server] port 0 -> 6553"));
  EXPECT_THAT(rappeld.output().substr(mark), ::testing::HasSubstr("needs a restart; kept"));
  EXPECT_TRUE(Connect(rappeld.port(), "second-secret").ok());

  EXPECT_EQ(rappeld.Stop(), 0) << rappeld.output();
}

// A certificate renewed on disk: SIGHUP serves it to the connections that
// come after; a key that does not match refuses the reload.
TEST(RappeldSignalsTest, SighupReloadsTlsFiles) {
  rappel::testing::TempDir dir;
  rappel::testing::TestPki pki(dir.path());
  ASSERT_TRUE(pki.Make());
  std::string config = dir.Sub("rappeld.toml");
  auto tls_config = [&](const std::string& cert, const std::string& key) {
    return "[server]\nport = 0\ntls_cert_file = \"" + cert + "\"\ntls_key_file = \"" + key +
           "\"\n[store]\ndata_dir = \"db\"\n";
  };
  WriteFile(config, tls_config("server.pem", "server.key"));
  RappeldProcess rappeld({"--config", config});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  auto connect = [&](const std::string& ca) {
    client::Options o;
    o.port = rappeld.port();
    o.timeout = std::chrono::milliseconds(5000);
    o.tls.enabled = true;
    o.tls.ca_file = pki(ca);
    return client::BlockingClient::Connect(o);
  };
  auto before = connect("ca.pem");
  ASSERT_TRUE(before.ok()) << before.status();

  WriteFile(config, tls_config("other-server.pem", "server.key"));
  size_t mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration refused", mark)) << rappeld.output();
  EXPECT_TRUE(connect("ca.pem").ok()) << "the running certificate stays";

  WriteFile(config, tls_config("other-server.pem", "other-server.key"));
  mark = rappeld.output().size();
  ASSERT_EQ(kill(rappeld.pid(), SIGHUP), 0);
  ASSERT_TRUE(rappeld.WaitForOutput("SIGHUP: configuration reloaded", mark)) << rappeld.output();
  EXPECT_TRUE(connect("other-ca.pem").ok());
  EXPECT_FALSE(connect("ca.pem").ok());
  EXPECT_TRUE((*before)->Ping().ok()) << "an open connection keeps its certificate";
  EXPECT_EQ(rappeld.Stop(), 0) << rappeld.output();
}

TEST(RappeldSignalsTest, SigpipeIsIgnored) {
  rappel::testing::TempDir dir;
  RappeldProcess rappeld({"--port", "0", "--data-dir", dir.Sub("db")});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();
  ASSERT_EQ(kill(rappeld.pid(), SIGPIPE), 0);
  auto c = Connect(rappeld.port(), "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->Ping().ok());
  EXPECT_EQ(rappeld.Stop(), 0) << rappeld.output();
}

}  // namespace
}  // namespace rappel::server
