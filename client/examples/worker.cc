// rappel-worker: a delivery worker on the asynchronous client. Subscribes
// to every channel with a handler that "sends" each message by printing it
// and answers its outcome (--outcome: sent unless told otherwise, so a
// failure, a retry or a delivery receipt can be tried by hand); the client
// acks each batch. If rappeld
// goes away, the client reconnects with backoff and subscribes again.
//
// A message of an appointment's plan comes as a JSON document rendered by
// rappeld (server/plan/render.h: kind, channel, to, subject, text, ...):
// the worker prints its kind, channel, recipient and text, as a real worker
// would hand them to an SMS or e-mail provider. Any other payload (a raw
// reminder's) is printed as it came.
//
// --late-outcome OUTCOME plays the provider's receipt that comes after the
// ack: once a batch's ack is answered, its messages' OUTCOME (delivered,
// opened, clicked, failed) is reported with OutcomeReport.
#include <asio.hpp>
#include <chrono>
#include <deque>
#include <csignal>
#include <cstdio>
#include <map>
#include <string>

#include "CLI/CLI.hpp"
#include "client/cli_tls.h"
#include "nlohmann/json.hpp"
#include "rappel/async_client.h"
#include "server/common/program.h"

namespace {

// Prints a rendered appointment message; false when `payload` is not one
// (not a JSON object with a "text" string).
bool PrintRendered(const rappel::client::Message& m) {
  using nlohmann::json;
  json doc = json::parse(m.reminder.payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("text") || !doc["text"].is_string()) {
    return false;
  }
  auto field = [&](const char* name, const std::string& fallback) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : fallback;
  };
  std::string to = field("to", m.reminder.recipient);
  std::printf("worker: %s by %s to %s (attempt %u)\n", field("kind", "message").c_str(),
              field("channel", rappel::client::ChannelName(m.reminder.channel)).c_str(), to.c_str(),
              m.attempt);
  if (std::string subject = field("subject", ""); !subject.empty()) {
    std::printf("  Subject: %s\n", subject.c_str());
  }
  // The text, indented line by line (a final newline ends the last line).
  const std::string& text = doc["text"].get_ref<const std::string&>();
  size_t from = 0;
  do {
    size_t end = text.find('\n', from);
    if (end == std::string::npos) end = text.size();
    std::printf("  |%s%.*s\n", end > from ? " " : "", static_cast<int>(end - from),
                text.data() + from);
    from = end + 1;
  } while (from < text.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rappel::client;
  Options options;
  options.client_name = "rappel-worker";
  int exit_after = 0;
  int max_seconds = 0;
  Subscription subscription{
      {Channel::kSms, Channel::kEmail, Channel::kVoice, Channel::kPush}, 100, 50};
  std::string outcome_name = "sent";
  CLI::App app{
      "rappel-worker: receive due messages, print them, ack them with one outcome (an "
      "appointment's message: its kind, channel, recipient and rendered text)"};
  rappel::AddVersionFlag(app, "rappel-worker");
  app.add_option("--host", options.host)->capture_default_str();
  app.add_option("--port", options.port)->capture_default_str();
  app.add_option("--token", options.token, "worker token, if rappeld requires one");
  rappel::client::AddTlsFlags(app, options.tls);
  app.add_option("--max-in-flight", subscription.max_in_flight, "messages held at once")
      ->capture_default_str();
  app.add_option("--exit-after", exit_after, "stop after this many messages (0: never)")
      ->capture_default_str();
  app.add_option("--max-seconds", max_seconds, "stop after this long, exit 1 (0: never)")
      ->capture_default_str();
  // The protocol's AckOutcome values, by the names rappeld's audit uses.
  const std::map<std::string, AckOutcome> outcomes{
      {"sent", AckOutcome::kSent},
      {"delivered", AckOutcome::kDelivered},
      {"opened", AckOutcome::kOpened},
      {"retry", AckOutcome::kFailedRetryable},
      {"failed", AckOutcome::kFailedPermanent}};
  app.add_option("--outcome", outcome_name,
                 "the outcome every message is acked with: sent, delivered, opened, retry "
                 "(failed, retried with backoff, then dead-lettered) or failed (permanent: "
                 "dead-lettered at once)")
      ->check(CLI::IsMember(outcomes))
      ->capture_default_str();
  std::string late_outcome;
  app.add_option("--late-outcome", late_outcome,
                 "after each ack, report this outcome for the acked messages, as a provider's "
                 "receipt would (OutcomeReport): delivered, opened, clicked or failed")
      ->check(CLI::IsMember({"delivered", "opened", "clicked", "failed"}));
  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;
  const AckOutcome outcome = outcomes.at(outcome_name);
  LateOutcome late = late_outcome == "opened"    ? LateOutcome::kOpened
                     : late_outcome == "clicked" ? LateOutcome::kClicked
                     : late_outcome == "failed"  ? LateOutcome::kFailed
                                                 : LateOutcome::kDelivered;
  // Ids of the messages handled, in ack order (acks are answered in order).
  std::deque<std::string> awaiting_ack;
  int late_reported = 0;

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
        if (!PrintRendered(m)) {
          std::printf("worker: %-5s to %-20s %s (due %lld ms ago, attempt %u)\n",
                      ChannelName(m.reminder.channel), m.reminder.recipient.c_str(),
                      m.reminder.payload.c_str(), static_cast<long long>(now - m.reminder.due_ms),
                      m.attempt);
        }
        if (m.track_opens) std::printf("  (its template asks for open tracking)\n");
        std::fflush(stdout);
        ++handled;
        if (!late_outcome.empty()) awaiting_ack.push_back(m.message_id);
        return outcome;
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
        if (!results.ok()) {  // the connection dropped: redelivered later
          awaiting_ack.clear();
          return;
        }
        std::vector<OutcomeItem> reports;
        for (const absl::Status& st : *results) {
          acked += st.ok() ? 1 : 0;
          if (awaiting_ack.empty()) continue;
          if (st.ok()) reports.push_back(OutcomeItem{awaiting_ack.front(), late, "rappel-worker"});
          awaiting_ack.pop_front();
        }
        if (!reports.empty()) {
          client.ReportOutcomes(reports, [&, n = reports.size()](auto r) {
            if (!r.ok()) {
              std::fprintf(stderr, "rappel-worker: late outcomes: %s\n", r.status().ToString().c_str());
              return;
            }
            for (const auto& item : *r) late_reported += item.ok() ? 1 : 0;
            std::printf("worker: %zu late outcome(s) %s reported\n", n, late_outcome.c_str());
            std::fflush(stdout);
          });
        }
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
  std::printf("worker: %d messages acked %s\n", acked, outcome_name.c_str());
  return rc;
}
