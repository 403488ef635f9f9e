// rappel-worker: a delivery worker on the asynchronous client. Subscribes
// to every channel with a handler that "sends" each message by printing it
// and answers its outcome (sent); the client acks each batch. If rappeld
// goes away, the client reconnects with backoff and subscribes again.
#include <asio.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "rappel/async_client.h"

int main(int argc, char** argv) {
  using namespace rappel::client;
  Options options;
  options.client_name = "rappel-worker";
  int exit_after = 0;
  int max_seconds = 0;
  Subscription subscription{{Channel::kSms, Channel::kEmail, Channel::kVoice, Channel::kPush},
                            100, 50};
  CLI::App app{"rappel-worker: receive due messages, print them, ack them as sent"};
  app.add_option("--host", options.host)->capture_default_str();
  app.add_option("--port", options.port)->capture_default_str();
  app.add_option("--token", options.token, "worker token, if rappeld requires one");
  app.add_option("--max-in-flight", subscription.max_in_flight, "messages held at once")
      ->capture_default_str();
  app.add_option("--exit-after", exit_after, "stop after this many messages (0: never)")
      ->capture_default_str();
  app.add_option("--max-seconds", max_seconds, "stop after this long, exit 1 (0: never)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  asio::io_context io;
  AsyncClient client(io, options);
  int handled = 0;
  int acked = 0;
  int rc = 0;
  auto stop = [&](int code) {
    rc = code;
    client.Close();
    io.stop();
  };
  client.set_connection_handler([](absl::Status st) {
    if (!st.ok()) std::fprintf(stderr, "worker: %s (reconnecting)\n", st.ToString().c_str());
  });
  client.Start([&](absl::Status st) {
    if (!st.ok()) {
      std::fprintf(stderr, "rappel-worker: %s\n", st.ToString().c_str());
      stop(1);
    }
  });
  client.Serve(
      subscription,
      [&](const Message& m) {
        int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        std::printf("worker: %-5s to %-20s %s (due %lld ms ago, attempt %u)\n",
                    ChannelName(m.reminder.channel), m.reminder.recipient.c_str(),
                    m.reminder.payload.c_str(), static_cast<long long>(now - m.reminder.due_ms),
                    m.attempt);
        std::fflush(stdout);
        ++handled;
        return AckOutcome::kSent;
      },
      [&](absl::Status st) {
        if (!st.ok()) {
          std::fprintf(stderr, "rappel-worker: subscribe: %s\n", st.ToString().c_str());
          return stop(1);
        }
        std::printf("worker: subscribed to sms, email, voice, push\n");
        std::fflush(stdout);
      },
      [&](absl::StatusOr<AsyncClient::ItemStatuses> results) {
        if (!results.ok()) return;  // the connection dropped: redelivered later
        for (const absl::Status& st : *results) acked += st.ok() ? 1 : 0;
        if (exit_after > 0 && acked >= exit_after) stop(0);
      });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](asio::error_code ec, int) {
    if (!ec) stop(0);
  });
  asio::steady_timer limit(io);
  if (max_seconds > 0) {
    limit.expires_after(std::chrono::seconds(max_seconds));
    limit.async_wait([&](asio::error_code ec) {
      if (ec) return;
      std::fprintf(stderr, "rappel-worker: stopping after %d s with %d messages\n", max_seconds,
                   handled);
      stop(1);
    });
  }
  io.run();
  std::printf("worker: %d messages sent and acked\n", acked);
  return rc;
}
