// rappeld's configuration file and flags (server/main/config.h): every class
// of error with its file, line and key; secret files; flags over the file;
// the shipped example; and the built rappeld started with a file.
#include "server/main/config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rappel/client.h"
#include "tests/testing/rappeld_process.h"
#include "tests/testing/temp_dir.h"
#include "toml++/toml.h"

namespace rappel::server {
namespace {

using protocol::wire::Role;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using rappel::testing::RappeldProcess;

void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The roles of the tokens whose secrets are `secrets` (each found by its
// hash, as Hello finds it); a secret that is not a token is missing from
// the map. Also checks there are no other tokens.
std::map<std::string, Role> Roles(const HandlerOptions& h,
                                  const std::vector<std::string>& secrets) {
  std::map<std::string, Role> out;
  for (const std::string& s : secrets) {
    if (const Credential* c = FindCredential(h.tokens, s)) out.emplace(s, c->role);
  }
  EXPECT_EQ(h.tokens.size(), secrets.size());
  return out;
}

// Applies `text` as "test.toml" over the defaults; returns the error message
// ("" when accepted).
std::string ErrorOf(const std::string& text) {
  RappeldOptions options = DefaultRappeldOptions();
  absl::Status st = ApplyConfigText(text, "test.toml", options);
  EXPECT_FALSE(st.ok()) << text;
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  return std::string(st.message());
}

TEST(ConfigTest, SetsEverySettingOfTheFile) {
  RappeldOptions o = DefaultRappeldOptions();
  ASSERT_TRUE(ApplyConfigText(R"(
[server]
listen = "::1"
port = 7500
max_connections = 10
idle_timeout_ms = 2000
max_frame_bytes = 65536
partial_frame_budget_bytes = 2097152
frame_timeout_ms = 1500
[store]
data_dir = "/var/lib/rappel"
max_map_bytes = 134217728
[engine]
horizon_days = 30
huge_pages = 0
[dispatch]
lease_timeout_ms = 500
max_attempts = 3
backoff_base_ms = 10
backoff_max_ms = 1000
[[token]]
secret = "p"
role = "producer"
[[token]]
secret = "w"
role = "worker"
)",
                              "test.toml", o)
                  .ok());
  EXPECT_EQ(o.server.listen_address, "::1");
  EXPECT_EQ(o.server.port, 7500);
  EXPECT_EQ(o.server.max_connections, 10u);
  EXPECT_EQ(o.server.session.idle_timeout_ms, 2000);
  EXPECT_EQ(o.server.session.frame_limits.max_frame_bytes, 65536u);
  EXPECT_EQ(o.server.partial_frame_budget_bytes, size_t{2097152});
  EXPECT_EQ(o.server.session.frame_timeout_ms, 1500);
  EXPECT_EQ(o.engine.store.path, "/var/lib/rappel");
  EXPECT_EQ(o.engine.store.max_map_bytes, uint64_t{134217728});
  EXPECT_EQ(o.engine.horizon_ms, uint64_t{30} * 86'400'000);
  EXPECT_FALSE(o.engine.huge_pages);
  EXPECT_EQ(o.dispatch.lease_timeout_ms, 500);
  EXPECT_EQ(o.dispatch.max_attempts, 3u);
  EXPECT_EQ(o.dispatch.backoff_base_ms, 10);
  EXPECT_EQ(o.dispatch.backoff_max_ms, 1000);
  EXPECT_EQ(Roles(o.handler, {"p", "w"}),
            (std::map<std::string, Role>{{"p", Role::Producer}, {"w", Role::Worker}}));
}

TEST(ConfigTest, EmptyFileKeepsTheDefaults) {
  RappeldOptions o = DefaultRappeldOptions();
  ASSERT_TRUE(ApplyConfigText("# nothing\n", "test.toml", o).ok());
  EXPECT_EQ(o.server.port, 7411);
  EXPECT_EQ(o.engine.store.path, "rappel-data");
  EXPECT_TRUE(o.handler.tokens.empty());
}

TEST(ConfigTest, SyntaxErrorNamesFileAndLine) {
  EXPECT_THAT(ErrorOf("[server]\nport = \n"),
              AllOf(HasSubstr("test.toml:2:"), HasSubstr("syntax error")));
  EXPECT_THAT(ErrorOf("[server]\nport = 1\nport = 2\n"),
              AllOf(HasSubstr("test.toml:3:"), HasSubstr("syntax error")));
}

TEST(ConfigTest, RefusesUnknownSectionsAndKeys) {
  EXPECT_THAT(ErrorOf("[server]\nport = 1\n\n[stroe]\ndata_dir = \"x\"\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("stroe"), HasSubstr("unknown section")));
  EXPECT_THAT(ErrorOf("[server]\nport = 1\nmax_conections = 5\n"),
              AllOf(HasSubstr("test.toml:3:1"), HasSubstr("[server] max_conections"),
                    HasSubstr("unknown key"), HasSubstr("max_connections")));
  // A key of another section is unknown here.
  EXPECT_THAT(ErrorOf("[server]\ndata_dir = \"x\"\n"),
              AllOf(HasSubstr("test.toml:2:"), HasSubstr("[server] data_dir: unknown key")));
  EXPECT_THAT(ErrorOf("port = 1\n"), AllOf(HasSubstr("test.toml:1:"), HasSubstr("port"),
                                            HasSubstr("unknown section")));
  EXPECT_THAT(ErrorOf("[[token]]\nsecret = \"s\"\nrole = \"admin\"\nrloe = \"x\"\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("[[token]] #1 rloe"),
                    HasSubstr("unknown key")));
}

TEST(ConfigTest, RefusesWrongTypes) {
  EXPECT_THAT(ErrorOf("[server]\nport = \"7411\"\n"),
              AllOf(HasSubstr("test.toml:2:"), HasSubstr("[server] port"),
                    HasSubstr("expected an integer, got a string")));
  EXPECT_THAT(ErrorOf("[dispatch]\n\nlease_timeout_ms = 1.5\n"),
              AllOf(HasSubstr("test.toml:3:"), HasSubstr("[dispatch] lease_timeout_ms"),
                    HasSubstr("got a float")));
  EXPECT_THAT(ErrorOf("[store]\ndata_dir = 3\n"),
              AllOf(HasSubstr("[store] data_dir"), HasSubstr("expected a string, got an integer")));
  EXPECT_THAT(ErrorOf("server = 3\n"), AllOf(HasSubstr("test.toml:1:"), HasSubstr("server"),
                                              HasSubstr("expected a table")));
  EXPECT_THAT(ErrorOf("[token]\nsecret = \"s\"\n"),
              AllOf(HasSubstr("test.toml:1:"), HasSubstr("expected [[token]] tables")));
  EXPECT_THAT(ErrorOf("[[token]]\nsecret = 42\nrole = \"admin\"\n"),
              AllOf(HasSubstr("test.toml:2:"), HasSubstr("[[token]] #1 secret"),
                    HasSubstr("expected a string")));
}

TEST(ConfigTest, RefusesValuesOutOfRange) {
  EXPECT_THAT(ErrorOf("[server]\nport = 70000\n"),
              AllOf(HasSubstr("test.toml:2:"), HasSubstr("[server] port"),
                    HasSubstr("70000 is out of range (0 to 65535)")));
  EXPECT_THAT(ErrorOf("[server]\nmax_connections = 0\n"), HasSubstr("out of range"));
  EXPECT_THAT(ErrorOf("[server]\nmax_connections = -5\n"), HasSubstr("out of range"));
  EXPECT_THAT(ErrorOf("[engine]\nhorizon_days = 20000\n"),
              AllOf(HasSubstr("[engine] horizon_days"), HasSubstr("out of range (1 to 18000)")));
  EXPECT_THAT(ErrorOf("[store]\nmax_map_bytes = 1024\n"), HasSubstr("out of range"));
  EXPECT_THAT(ErrorOf("[engine]\nhuge_pages = 2\n"),
              AllOf(HasSubstr("[engine] huge_pages"), HasSubstr("out of range (0 to 1)")));
  EXPECT_THAT(ErrorOf("[server]\nlisten = \"localhost:80\"\n"),
              AllOf(HasSubstr("[server] listen"), HasSubstr("not an IP address")));
  EXPECT_THAT(ErrorOf("[store]\ndata_dir = \"\"\n"),
              AllOf(HasSubstr("[store] data_dir"), HasSubstr("must not be empty")));
}

TEST(ConfigTest, RefusesBadTokens) {
  EXPECT_THAT(ErrorOf("[[token]]\nsecret = \"s3cret\"\nrole = \"root\"\n"),
              AllOf(HasSubstr("test.toml:3:"), HasSubstr("[[token]] #1 role"),
                    HasSubstr("unknown role 'root'"), Not(HasSubstr("s3cret"))));
  EXPECT_THAT(ErrorOf("[[token]]\nsecret = \"s3cret\"\nrole = \"admin\"\n"
                      "[[token]]\nsecret = \"s3cret\"\nrole = \"worker\"\n"),
              AllOf(HasSubstr("test.toml:5:"), HasSubstr("[[token]] #2"),
                    HasSubstr("duplicate token"), HasSubstr("#1"), Not(HasSubstr("s3cret"))));
  EXPECT_THAT(ErrorOf("[[token]]\nsecret = \"\"\nrole = \"admin\"\n"),
              AllOf(HasSubstr("test.toml:2:"), HasSubstr("[[token]] #1"),
                    HasSubstr("empty secret")));
  EXPECT_THAT(ErrorOf("[[token]]\nsecret = \"s\"\n"),
              AllOf(HasSubstr("test.toml:1:"), HasSubstr("missing role")));
  EXPECT_THAT(ErrorOf("[[token]]\nrole = \"admin\"\n"), HasSubstr("exactly one of secret"));
  EXPECT_THAT(ErrorOf("[[token]]\nrole = \"admin\"\nsecret = \"a\"\nsecret_file = \"b\"\n"),
              HasSubstr("exactly one of secret"));
}

TEST(ConfigTest, AnErrorChangesNothing) {
  RappeldOptions o = DefaultRappeldOptions();
  EXPECT_FALSE(ApplyConfigText("[server]\nport = 9000\nmax_connections = 0\n", "t.toml", o).ok());
  EXPECT_EQ(o.server.port, 7411);
}

TEST(ConfigTest, SecretFileRelativeToTheConfigFile) {
  rappel::testing::TempDir dir;
  WriteFile(dir.Sub("worker.secret"), "w0rk-secret\n");
  WriteFile(dir.Sub("empty.secret"), "\n");
  WriteFile(dir.Sub("open.secret"), "x\n", 0644);
  std::string config = dir.Sub("rappeld.toml");
  RappeldOptions o = DefaultRappeldOptions();
  WriteFile(config,
            "[store]\ndata_dir = \"db\"\n[[token]]\nsecret_file = \"worker.secret\"\nrole = "
            "\"worker\"\n");
  ASSERT_TRUE(ApplyConfigFile(config, o).ok());
  EXPECT_EQ(Roles(o.handler, {"w0rk-secret"}),
            (std::map<std::string, Role>{{"w0rk-secret", Role::Worker}}));
  EXPECT_EQ(o.engine.store.path, dir.Sub("db"));

  auto error = [&](const std::string& text) {
    WriteFile(config, text);
    RappeldOptions fresh = DefaultRappeldOptions();
    absl::Status st = ApplyConfigFile(config, fresh);
    EXPECT_FALSE(st.ok());
    return std::string(st.message());
  };
  EXPECT_THAT(error("[[token]]\nrole = \"admin\"\nsecret_file = \"empty.secret\"\n"),
              AllOf(HasSubstr(config + ":3:"), HasSubstr("empty secret")));
  EXPECT_THAT(error("[[token]]\nrole = \"admin\"\nsecret_file = \"missing.secret\"\n"),
              AllOf(HasSubstr(config + ":3:"), HasSubstr("cannot read secret_file"),
                    HasSubstr("missing.secret")));
  EXPECT_THAT(error("[[token]]\nrole = \"admin\"\nsecret_file = \"open.secret\"\n"),
              HasSubstr("readable by every user"));
  // The same secret from a file and inline.
  EXPECT_THAT(error("[[token]]\nrole = \"admin\"\nsecret_file = \"worker.secret\"\n"
                    "[[token]]\nrole = \"worker\"\nsecret = \"w0rk-secret\"\n"),
              AllOf(HasSubstr("duplicate token"), Not(HasSubstr("w0rk-secret"))));

  RappeldOptions missing = DefaultRappeldOptions();
  EXPECT_THAT(std::string(ApplyConfigFile(dir.Sub("nope.toml"), missing).message()),
              HasSubstr("cannot read configuration file " + dir.Sub("nope.toml")));
}

TEST(ConfigTest, TokenFlagSharesTheChecks) {
  HandlerOptions h;
  EXPECT_TRUE(AddTokenFlag("a=b=producer", h).ok());  // the last '=' separates
  EXPECT_EQ(Roles(h, {"a=b"}), (std::map<std::string, Role>{{"a=b", Role::Producer}}));
  EXPECT_THAT(std::string(AddTokenFlag("secret", h).message()), HasSubstr("expected SECRET=ROLE"));
  EXPECT_THAT(std::string(AddTokenFlag("s3cret=root", h).message()),
              AllOf(HasSubstr("unknown role 'root'"), Not(HasSubstr("s3cret"))));
  EXPECT_THAT(std::string(AddTokenFlag("=admin", h).message()), HasSubstr("empty secret"));
  EXPECT_THAT(std::string(AddTokenFlag("a=b=admin", h).message()), HasSubstr("duplicate token"));
}

std::vector<uint32_t> Ids(const std::optional<std::vector<TenantId>>& tenants) {
  std::vector<uint32_t> out;
  for (TenantId t : tenants.value_or(std::vector<TenantId>{})) out.push_back(t.value);
  return out;
}

TEST(ConfigTest, TokenNamesAndTenants) {
  RappeldOptions o = DefaultRappeldOptions();
  ASSERT_TRUE(ApplyConfigText(R"(
[[token]]
secret = "old"
role = "producer"
[[token]]
secret = "scoped"
role = "producer"
name = "clinic-a"
tenants = [7, 2, 4294967295]
[[token]]
secret = "every"
role = "admin"
tenants = "all"
)",
                              "test.toml", o)
                  .ok());
  ASSERT_EQ(o.handler.tokens.size(), 3u);
  // A token without the new keys keeps working: all tenants, a default name.
  const Credential* old = FindCredential(o.handler.tokens, "old");
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->name, "token #1");
  EXPECT_FALSE(old->tenants.has_value());
  const Credential* scoped = FindCredential(o.handler.tokens, "scoped");
  ASSERT_NE(scoped, nullptr);
  EXPECT_EQ(scoped->name, "clinic-a");
  EXPECT_EQ(Ids(scoped->tenants), (std::vector<uint32_t>{2, 7, 4294967295u}));  // sorted
  EXPECT_FALSE(FindCredential(o.handler.tokens, "every")->tenants.has_value());
  EXPECT_EQ(FindCredential(o.handler.tokens, "every")->name, "token #3");
}

TEST(ConfigTest, RefusesBadNamesAndTenants) {
  const std::string head = "[[token]]\nsecret = \"s3cret\"\nrole = \"producer\"\n";
  EXPECT_THAT(ErrorOf(head + "tenants = []\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("[[token]] #1 tenants"),
                    HasSubstr("no tenant"), Not(HasSubstr("s3cret"))));
  EXPECT_THAT(ErrorOf(head + "tenants = [1, 2, 1]\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("tenant 1 is listed twice")));
  EXPECT_THAT(ErrorOf(head + "tenants = [1, -2]\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("-2 is not a tenant id")));
  EXPECT_THAT(ErrorOf(head + "tenants = [4294967296]\n"), HasSubstr("is not a tenant id"));
  EXPECT_THAT(
      ErrorOf(head + "tenants = [\"1\"]\n"),
      AllOf(HasSubstr("[[token]] #1 tenants"), HasSubstr("expected tenant ids (integers)")));
  EXPECT_THAT(ErrorOf(head + "tenants = \"some\"\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("expected \"all\" or an array")));
  EXPECT_THAT(ErrorOf(head + "tenants = 3\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("expected \"all\" or an array"),
                    HasSubstr("got an integer")));
  EXPECT_THAT(ErrorOf(head + "name = \"\"\n"),
              AllOf(HasSubstr("test.toml:4:"), HasSubstr("[[token]] #1 name"),
                    HasSubstr("1 to 64 printable")));
  EXPECT_THAT(ErrorOf(head + "name = \"a\\nb\"\n"), HasSubstr("1 to 64 printable"));
  EXPECT_THAT(ErrorOf(head + "name = \"" + std::string(65, 'x') + "\"\n"),
              HasSubstr("1 to 64 printable"));
  EXPECT_THAT(ErrorOf(head + "name = 5\n"),
              AllOf(HasSubstr("[[token]] #1 name"), HasSubstr("expected a string")));
  EXPECT_THAT(ErrorOf(head + "name = \"x\"\n[[token]]\nsecret = \"t\"\nrole = \"admin\"\n"
                             "name = \"x\"\n"),
              AllOf(HasSubstr("test.toml:8:"), HasSubstr("[[token]] #2 name"),
                    HasSubstr("duplicate token name 'x'")));
  EXPECT_THAT(ErrorOf(head + "tenant = [1]\n"),
              AllOf(HasSubstr("[[token]] #1 tenant"), HasSubstr("optionally name and tenants")));
}

TEST(ConfigTest, TokenFlagTakesTenantsAndName) {
  HandlerOptions h;
  ASSERT_TRUE(AddTokenFlag("p=producer", h).ok());
  ASSERT_TRUE(AddTokenFlag("a:b=admin:all:ops team", h).ok());
  ASSERT_TRUE(AddTokenFlag("w=worker:3,1", h).ok());
  ASSERT_TRUE(AddTokenFlag("x=producer:9:name:with:colons", h).ok());
  const Credential* p = FindCredential(h.tokens, "p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "token #1");
  EXPECT_FALSE(p->tenants.has_value());
  const Credential* a = FindCredential(h.tokens, "a:b");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->role, Role::Admin);
  EXPECT_EQ(a->name, "ops team");
  EXPECT_FALSE(a->tenants.has_value());
  const Credential* w = FindCredential(h.tokens, "w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->role, Role::Worker);
  EXPECT_EQ(w->name, "token #3");
  EXPECT_EQ(Ids(w->tenants), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(FindCredential(h.tokens, "x")->name, "name:with:colons");

  auto error = [&](std::string_view flag) { return std::string(AddTokenFlag(flag, h).message()); };
  EXPECT_THAT(error("s3cret=producer:"),
              AllOf(HasSubstr("is not a tenant id"), Not(HasSubstr("s3cret"))));
  EXPECT_THAT(error("s3cret=producer:1,,2"), HasSubstr("'' is not a tenant id"));
  EXPECT_THAT(error("s3cret=producer:1,x"), HasSubstr("'x' is not a tenant id"));
  EXPECT_THAT(error("s3cret=producer:-1"), HasSubstr("'-1' is not a tenant id"));
  EXPECT_THAT(error("s3cret=producer:4294967296"), HasSubstr("is not a tenant id"));
  EXPECT_THAT(error("s3cret=producer:2,2"), HasSubstr("tenant 2 is listed twice"));
  EXPECT_THAT(error("s3cret=producer:2:"), HasSubstr("1 to 64 printable"));
  EXPECT_THAT(error("s3cret=producer:2:ops team"), HasSubstr("duplicate token name 'ops team'"));
  EXPECT_THAT(error("s3cret=boss:2"), HasSubstr("unknown role 'boss'"));
  EXPECT_EQ(h.tokens.size(), 4u);  // none of the refused ones was added
}

TEST(CredentialsTest, SecretsAreKeptAsTheirSha256) {
  // FIPS 180-2's test vector for "abc".
  SecretHash h = HashSecret("abc");
  const uint8_t want[] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                          0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                          0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_TRUE(std::equal(h.begin(), h.end(), std::begin(want)));
  HandlerOptions handler;
  std::string secret = "right-secret";
  ASSERT_TRUE(AddToken(secret, "producer", TokenScope{}, handler).ok());
  EXPECT_EQ(secret.find("right"), std::string::npos);  // wiped once hashed
  ASSERT_EQ(handler.tokens.size(), 1u);
  EXPECT_EQ(handler.tokens[0].hash, HashSecret("right-secret"));
  EXPECT_NE(FindCredential(handler.tokens, "right-secret"), nullptr);
  // Wrong: another secret, one byte off, a prefix, a longer one, empty.
  EXPECT_EQ(FindCredential(handler.tokens, "right-secreT"), nullptr);
  EXPECT_EQ(FindCredential(handler.tokens, "right-secre"), nullptr);
  EXPECT_EQ(FindCredential(handler.tokens, "right-secret "), nullptr);
  EXPECT_EQ(FindCredential(handler.tokens, ""), nullptr);
}

// rappeld's command line on a fresh CLI11 app.
absl::StatusOr<RappeldOptions> Parse(const std::string& args) {
  CLI::App app;
  CommandLine command_line(app);
  try {
    app.parse(args, false);
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return command_line.Resolve();
}

TEST(CommandLineTest, NoFileNoFlagsGivesTheDefaults) {
  auto o = Parse("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->server.port, 7411);
  EXPECT_EQ(o->server.listen_address, "127.0.0.1");
  EXPECT_EQ(o->engine.store.path, "rappel-data");
  EXPECT_TRUE(o->handler.tokens.empty());
}

TEST(CommandLineTest, FlagsOverrideTheFile) {
  rappel::testing::TempDir dir;
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, R"(
[server]
port = 8000
max_connections = 7
[dispatch]
max_attempts = 9
backoff_base_ms = 50
[[token]]
secret = "from-file"
role = "admin"
)");
  auto o = Parse("--config " + config + " --port 9000 --backoff-base-ms 60 --data-dir /tmp/x");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->server.port, 9000);             // flag over the file
  EXPECT_EQ(o->server.max_connections, 7u);    // file
  EXPECT_EQ(o->dispatch.max_attempts, 9u);     // file
  EXPECT_EQ(o->dispatch.backoff_base_ms, 60);  // flag over the file
  EXPECT_EQ(o->engine.store.path, "/tmp/x");   // flag over the default
  EXPECT_EQ(Roles(o->handler, {"from-file"}),
            (std::map<std::string, Role>{{"from-file", Role::Admin}}));

  // --token replaces the tokens of the file.
  o = Parse("--config " + config + " --token cli=worker --token cli2=producer");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(Roles(o->handler, {"cli", "cli2"}),
            (std::map<std::string, Role>{{"cli", Role::Worker}, {"cli2", Role::Producer}}));
}

TEST(CommandLineTest, FlagErrorsNameTheFlag) {
  EXPECT_THAT(std::string(Parse("--port 70000").status().message()),
              HasSubstr("--port: 70000 is out of range (0 to 65535)"));
  EXPECT_THAT(std::string(Parse("--listen nowhere").status().message()),
              HasSubstr("--listen: 'nowhere' is not an IP address"));
  EXPECT_THAT(std::string(Parse("--token a=admin --token s3cret=boss").status().message()),
              AllOf(HasSubstr("--token #2: unknown role 'boss'"), Not(HasSubstr("s3cret"))));
  EXPECT_THAT(std::string(Parse("--token a=admin --token a=worker").status().message()),
              HasSubstr("--token #2: duplicate token"));
  EXPECT_THAT(std::string(Parse("--backoff-base-ms 5000 --backoff-max-ms 100").status().message()),
              HasSubstr("backoff_base_ms (5000) is larger than backoff_max_ms (100)"));
  EXPECT_THAT(std::string(Parse("--config /nonexistent/r.toml").status().message()),
              HasSubstr("cannot read configuration file /nonexistent/r.toml"));
}

TEST(CommandLineTest, MetricsListenerIsOffByDefaultAndLoopbackOnly) {
  auto o = Parse("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->metrics.enabled());
  EXPECT_EQ(o->metrics.listen, "127.0.0.1");

  rappel::testing::TempDir dir;
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, "[metrics]\nlisten = \"::1\"\nport = 9100\n");
  o = Parse("--config " + config);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->metrics.listen, "::1");
  EXPECT_EQ(o->metrics.port, 9100);
  o = Parse("--config " + config + " --metrics-port 0");  // the flag over the file
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->metrics.port, 0);
  EXPECT_TRUE(o->metrics.enabled());

  EXPECT_THAT(std::string(Parse("--metrics-port 65536").status().message()),
              HasSubstr("--metrics-port: 65536 is out of range (-1 to 65535)"));
  auto wide = Parse("--metrics-port 9100 --metrics-listen 0.0.0.0");
  EXPECT_EQ(wide.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(wide.status().message()), HasSubstr("refusing to serve metrics on 0.0.0.0"));
  // Off, the address does not matter.
  EXPECT_TRUE(Parse("--metrics-listen 0.0.0.0").ok());
}

TEST(CommandLineTest, SyncStandbysNeedAReplicationListener) {
  auto o = Parse("");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->replication.sync_standbys, 0u);  // asynchronous unless asked
  rappel::testing::TempDir dir;
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, "[replication]\nport = 0\nsync_standbys = 2\n[[token]]\nsecret = \"r\"\n"
                    "role = \"replica\"\n");
  o = Parse("--config " + config);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->replication.sync_standbys, 2u);
  o = Parse("--config " + config + " --sync-standbys 1");  // the flag over the file
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->replication.sync_standbys, 1u);
  // Without a listener every write would wait for ever: refused at start.
  auto none = Parse("--sync-standbys 1");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("needs a replication listener"));
  // A standby takes the shard's setting without acting on it.
  EXPECT_TRUE(Parse("--sync-standbys 1 --replica-of 127.0.0.1:7412").ok());
  EXPECT_THAT(std::string(Parse("--sync-standbys 9").status().message()),
              HasSubstr("--sync-standbys: 9 is out of range (0 to 8)"));
}

