// rappel-worker: a delivery worker. Subscribes to channels, "sends" each
// message by printing it, and acks it as sent.
#include <chrono>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "rappel/client.h"

int main(int argc, char** argv) {
  rappel::client::Options options;
  options.client_name = "rappel-worker";
  int exit_after = 0;
  int max_seconds = 0;
  CLI::App app{"rappel-worker: receive due messages, print them, ack them"};
  app.add_option("--host", options.host)->capture_default_str();
  app.add_option("--port", options.port)->capture_default_str();
  app.add_option("--token", options.token, "worker token, if rappeld requires one");
  app.add_option("--exit-after", exit_after, "stop after this many messages (0: never)")
      ->capture_default_str();
  app.add_option("--max-seconds", max_seconds, "stop after this long (0: never)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto client = rappel::client::BlockingClient::Connect(options);
  if (!client.ok()) {
    std::fprintf(stderr, "rappel-worker: %s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  using rappel::client::Channel;
  if (auto st = (*client)->Subscribe({Channel::kSms, Channel::kEmail, Channel::kVoice,
                                      Channel::kPush},
                                     /*max_in_flight=*/100, /*batch_size=*/50);
      !st.ok()) {
    std::fprintf(stderr, "rappel-worker: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("worker: subscribed to sms, email, voice, push\n");
  std::fflush(stdout);
  auto start = std::chrono::steady_clock::now();
  int handled = 0;
  while (exit_after == 0 || handled < exit_after) {
    if (max_seconds > 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(max_seconds)) {
      std::fprintf(stderr, "rappel-worker: stopping after %d s with %d messages\n", max_seconds,
                   handled);
      return 1;
    }
    auto messages = (*client)->Receive(std::chrono::milliseconds(200));
    if (!messages.ok()) {
      std::fprintf(stderr, "rappel-worker: %s\n", std::string(messages.status().message()).c_str());
      return 1;
    }
    std::vector<rappel::client::AckItem> acks;
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    for (const auto& m : *messages) {
      std::printf("worker: %-5s to %-20s %s (due %lld ms ago, attempt %u)\n",
                  m.reminder.channel == Channel::kSms ? "sms" : "email",
                  m.reminder.recipient.c_str(), m.reminder.payload.c_str(),
                  static_cast<long long>(now - m.reminder.due_ms), m.attempt);
      acks.push_back({m.lease_id, rappel::client::AckOutcome::kSent, "printed"});
    }
    std::fflush(stdout);
    if (!acks.empty()) {
      auto results = (*client)->Ack(acks);
      if (!results.ok()) {
        std::fprintf(stderr, "rappel-worker: %s\n", std::string(results.status().message()).c_str());
        return 1;
      }
      handled += static_cast<int>(acks.size());
    }
  }
  std::printf("worker: %d messages sent and acked\n", handled);
  return 0;
}
