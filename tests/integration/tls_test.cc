// TLS on the client port end to end: an in-process rappeld with
// certificates made by `openssl` at test time (tests/testing/test_pki.h)
// and the client library. The right CA: requests flow (schedule,
// subscribe, deliver, ack). A wrong CA, a plaintext client on the TLS port,
// a TLS client on a plaintext port, a missing or foreign client certificate
// under mutual TLS, a client that never finishes its handshake: each fails
// cleanly and the server goes on serving others. Server::SetTls replaces
// the context for new connections only, and refuses bad files.
#include <asio.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "server/net/tls.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace rappel {
namespace {

using namespace std::chrono_literals;
using ::testing::AnyOf;
using ::testing::HasSubstr;

// rappeld on its own io thread.
class TestServer {
 public:
  ~TestServer() { Stop(); }

  void Start(server::RappeldOptions options) {
    options_ = options;
    io_ = std::make_unique<asio::io_context>();
    auto d = server::Rappeld::Start(*io_, std::move(options));
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = std::move(*d);
    thread_ = std::thread([this] { io_->run(); });
  }
  void Stop() {
    if (!server_) return;
    asio::post(*io_, [this] { server_->Shutdown([this] { io_->stop(); }); });
    thread_.join();
    server_.reset();
    io_.reset();
  }
  // A reload (SIGHUP's) with these TLS files, on the io thread.
  absl::Status ReloadTls(const server::TlsOptions& tls) {
    server::RappeldOptions next = options_;
    next.server.tls = tls;
    std::promise<absl::Status> done;
    asio::post(*io_, [&] { done.set_value(server_->Reload(next)); });
    return done.get_future().get();
  }
  uint16_t port() const { return server_->port(); }

 private:
  server::RappeldOptions options_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<server::Rappeld> server_;
  std::thread thread_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki_.Make()) << "openssl could not make the certificates"; }

  server::RappeldOptions ServerOptions(bool mutual = false) {
    server::RappeldOptions o;
    o.engine.store.path = dir_.Sub("db");
    o.server.port = 0;
    o.server.tls.cert_file = pki_("server.pem");
    o.server.tls.key_file = pki_("server.key");
    if (mutual) o.server.tls.client_ca_file = pki_("ca.pem");
    o.server.session.handshake_timeout_ms = 500;
    return o;
  }

  client::Options ClientOptions(const std::string& ca = "ca.pem") {
    client::Options o;
    o.port = server_.port();
    o.timeout = 5s;
    o.reconnect.enabled = false;  // one attempt: its outcome is the answer
    o.tls.enabled = true;
    o.tls.ca_file = pki_(ca);
    return o;
  }

  // A TLS client with the right CA can still connect and be answered.
  void ExpectServing() {
    auto c = client::BlockingClient::Connect(ClientOptions());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE((*c)->Ping().ok());
  }

  testing::TempDir dir_;
  testing::TestPki pki_{dir_.path()};
  TestServer server_;
};

TEST_F(TlsTest, RightCaRequestsFlow) {
  server_.Start(ServerOptions());
  auto producer = client::BlockingClient::Connect(ClientOptions());
  ASSERT_TRUE(producer.ok()) << producer.status();
  client::Options wo = ClientOptions();
  wo.tls.server_name = "localhost";  // by name (and SNI) as well as by address
  auto worker = client::BlockingClient::Connect(wo);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE((*worker)->Subscribe({client::Channel::kSms}, 16, 16).ok());

  client::Reminder r;
  r.tenant = 1;
  r.key = "appt-1/reminder";
  r.due_ms = server::SystemNowMs();
  r.channel = client::Channel::kSms;
  r.payload = "over TLS";
  auto scheduled = (*producer)->Schedule({r});
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  ASSERT_TRUE((*scheduled)[0].ok()) << (*scheduled)[0].status();

  std::vector<client::Message> got;
  for (int i = 0; i < 50 && got.empty(); ++i) {
    auto m = (*worker)->Receive(100ms);
    ASSERT_TRUE(m.ok()) << m.status();
    got = std::move(*m);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].reminder.key, "appt-1/reminder");
  EXPECT_EQ(got[0].reminder.payload, "over TLS");
  auto acked = (*worker)->Ack({{got[0].lease_id, client::AckOutcome::kDelivered, ""}});
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_TRUE((*acked)[0].ok()) << (*acked)[0];
  auto gone = (*producer)->Cancel({{r.tenant, r.key}});
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(absl::IsNotFound((*gone)[0])) << "acked: nothing left to cancel";
}