TEST(CommandLineTest, NonLoopbackNeedsATokenFromEitherSource) {
  rappel::testing::TempDir dir;
  std::string open = dir.Sub("open.toml");
  WriteFile(open, "[server]\nlisten = \"0.0.0.0\"\n");
  std::string with_token = dir.Sub("token.toml");
  WriteFile(with_token, "[server]\nlisten = \"0.0.0.0\"\n[[token]]\nsecret = \"t\"\nrole = \"admin\"\n");

  auto refused = Parse("--config " + open);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("refusing to listen on 0.0.0.0"));
  EXPECT_FALSE(Parse("--listen 0.0.0.0").ok());
  EXPECT_FALSE(Parse("--listen ::").ok());
  EXPECT_TRUE(Parse("--listen ::1").ok());

  // (plaintext = 1: this test is about tokens; TLS is the next one's.)
  EXPECT_TRUE(Parse("--config " + with_token + " --plaintext 1").ok());  // token from the file
  EXPECT_TRUE(Parse("--config " + open + " --token t=admin --plaintext 1").ok());  // the flag
  EXPECT_TRUE(Parse("--listen 0.0.0.0 --token t=admin --plaintext 1").ok());
  EXPECT_TRUE(Parse("--config " + with_token + " --listen 0.0.0.0 --plaintext 1").ok());
}

