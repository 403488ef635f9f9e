// Server: the listening side of rappeld (Asio's server: acceptor, connection
// limit, shutdown). Sessions do the per-connection work.
//
// Thread: the io thread.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "server/net/session.h"
#include "server/net/tls.h"

namespace rappel::server {

struct ServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 7411;  // 0: any free port (tests)
  size_t max_connections = 1024;
  // Off (plain TCP) unless a certificate and key are given.
  TlsOptions tls;

  // Bytes that frames still being received may hold, all connections
  // together (PartialFrameBudget: past it, the newest connections holding
  // some are closed with ResourceExhausted). A frame larger than this can
  // never be received: keep it at least frame_limits.max_frame_bytes.
  size_t partial_frame_budget_bytes = 32u << 20;
  SessionOptions session;
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options, FrameHandler* handler);
  ~Server();
  // Loads the TLS files (if any), binds and starts accepting. Errors:
  // InvalidArgument for a TLS file that cannot be loaded (LoadServerTls) or
  // a bad address; Unavailable with the reason (address in use).
  absl::Status Start();
  // Loads `tls` and uses it for the connections accepted from now on; those
  // already open keep the context they were made with. On error (a file
  // missing or bad, see LoadServerTls; or no certificate: TLS is not turned
  // off while running) nothing changes and the previous context stays.
  absl::Status SetTls(const TlsOptions& tls);
  bool tls() const { return tls_ != nullptr; }
  // Stops accepting and closes every connection.
  void Stop();
  uint16_t port() const { return port_; }
  // After the handler's tokens changed: closes, with an Unauthenticated
  // error, every connection they no longer grant what it had
  // (FrameHandler::StillGranted). Returns how many.
  size_t CloseRevoked();
  size_t connections() const { return sessions_.size(); }
  ConnectionsByRole connections_by_role() const;
  // Shared with the sessions; read on the io thread.
  const RequestLatencies& request_latencies() const { return *latencies_; }
  const PartialFrameBudget& partial_frame_budget() const { return *budget_; }

 private:
  void Accept();

  asio::io_context& io_;
  ServerOptions options_;
  FrameHandler* handler_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::shared_ptr<asio::ssl::context> tls_;  // null: plain TCP
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  // Shared with the sessions, which may outlive the server by a handler.
  std::shared_ptr<PartialFrameBudget> budget_;
  std::shared_ptr<RequestLatencies> latencies_ = std::make_shared<RequestLatencies>();
  uint64_t next_session_id_ = 1;  // accept order: the budget closes the newest first
  bool stopped_ = false;
  // Handlers still queued when the server is destroyed (the aborted accept,
  // a session's close) may run later if the io_context runs again: they
  // check this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rappel::server
