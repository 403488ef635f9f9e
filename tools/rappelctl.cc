// rappelctl: the admin CLI of rappeld. Human-readable tables by default,
// --json for scripts. Exit codes: 0 done, 1 the server refused or failed,
// 2 bad usage, 3 rappeld unreachable, 4 no such reminder or dead letter.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "rappel/client.h"

namespace {

using rappel::client::BlockingClient;
using rappel::client::Key;
using Json = nlohmann::json;

constexpr int kExitFailed = 1;
constexpr int kExitUnreachable = 3;
constexpr int kExitNotFound = 4;

const char* ChannelName(rappel::client::Channel c) {
  switch (c) {
    case rappel::client::Channel::kSms: return "sms";
    case rappel::client::Channel::kEmail: return "email";
    case rappel::client::Channel::kVoice: return "voice";
    case rappel::client::Channel::kPush: return "push";
  }
  return "unknown";
}

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "rappelctl: %s\n", st.ToString().c_str());
  if (absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st)) return kExitUnreachable;
  if (absl::IsNotFound(st)) return kExitNotFound;
  return kExitFailed;
}

Json ReminderJson(const rappel::client::Reminder& r) {
  return Json{{"tenant", r.tenant},       {"key", r.key},
              {"channel", ChannelName(r.channel)}, {"recipient", r.recipient},
              {"due_ms", r.due_ms},       {"expiry_ms", r.expiry_ms},
              {"payload_bytes", r.payload.size()}};
}

}  // namespace

int main(int argc, char** argv) {
  rappel::client::Options options;
  options.client_name = "rappelctl";
  bool json = false;
  CLI::App app{"rappelctl: look after a running rappeld"};
  app.add_option("--host", options.host, "rappeld's address")->capture_default_str();
  app.add_option("--port", options.port, "rappeld's port")->capture_default_str();
  app.add_option("--token", options.token, "admin token, if rappeld requires one");
  app.add_flag("--json", json, "print JSON instead of tables");
  app.require_subcommand(1);

  auto* status = app.add_subcommand("status", "pending, leased, dead letters, store size");
  uint32_t tenant = 0;
  std::string key;
  auto* inspect = app.add_subcommand("inspect", "show one reminder");
  inspect->add_option("tenant", tenant)->required();
  inspect->add_option("key", key)->required();
  auto* cancel = app.add_subcommand("cancel", "cancel one reminder");
  cancel->add_option("tenant", tenant)->required();
  cancel->add_option("key", key)->required();
  uint32_t limit = 100;
  auto* dead = app.add_subcommand("dead-letters", "list dead letters");
  dead->add_option("--tenant", tenant, "only this tenant (0: all)")->capture_default_str();
  dead->add_option("--limit", limit)->capture_default_str();
  auto* replay = app.add_subcommand("replay", "schedule a dead letter again, due now");
  replay->add_option("tenant", tenant)->required();
  replay->add_option("key", key)->required();
  std::string dir;
  auto* backup = app.add_subcommand("backup", "hot backup with compaction into DIR (on the server)");
  backup->add_option("dir", dir)->required();
  auto* ping = app.add_subcommand("ping", "check that rappeld answers");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto client = BlockingClient::Connect(options);
  if (!client.ok()) return Fail(client.status());
  BlockingClient& c = **client;

  if (status->parsed()) {
    auto s = c.Stats();
    if (!s.ok()) return Fail(s.status());
    const char* channels[] = {"", "sms", "email", "voice", "push"};
    if (json) {
      Json ready;
      for (int i = 1; i <= 4; ++i) ready[channels[i]] = s->ready_by_channel[i];
      std::printf("%s\n", Json{{"pending", s->pending},
                               {"leased", s->leased},
                               {"dead_letters", s->dead_letters},
                               {"log_records", s->log_records},
                               {"store_used_bytes", s->store_used_bytes},
                               {"commits", s->commits},
                               {"ready_by_channel", ready},
                               {"fatal_error", s->fatal_error}}
                              .dump(2)
                              .c_str());
    } else {
      std::printf("pending           %llu\n", static_cast<unsigned long long>(s->pending));
      std::printf("leased            %llu\n", static_cast<unsigned long long>(s->leased));
      std::printf("dead letters      %llu\n", static_cast<unsigned long long>(s->dead_letters));
      for (int i = 1; i <= 4; ++i) {
        std::printf("ready %-11s %llu\n", channels[i],
                    static_cast<unsigned long long>(s->ready_by_channel[i]));
      }
      std::printf("log records       %llu\n", static_cast<unsigned long long>(s->log_records));
      std::printf("store used bytes  %llu\n", static_cast<unsigned long long>(s->store_used_bytes));
      std::printf("commits           %llu\n", static_cast<unsigned long long>(s->commits));
      if (!s->fatal_error.empty()) std::printf("WRITES REFUSED    %s\n", s->fatal_error.c_str());
    }
    return s->fatal_error.empty() ? 0 : kExitFailed;
  }
  if (inspect->parsed()) {
    auto r = c.Inspect(Key{tenant, key});
    if (!r.ok()) return Fail(r.status());
    Json j = ReminderJson(r->reminder);
    j["version"] = r->version;
    j["leased"] = r->leased;
    if (json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      for (auto& [k, v] : j.items()) std::printf("%-14s %s\n", k.c_str(), v.dump().c_str());
    }
    return 0;
  }
  if (cancel->parsed()) {
    auto r = c.Cancel({Key{tenant, key}});
    if (!r.ok()) return Fail(r.status());
    if (!(*r)[0].ok()) return Fail((*r)[0]);
    std::printf(json ? "{\"cancelled\": true}\n" : "cancelled\n");
    return 0;
  }
  if (dead->parsed()) {
    auto letters = c.ListDeadLetters(tenant, limit);
    if (!letters.ok()) return Fail(letters.status());
    if (json) {
      Json out = Json::array();
      for (const auto& d : *letters) {
        Json j = ReminderJson(d.reminder);
        j["attempts"] = d.attempts;
        j["last_detail"] = d.last_detail;
        out.push_back(j);
      }
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("%-8s %-32s %-6s %-8s %s\n", "TENANT", "KEY", "CHAN", "ATTEMPTS", "LAST DETAIL");
      for (const auto& d : *letters) {
        std::printf("%-8u %-32s %-6s %-8u %s\n", d.reminder.tenant, d.reminder.key.c_str(),
                    ChannelName(d.reminder.channel), d.attempts, d.last_detail.c_str());
      }
    }
    return 0;
  }
  if (replay->parsed()) {
    auto r = c.ReplayDeadLetters({Key{tenant, key}});
    if (!r.ok()) return Fail(r.status());
    if (!(*r)[0].ok()) return Fail((*r)[0]);
    std::printf(json ? "{\"replayed\": true}\n" : "replayed\n");
    return 0;
  }
  if (backup->parsed()) {
    if (absl::Status st = c.Backup(dir); !st.ok()) return Fail(st);
    if (json) {
      std::printf("%s\n", Json{{"backup", dir}}.dump().c_str());
    } else {
      std::printf("backup written to %s\n", dir.c_str());
    }
    return 0;
  }
  if (ping->parsed()) {
    if (absl::Status st = c.Ping(); !st.ok()) return Fail(st);
    std::printf(json ? "{\"pong\": true}\n" : "pong\n");
    return 0;
  }
  return 2;
}