TEST(CommandLineTest, NonLoopbackNeedsTlsUnlessPlaintextIsSaid) {
  rappel::testing::TempDir dir;
  // Not loaded here (the server loads them at start): any paths will do.
  const std::string tls = " --tls-cert-file c.pem --tls-key-file k.pem";
  auto refused = Parse("--listen 0.0.0.0 --token t=admin");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(HasSubstr("refusing to listen on 0.0.0.0 without TLS"),
                    HasSubstr("tls_cert_file"), HasSubstr("plaintext = 1")));
  EXPECT_FALSE(Parse("--listen :: --token t=admin --plaintext 0").ok());
  EXPECT_TRUE(Parse("--listen 0.0.0.0 --token t=admin" + tls).ok());
  EXPECT_TRUE(Parse("--listen 0.0.0.0 --token t=admin --plaintext 1").ok());
  EXPECT_TRUE(Parse("--listen 127.0.0.1").ok());  // loopback: neither needed

  // From the file too, with its paths relative to it.
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, "[server]\nlisten = \"0.0.0.0\"\ntls_cert_file = \"c.pem\"\n"
                    "tls_key_file = \"/etc/k.pem\"\ntls_client_ca_file = \"ca.pem\"\n");
  auto from_file = Parse("--config " + config + " --token t=admin");
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->server.tls.cert_file, dir.Sub("c.pem"));
  EXPECT_EQ(from_file->server.tls.key_file, "/etc/k.pem");
  EXPECT_EQ(from_file->server.tls.client_ca_file, dir.Sub("ca.pem"));
  WriteFile(config, "[server]\nlisten = \"0.0.0.0\"\nplaintext = 1\n");
  EXPECT_TRUE(Parse("--config " + config + " --token t=admin").ok());
  WriteFile(config, "[server]\nlisten = \"0.0.0.0\"\nplaintext = 2\n");
  EXPECT_THAT(std::string(Parse("--config " + config).status().message()),
              HasSubstr("[server] plaintext: 2 is out of range"));

  // Settings that cannot work together.
  EXPECT_THAT(std::string(Parse("--tls-cert-file c.pem").status().message()),
              HasSubstr("both tls_cert_file and tls_key_file"));
  EXPECT_THAT(std::string(Parse("--tls-client-ca-file ca.pem").status().message()),
              HasSubstr("tls_client_ca_file is set without"));
  EXPECT_THAT(std::string(Parse("--plaintext 1" + tls).status().message()),
              HasSubstr("choose one"));
}

