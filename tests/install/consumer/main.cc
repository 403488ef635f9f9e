// Connects to a port where nothing listens, once with the blocking client
// and once with the asynchronous one: the installed client library links
// and both answer Unavailable. Exit 0 when they do.
#include <rappel/async_client.h>
#include <rappel/client.h>

#include <asio.hpp>
#include <cstdio>
#include <cstdlib>

#ifndef ASIO_STANDALONE
#error "rappel::client should define ASIO_STANDALONE for its users"
#endif

int main(int argc, char** argv) {
  rappel::client::Options options;
  options.port = static_cast<uint16_t>(argc > 1 ? std::atoi(argv[1]) : 1);
  options.timeout = std::chrono::milliseconds(2000);
  auto client = rappel::client::BlockingClient::Connect(options);
  if (client.ok()) {
    std::fprintf(stderr, "consumer: connected to port %u, expected Unavailable\n", options.port);
    return 1;
  }
  if (!absl::IsUnavailable(client.status())) {
    std::fprintf(stderr, "consumer: expected Unavailable, got %s\n",
                 client.status().ToString().c_str());
    return 1;
  }
  std::printf("consumer: %s\n", client.status().ToString().c_str());

  asio::io_context io;
  options.reconnect.enabled = false;
  rappel::client::AsyncClient async(io, options);
  absl::Status started = absl::UnknownError("no answer");
  async.Start([&](absl::Status st) { started = st; });
  io.run();
  if (!absl::IsUnavailable(started)) {
    std::fprintf(stderr, "consumer: async: expected Unavailable, got %s\n",
                 started.ToString().c_str());
    return 1;
  }
  std::printf("consumer: async: %s\n", started.ToString().c_str());
  return 0;
}
