// Connects to a port where nothing listens: the installed client library
// links and answers Unavailable. Exit 0 when it does.
#include <rappel/client.h>

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
  return 0;
}