// The shipped example: it parses, names every setting and gives the defaults
// (so its comments stay true); its commented-out tokens parse too.
TEST(ExampleConfigTest, ParsesAndMatchesTheDefaults) {
  const std::string example = RAPPEL_EXAMPLE_CONFIG;
  std::string text = ReadFile(example);
  ASSERT_FALSE(text.empty()) << example;
  RappeldOptions o = DefaultRappeldOptions();
  absl::Status st = ApplyConfigText(text, example, o);
  ASSERT_TRUE(st.ok()) << st;

  toml::table root = toml::parse(text, example);
  const RappeldOptions defaults = DefaultRappeldOptions();
  for (const Setting& s : Settings()) {
    EXPECT_TRUE(root[s.section][s.key]) << "the example lacks [" << s.section << "] " << s.key;
    if (std::string_view(s.key) == "data_dir") continue;  // relative to the example's folder
    EXPECT_EQ(s.get(o), s.get(defaults)) << "[" << s.section << "] " << s.key;
  }
  EXPECT_TRUE(o.handler.tokens.empty());

  // Uncomment the token tables ("#[[token]]", "#role = ..."; prose is "# ").
  rappel::testing::TempDir dir;
  std::string uncommented;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 1 && line[0] == '#' && line[1] != ' ') line.erase(0, 1);
    uncommented += line + "\n";
  }
  const std::string etc_path = "/etc/rappel/worker.secret";
  ASSERT_NE(uncommented.find(etc_path), std::string::npos);
  uncommented.replace(uncommented.find(etc_path), etc_path.size(), dir.Sub("worker.secret"));
  WriteFile(dir.Sub("worker.secret"), "w\n");
  WriteFile(dir.Sub("admin.secret"), "a\n");
  WriteFile(dir.Sub("rappeld.toml"), uncommented);
  RappeldOptions with_tokens = DefaultRappeldOptions();
  st = ApplyConfigFile(dir.Sub("rappeld.toml"), with_tokens);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Roles(with_tokens.handler, {"change-me-producer", "w", "a"}),
            (std::map<std::string, Role>{
                {"change-me-producer", Role::Producer}, {"w", Role::Worker}, {"a", Role::Admin}}));
  // Its scoped token parses to what its comments say.
  const Credential* producer = FindCredential(with_tokens.handler.tokens, "change-me-producer");
  ASSERT_NE(producer, nullptr);
  EXPECT_EQ(producer->name, "clinic-a platform");
  ASSERT_TRUE(producer->tenants.has_value());
  EXPECT_EQ(producer->tenants->size(), 2u);
  EXPECT_FALSE(FindCredential(with_tokens.handler.tokens, "a")->tenants.has_value());
}