TEST_F(TlsTest, WrongCaFailsCleanlyOnTheClient) {
  server_.Start(ServerOptions());
  auto c = client::BlockingClient::Connect(ClientOptions("other-ca.pem"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(c.status().message()),
              AllOf(HasSubstr("TLS handshake"), HasSubstr("certificate verify failed")));
  // A certificate for another name does not do either.
  client::Options named = ClientOptions();
  named.tls.server_name = "rappel.example";
  auto wrong_name = client::BlockingClient::Connect(named);
  EXPECT_THAT(std::string(wrong_name.status().message()), HasSubstr("certificate verify failed"));
  ExpectServing();
}

TEST_F(TlsTest, PlaintextToTheTlsPortFailsCleanlyAndOthersAreServed) {
  server_.Start(ServerOptions());
  client::Options plain = ClientOptions();
  plain.tls.enabled = false;
  auto c = client::BlockingClient::Connect(plain);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("connect with TLS"));

  // A flood of them, each a log line at most up to the rate limit; the
  // server is not disturbed.
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 3 * server::kHandshakeLogsPerMinute; ++i) {
    EXPECT_FALSE(client::BlockingClient::Connect(plain).ok());
  }
  ExpectServing();
  std::string log = ::testing::internal::GetCapturedStderr();
  size_t lines = 0;
  for (size_t at = 0; (at = log.find("TLS handshake with 127.0.0.1", at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_LE(lines, static_cast<size_t>(server::kHandshakeLogsPerMinute)) << log;
}

TEST_F(TlsTest, AClientThatNeverFinishesItsHandshakeIsClosed) {
  server_.Start(ServerOptions());  // handshake_timeout_ms = 500
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), server_.port()});
  auto start = std::chrono::steady_clock::now();
  uint8_t byte;
  asio::error_code ec;
  s.read_some(asio::buffer(&byte, 1), ec);  // blocks until the server closes
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ExpectServing();
}

TEST_F(TlsTest, ATlsClientOnAPlaintextPortFailsCleanly) {
  server::RappeldOptions o = ServerOptions();
  o.server.tls = {};
  server_.Start(o);
  auto c = client::BlockingClient::Connect(ClientOptions());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("TLS handshake"));
  client::Options plain = ClientOptions();
  plain.tls.enabled = false;
  auto p = client::BlockingClient::Connect(plain);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)->Ping().ok());
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  server_.Start(ServerOptions(/*mutual=*/true));
  // Without a certificate: refused (during the handshake in TLS 1.2, at the
  // first read after it in TLS 1.3).
  auto none = client::BlockingClient::Connect(ClientOptions());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable) << none.status();
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("certificate"));

  client::Options foreign = ClientOptions();
  foreign.tls.cert_file = pki_("other-client.pem");
  foreign.tls.key_file = pki_("other-client.key");
  auto other = client::BlockingClient::Connect(foreign);
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(std::string(other.status().message()), AnyOf(HasSubstr("unknown ca"),
                                                           HasSubstr("certificate")));

  client::Options good = ClientOptions();
  good.tls.cert_file = pki_("client.pem");
  good.tls.key_file = pki_("client.key");
  auto c = client::BlockingClient::Connect(good);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->Ping().ok());
  EXPECT_TRUE((*c)->Stats().ok());
}

TEST_F(TlsTest, ClientRefusesTlsFilesItCannotLoad) {
  server_.Start(ServerOptions());
  auto missing = client::BlockingClient::Connect(ClientOptions("nope.pem"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.pem"));
  client::Options mismatched = ClientOptions();
  mismatched.tls.cert_file = pki_("client.pem");
  mismatched.tls.key_file = pki_("other-client.key");
  auto m = client::BlockingClient::Connect(mismatched);
  EXPECT_THAT(std::string(m.status().message()), AnyOf(HasSubstr("mismatch"), HasSubstr("does not match")));
}

TEST_F(TlsTest, SetTlsReplacesTheContextForNewConnectionsAndRefusesBadFiles) {
  server_.Start(ServerOptions());
  auto before = client::BlockingClient::Connect(ClientOptions());
  ASSERT_TRUE(before.ok()) << before.status();

  // Bad files: refused, the running context stays.
  server::TlsOptions bad;
  bad.cert_file = pki_("nope.pem");
  bad.key_file = pki_("server.key");
  absl::Status st = server_.ReloadTls(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("nope.pem"));
  bad.cert_file = pki_("server.pem");
  bad.key_file = pki_("other-server.key");
  EXPECT_THAT(std::string(server_.ReloadTls(bad).message()), AnyOf(HasSubstr("mismatch"), HasSubstr("does not match")));
  bad.key_file = pki_("server.key");
  bad.client_ca_file = pki_("nope-ca.pem");
  EXPECT_THAT(std::string(server_.ReloadTls(bad).message()), HasSubstr("nope-ca.pem"));
  EXPECT_FALSE(server_.ReloadTls({}).ok()) << "TLS is not turned off while running";
  ExpectServing();

  // A good one: new connections get the other CA's certificate, the open
  // connection goes on.
  server::TlsOptions other;
  other.cert_file = pki_("other-server.pem");
  other.key_file = pki_("other-server.key");
  ASSERT_TRUE(server_.ReloadTls(other).ok());
  EXPECT_FALSE(client::BlockingClient::Connect(ClientOptions()).ok());
  auto after = client::BlockingClient::Connect(ClientOptions("other-ca.pem"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE((*after)->Ping().ok());
  EXPECT_TRUE((*before)->Ping().ok()) << "an open connection keeps its context";
}

TEST_F(TlsTest, BadServerFilesAreRefusedAtStart) {
  server::RappeldOptions o = ServerOptions();
  o.server.tls.key_file = pki_("other-server.key");
  asio::io_context io;
  auto d = server::Rappeld::Start(io, o);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), AnyOf(HasSubstr("mismatch"), HasSubstr("does not match")));
}

}  // namespace
}  // namespace rappel
