// rappel-producer: schedules a few reminders due within seconds, the way a
// booking platform would after an appointment is made.
#include <chrono>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "client/cli_tls.h"
#include "rappel/client.h"
#include "server/common/program.h"

int main(int argc, char** argv) {
  rappel::client::Options options;
  options.client_name = "rappel-producer";
  int count = 5;
  int spacing_ms = 1000;
  uint32_t tenant = 1;
  CLI::App app{"rappel-producer: schedule reminders due within seconds"};
  rappel::AddVersionFlag(app, "rappel-producer");
  app.add_option("--host", options.host)->capture_default_str();
  app.add_option("--port", options.port)->capture_default_str();
  app.add_option("--token", options.token, "producer token, if rappeld requires one");
  rappel::client::AddTlsFlags(app, options.tls);
  app.add_option("--tenant", tenant)->capture_default_str();
  app.add_option("--count", count)->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--spacing-ms", spacing_ms, "time between due times")->capture_default_str();
  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;

  auto client = rappel::client::BlockingClient::Connect(options);
  if (!client.ok()) {
    std::fprintf(stderr, "rappel-producer: %s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::vector<rappel::client::Reminder> batch;
  for (int i = 0; i < count; ++i) {
    rappel::client::Reminder r;
    r.tenant = tenant;
    r.key = "appt-" + std::to_string(now) + "-" + std::to_string(i) + "/reminder";
    r.channel = i % 2 == 0 ? rappel::client::Channel::kSms : rappel::client::Channel::kEmail;
    r.recipient = i % 2 == 0 ? "+33600000000" : "patient@example.org";
    r.due_ms = now + static_cast<int64_t>(spacing_ms) * (i + 1);
    r.payload = "Rappel : votre rendez-vous demain a " + std::to_string(9 + i) + "h00";
    batch.push_back(std::move(r));
  }
  auto results = (*client)->Schedule(batch);
  if (!results.ok()) {
    std::fprintf(stderr, "rappel-producer: %s\n", std::string(results.status().message()).c_str());
    return 1;
  }
  int failed = 0;
  for (size_t i = 0; i < results->size(); ++i) {
    const auto& r = (*results)[i];
    if (r.ok()) {
      std::printf("producer: scheduled %s, due in %lld ms\n", batch[i].key.c_str(),
                  static_cast<long long>(batch[i].due_ms - now));
    } else {
      ++failed;
      std::printf("producer: %s refused: %s\n", batch[i].key.c_str(),
                  std::string(r.status().message()).c_str());
    }
  }
  return failed == 0 ? 0 : 1;
}