TEST(RappeldConfigEndToEndTest, TokensFromTheFileAreEnforced) {
  rappel::testing::TempDir dir;
  WriteFile(dir.Sub("producer.secret"), "pr0ducer-secret\n");
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, R"(
[server]
port = 0
[store]
data_dir = "db"
[[token]]
secret_file = "producer.secret"
role = "producer"
[[token]]
secret = "adm1n"
role = "admin"
)");
  // --max-connections: a flag beside the file.
  RappeldProcess rappeld({"--config", config, "--max-connections", "16"});
  ASSERT_NE(rappeld.port(), 0) << "rappeld did not start: " << rappeld.output();

  client::Options o;
  o.port = rappeld.port();
  o.timeout = std::chrono::milliseconds(5000);
  o.token = "pr0ducer-secret";
  auto producer = client::BlockingClient::Connect(o);
  ASSERT_TRUE(producer.ok()) << producer.status();
  EXPECT_TRUE((*producer)->Ping().ok());
  o.token = "adm1n";
  auto admin = client::BlockingClient::Connect(o);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_TRUE((*admin)->Stats().ok());
  for (std::string bad : {"wrong", "", "pr0ducer-secret\n"}) {
    o.token = bad;
    auto refused = client::BlockingClient::Connect(o);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  }
  EXPECT_EQ(rappeld.Stop(), 0) << rappeld.output();
  struct stat st;
  EXPECT_EQ(stat(dir.Sub("db").c_str(), &st), 0) << "data_dir is relative to the file";
}

