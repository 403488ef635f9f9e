// rappeld: the rappel server. With no options it stores its data in
// ./rappel-data and listens on 127.0.0.1:7411 with no tokens (any local
// client is admin); see --help.
#include <asio.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "server/main/rappeld.h"

namespace {

bool IsLoopback(const std::string& address) {
  asio::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

}  // namespace

int main(int argc, char** argv) {
  namespace wire = rappel::protocol::wire;
  rappel::server::RappeldOptions options;
  options.engine.store.path = "rappel-data";
  std::vector<std::string> tokens;
  int64_t horizon_days = static_cast<int64_t>(options.engine.horizon_ms / 86'400'000);

  CLI::App app{"rappeld: the rappel server (appointment reminders, durable delay queue)"};
  app.add_option("--data-dir", options.engine.store.path, "store directory (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", options.server.listen_address,
                 "address to listen on; other than loopback requires --token")
      ->capture_default_str();
  app.add_option("--port", options.server.port, "TCP port (0: any free port, printed at start)")
      ->capture_default_str();
  app.add_option("--token", tokens,
                 "TOKEN=ROLE, repeatable; ROLE is producer, worker or admin. Without any, "
                 "every local client is admin");
  app.add_option("--max-connections", options.server.max_connections,
                 "connections beyond this are refused with ResourceExhausted")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", options.server.session.idle_timeout_ms,
                 "close a connection silent for this long")
      ->capture_default_str();
  app.add_option("--max-frame-bytes", options.server.session.frame_limits.max_frame_bytes,
                 "larger frames are refused and the connection closed")
      ->capture_default_str();
  app.add_option("--lease-timeout-ms", options.dispatch.lease_timeout_ms,
                 "a message not acked by then goes to another worker")
      ->capture_default_str();
  app.add_option("--max-attempts", options.dispatch.max_attempts,
                 "failed-retryable deliveries before a dead letter")
      ->capture_default_str();
  app.add_option("--horizon-days", horizon_days, "due times further ahead are refused")
      ->capture_default_str()
      ->check(CLI::Range(1, 18000));
  app.add_option("--max-map-bytes", options.engine.store.max_map_bytes,
                 "the store never grows past this")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  options.engine.horizon_ms = static_cast<uint64_t>(horizon_days) * 86'400'000;

  for (const std::string& t : tokens) {
    auto eq = t.rfind('=');
    std::string role = eq == std::string::npos ? "" : t.substr(eq + 1);
    wire::Role r;
    if (role == "producer") {
      r = wire::Role::Producer;
    } else if (role == "worker") {
      r = wire::Role::Worker;
    } else if (role == "admin") {
      r = wire::Role::Admin;
    } else {
      std::fprintf(stderr, "rappeld: --token %s: expected TOKEN=producer|worker|admin\n", t.c_str());
      return 2;
    }
    options.handler.tokens[t.substr(0, eq)] = r;
  }
  if (options.handler.tokens.empty() && !IsLoopback(options.server.listen_address)) {
    std::fprintf(stderr,
                 "rappeld: refusing to listen on %s without tokens: anybody could read and "
                 "write every reminder. Give --token TOKEN=ROLE, or listen on 127.0.0.1.\n",
                 options.server.listen_address.c_str());
    return 2;
  }

  asio::io_context io(1);
  auto server = rappel::server::Rappeld::Start(io, options);
  if (!server.ok()) {
    std::fprintf(stderr, "rappeld: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  auto stats = (*server)->engine().stats();
  std::printf("rappeld: listening on %s:%u, store %s (%llu pending, recovered in %lld ms)\n",
              options.server.listen_address.c_str(), (*server)->port(),
              options.engine.store.path.c_str(), static_cast<unsigned long long>(stats.live),
              static_cast<long long>(stats.recovery_ms));
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](asio::error_code ec, int signo) {
    if (ec) return;
    std::printf("rappeld: signal %d: finishing the writes in flight\n", signo);
    (*server)->Shutdown([&] {
      std::printf("rappeld: stopped\n");
      io.stop();
    });
  });
  io.run();
  return 0;
}
