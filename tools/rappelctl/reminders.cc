#include "tools/rappelctl/reminders.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using client::Key;
using Json = nlohmann::json;

Json ReminderJson(const client::Reminder& r) {
  return Json{{"tenant", r.tenant},
              {"key", r.key},
              {"channel", client::ChannelName(r.channel)},
              {"recipient", r.recipient},
              {"due_ms", r.due_ms},
              {"expiry_ms", r.expiry_ms},
              {"payload_bytes", r.payload.size()}};
}

class ReminderCommands final : public CommandGroup {
 public:
  explicit ReminderCommands(CLI::App& app) {
    keys_ = app.add_subcommand(
        "keys", "list a tenant's live reminder keys in order, one page (the keys inspect takes)");
    keys_->add_option("tenant", key_query_.tenant, "tenant id")->required();
    keys_->add_option("--prefix", key_query_.prefix, "only keys starting with this");
    keys_->add_option("--limit", key_query_.limit, "keys per page (default 100, at most 1000)")
        ->check(CLI::Range(1, 1000));
    keys_->add_option("--cursor", key_query_.after,
                      "the page after this key (printed under the list)");
    inspect_ = app.add_subcommand("inspect", "show one reminder (keys lists them)");
    inspect_->add_option("tenant", tenant_, "tenant id")->required();
    inspect_->add_option("key", key_, "reminder key (rappelctl keys TENANT)")->required();
    cancel_ = app.add_subcommand("cancel", "cancel one reminder");
    cancel_->add_option("tenant", tenant_, "tenant id")->required();
    cancel_->add_option("key", key_, "reminder key")->required();
    dead_ = app.add_subcommand("dead-letters", "list dead letters, oldest first");
    dead_->add_option("--tenant", tenant_, "only this tenant (0: all)")->capture_default_str();
    dead_->add_option("--limit", limit_, "at most this many")->capture_default_str();
    replay_ = app.add_subcommand("replay", "schedule a dead letter again, due now");
    replay_->add_option("tenant", tenant_, "tenant id")->required();
    replay_->add_option("key", key_, "the dead letter's reminder key")->required();
  }

  bool Chosen() const override {
    return keys_->parsed() || inspect_->parsed() || cancel_->parsed() || dead_->parsed() ||
           replay_->parsed();
  }

  int Run(client::BlockingClient& c, bool json) override {
    if (keys_->parsed()) return Keys(c, json);
    if (inspect_->parsed()) return Inspect(c, json);
    if (cancel_->parsed()) return Cancel(c, json);
    if (dead_->parsed()) return DeadLetters(c, json);
    return Replay(c, json);
  }

 private:
  int Inspect(client::BlockingClient& c, bool json) {
    auto r = c.Inspect(Key{tenant_, key_});
    if (!r.ok()) return Fail(r.status());
    Json j = ReminderJson(r->reminder);
    j["version"] = r->version;
    j["leased"] = r->leased;
    if (json) {
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    auto time = [](int64_t ms) {
      return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                              absl::UTCTimeZone()) +
             " (" + std::to_string(ms) + ")";
    };
    const client::Reminder& m = r->reminder;
    Table t({"FIELD", "VALUE"});
    t.Add({"tenant", std::to_string(m.tenant)});
    t.Add({"key", m.key});
    t.Add({"channel", client::ChannelName(m.channel)});
    t.Add({"recipient", m.recipient});
    t.Add({"due", time(m.due_ms)});
    t.Add({"expiry", m.expiry_ms == 0 ? std::string("none") : time(m.expiry_ms)});
    t.Add({"payload bytes", std::to_string(m.payload.size())});
    t.Add({"version", std::to_string(r->version)});
    t.Add({"leased", r->leased ? "yes" : "no"});
    t.Print();
    return 0;
  }

  int Keys(client::BlockingClient& c, bool json) {
    auto page = c.ListKeys(key_query_);
    if (!page.ok()) return Fail(page.status());
    if (json) {
      std::printf("%s\n",
                  Json{{"keys", page->keys}, {"next_cursor", page->next_cursor}}
                      .dump(2, ' ', false, Json::error_handler_t::replace)
                      .c_str());
      return 0;
    }
    Table t({"KEY"});
    for (const std::string& k : page->keys) t.Add({k});
    t.Print();
    if (!page->next_cursor.empty()) std::printf("more: --cursor '%s'\n", page->next_cursor.c_str());
    return 0;
  }

  int Cancel(client::BlockingClient& c, bool json) {
    auto r = c.Cancel({Key{tenant_, key_}});
    if (!r.ok()) return Fail(r.status());
    if (!(*r)[0].ok()) return Fail((*r)[0]);
    std::printf(json ? "{\"cancelled\": true}\n" : "cancelled\n");
    return 0;
  }

  int DeadLetters(client::BlockingClient& c, bool json) {
    auto letters = c.ListDeadLetters(tenant_, limit_);
    if (!letters.ok()) return Fail(letters.status());
    if (json) {
      Json out = Json::array();
      for (const auto& d : *letters) {
        Json j = ReminderJson(d.reminder);
        j["attempts"] = d.attempts;
        j["last_detail"] = d.last_detail;
        j["dead_at_ms"] = d.dead_at_ms;
        out.push_back(j);
      }
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("%-8s %-32s %-6s %-8s %s\n", "TENANT", "KEY", "CHAN", "ATTEMPTS", "LAST DETAIL");
      for (const auto& d : *letters) {
        std::printf("%-8u %-32s %-6s %-8u %s\n", d.reminder.tenant, d.reminder.key.c_str(),
                    client::ChannelName(d.reminder.channel), d.attempts, d.last_detail.c_str());
      }
    }
    return 0;
  }

  int Replay(client::BlockingClient& c, bool json) {
    auto r = c.ReplayDeadLetters({Key{tenant_, key_}});
    if (!r.ok()) return Fail(r.status());
    if (!(*r)[0].ok()) return Fail((*r)[0]);
    std::printf(json ? "{\"replayed\": true}\n" : "replayed\n");
    return 0;
  }

  CLI::App* keys_ = nullptr;
  CLI::App* inspect_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* dead_ = nullptr;
  CLI::App* replay_ = nullptr;
  uint32_t tenant_ = 0;  // --tenant of dead-letters: 0 for all
  std::string key_;
  uint32_t limit_ = 100;
  client::KeyListQuery key_query_;
};

}  // namespace

std::unique_ptr<CommandGroup> AddReminderCommands(CLI::App& app) {
  return std::make_unique<ReminderCommands>(app);
}

}  // namespace rappel::ctl
