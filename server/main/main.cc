// rappeld: the rappel server. With no options it stores its data in
// ./rappel-data and listens on 127.0.0.1:7411 with no tokens (any local
// client is admin); see --help. --config FILE reads a TOML file
// (server/main/config.h, rappeld.example.toml); the flags override it.
#include <asio.hpp>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "server/main/config.h"
#include "server/main/rappeld.h"

int main(int argc, char** argv) {
  CLI::App app{"rappeld: the rappel server (appointment reminders, durable delay queue)"};
  rappel::server::CommandLine command_line(app);
  CLI11_PARSE(app, argc, argv);
  auto resolved = command_line.Resolve();
  if (!resolved.ok()) {
    std::fprintf(stderr, "rappeld: %s\n", std::string(resolved.status().message()).c_str());
    return 2;
  }
  const rappel::server::RappeldOptions& options = *resolved;

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