TEST(RappeldConfigEndToEndTest, RefusesABadFileAtStart) {
  rappel::testing::TempDir dir;
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, "[server]\nport = 0\nlisten = \"0.0.0.0\"\n");
  RappeldProcess open({"--config", config, "--data-dir", dir.Sub("db")});
  EXPECT_EQ(open.Stop(), 2);
  EXPECT_THAT(open.output(), HasSubstr("refusing to listen on 0.0.0.0 without tokens"));

  WriteFile(config, "[server]\nprot = 0\n");
  RappeldProcess typo({"--config", config});
  EXPECT_EQ(typo.Stop(), 2);
  EXPECT_THAT(typo.output(), HasSubstr(config + ":2:1: [server] prot: unknown key"));
}

TEST(RappeldConfigEndToEndTest, CheckConfigSaysWhetherAFileIsValidWithoutStarting) {
  rappel::testing::TempDir dir;
  std::string config = dir.Sub("rappeld.toml");
  WriteFile(config, "[server]\nport = 7411\n[store]\ndata_dir = \"db\"\n");
  RappeldProcess good({"--check-config", config});
  EXPECT_EQ(good.Stop(), 0) << good.output();
  EXPECT_THAT(good.output(), AllOf(HasSubstr("is valid"), HasSubstr(":7411")));
  struct stat st;
  EXPECT_NE(stat(dir.Sub("db").c_str(), &st), 0) << "a check opens no store";

  WriteFile(config, "[server]\nprot = 0\n");
  RappeldProcess typo({"--check-config", config});
  EXPECT_EQ(typo.Stop(), 1);
  EXPECT_THAT(typo.output(), HasSubstr("[server] prot: unknown key"));
  // The flags given are checked with it.
  WriteFile(config, "[server]\nport = 0\n");
  RappeldProcess flags({"--check-config", config, "--listen", "0.0.0.0"});
  EXPECT_EQ(flags.Stop(), 1);
  EXPECT_THAT(flags.output(), HasSubstr("refusing to listen on 0.0.0.0"));

  RappeldProcess example({"--check-config", RAPPEL_EXAMPLE_CONFIG});
  EXPECT_EQ(example.Stop(), 0) << example.output();
}

TEST(RappeldConfigEndToEndTest, VersionAndBadUsage) {
  RappeldProcess version({"--version"});
  EXPECT_EQ(version.Stop(), 0);
  EXPECT_THAT(version.output(), ::testing::ContainsRegex("^rappeld [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit [0-9a-f]+"));
  RappeldProcess unknown({"--no-such-flag"});
  EXPECT_EQ(unknown.Stop(), 2);
  EXPECT_THAT(unknown.output(), HasSubstr("--no-such-flag"));
  RappeldProcess range({"--port", "70000"});
  EXPECT_EQ(range.Stop(), 2);
}

TEST(RappeldConfigEndToEndTest, HelpDocumentsConfig) {
  RappeldProcess help({"--help"});
  EXPECT_EQ(help.Stop(), 0);
  EXPECT_THAT(help.output(), AllOf(HasSubstr("--config"), HasSubstr("--backoff-max-ms"),
                                   HasSubstr("[dispatch] backoff_max_ms")));
}

}  // namespace
}  // namespace rappel::server
