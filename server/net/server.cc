#include "server/net/server.h"

#include "absl/strings/str_cat.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/common/log_budget.h"
#include "server/net/listen.h"
#include "server/net/tenant_access.h"

namespace rappel::server {

Server::Server(asio::io_context& io, ServerOptions options, FrameHandler* handler)
    : io_(io),
      options_(std::move(options)),
      handler_(handler),
      acceptor_(io),
      budget_(std::make_shared<PartialFrameBudget>(options_.partial_frame_budget_bytes)) {}

Server::~Server() { *alive_ = false; }

absl::Status Server::Start() {
  if (options_.tls.enabled()) {
    auto tls = LoadServerTls(options_.tls);
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
  }
  if (absl::Status st =
          OpenListener(acceptor_, options_.listen_address, options_.port, "the client port");
      !st.ok()) {
    return st;
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  return absl::OkStatus();
}

absl::Status Server::SetTls(const TlsOptions& tls) {
  if (!tls.enabled()) {
    return absl::InvalidArgumentError(
        "no TLS certificate given: TLS is not turned off while rappeld runs");
  }
  auto context = LoadServerTls(tls);
  if (!context.ok()) return context.status();
  tls_ = std::move(*context);
  options_.tls = tls;
  return absl::OkStatus();
}

void Server::Accept() {
  std::weak_ptr<bool> alive = alive_;
  acceptor_.async_accept([this, alive](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (auto a = alive.lock(); !a || !*a) return;
    if (stopped_) return;
    if (!ec) {
      if (sessions_.size() >= options_.max_connections) {
        // A client reconnecting in a loop must not flood the log.
        static LogBudget log_budget(kRefusalLinesPerSecond);
        if (LogBudget::Grant g = log_budget.Take(SystemNowMs()); g.log) {
          asio::error_code pe;
          auto peer = socket.remote_endpoint(pe);
          LogWarn(absl::StrCat(
              "refused a connection from ",
              pe ? std::string("?") : absl::StrCat(peer.address().to_string(), ":", peer.port()),
              ": connection limit of ", options_.max_connections, " reached",
              g.suppressed > 0 ? absl::StrCat(" (", g.suppressed, " more not logged)")
                               : std::string()));
        }
        // Say why before closing, so the client can report it (after the
        // handshake on the TLS port, or it could not read it).
        auto frame = std::make_shared<FrameBytes>(
            ErrorFrame(0, protocol::wire::ErrorCode::ResourceExhausted,
                       absl::StrCat("connection limit of ", options_.max_connections, " reached")));
        auto stream = std::make_shared<protocol::Stream>(std::move(socket), tls_);
        stream->AsyncHandshake(
            asio::ssl::stream_base::server,
            std::chrono::milliseconds(options_.session.handshake_timeout_ms),
            [frame, stream](asio::error_code ec) {
              if (ec) {
                stream->close(ec);
                return;
              }
              asio::async_write(*stream, asio::buffer(*frame),
                                [frame, stream](asio::error_code, size_t) {
                                  asio::error_code ignored;
                                  stream->close(ignored);
                                });
            });
      } else {
        auto session = std::make_shared<Session>(std::move(socket), tls_, handler_, options_.session,
                                                 budget_, next_session_id_++,
                                                 [this, alive](Session* s) {
                                                   if (auto a = alive.lock(); a && *a) {
                                                     sessions_.erase(s);
                                                   }
                                                 },
                                                 latencies_);
        sessions_[session.get()] = session;
        session->Start();
      }
    }
    Accept();
  });
}

size_t Server::CloseRevoked() {
  std::vector<std::shared_ptr<Session>> revoked;
  for (const auto& [raw, session] : sessions_) {
    if (!handler_->StillGranted(session->connection())) revoked.push_back(session);
  }
  for (const auto& session : revoked) {
    session->Revoke("the token of this connection was revoked or changed by a reload");
  }
  return revoked.size();
}

void Server::Stop() {
  stopped_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  auto sessions = sessions_;  // Close() erases from sessions_
  for (auto& [ptr, session] : sessions) session->Close();
  sessions_.clear();
}

ConnectionsByRole Server::connections_by_role() const {
  ConnectionsByRole by;
  for (const auto& [ptr, session] : sessions_) {
    const Connection& c = session->connection();
    if (!c.greeted) {
      ++by.none;
      continue;
    }
    switch (c.role) {
      case protocol::wire::Role::Producer: ++by.producer; break;
      case protocol::wire::Role::Worker: ++by.worker; break;
      case protocol::wire::Role::Admin: ++by.admin; break;
      case protocol::wire::Role::Replica: break;  // refused at Hello on this port
    }
  }
  return by;
}

}  // namespace rappel::server
