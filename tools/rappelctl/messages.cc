#include "tools/rappelctl/messages.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using nlohmann::json;

std::string Dropped(const json& counts) {
  std::string s = std::to_string(counts.value("dropped", 0));
  if (counts.contains("dropped_by_reason") && !counts["dropped_by_reason"].empty()) {
    std::string reasons;
    for (const auto& [reason, n] : counts["dropped_by_reason"].items()) {
      reasons += (reasons.empty() ? "" : ",") + reason + ":" + std::to_string(n.get<uint64_t>());
    }
    s += " (" + reasons + ")";
  }
  return s;
}

void PrintSummary(const json& s) {
  std::printf("tenant %u, %s to %s (%s)\n", s.value("tenant", 0u),
              s.value("from", "").c_str(), s.value("to", "").c_str(),
              s.value("time_zone", "").c_str());
  std::printf("%-10s  %-5s  %-18s %7s %9s %7s %7s %6s %7s  %s\n", "DAY", "CHAN", "KIND", "SENT",
              "DELIVERED", "OPENED", "CLICKED", "FAILED", "CREDITS", "DROPPED (BY REASON)");
  auto line = [](const std::string& day, const std::string& chan, const std::string& kind,
                 const json& c) {
    std::printf("%-10s  %-5s  %-18s %7llu %9llu %7llu %7llu %6llu %7llu  %s\n", day.c_str(),
                chan.c_str(), kind.c_str(), c.value("sent", 0ull), c.value("delivered", 0ull),
                c.value("opened", 0ull), c.value("clicked", 0ull), c.value("failed", 0ull),
                c.value("credits", 0ull), Dropped(c).c_str());
  };
  for (const json& r : s["rows"]) {
    line(r.value("day", ""), r.value("channel", ""), r.value("kind", ""), r);
  }
  line("total", "", "", s["total"]);
}

void PrintList(const json& l) {
  std::printf("%-20s  %-10s  %-9s  %-5s  %-18s  %-16s  %-16s  %s\n", "WHEN (UTC)", "DAY",
              "STATUS", "CHAN", "KIND", "APPOINTMENT", "PATIENT", "MESSAGE ID");
  for (const json& m : l["messages"]) {
    std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                        absl::FromUnixMillis(m.value("at_ms", int64_t{0})),
                                        absl::UTCTimeZone());
    std::string status = m.value("status", "");
    if (m.contains("drop_reason")) status += "/" + m["drop_reason"].get<std::string>();
    std::printf("%-20s  %-10s  %-9s  %-5s  %-18s  %-16s  %-16s  %s\n", when.c_str(),
                m.value("day", "").c_str(), status.c_str(), m.value("channel", "").c_str(),
                m.value("kind", "").c_str(), m.value("appointment", "").c_str(),
                m.value("patient", "").c_str(), m.value("message_id", "").c_str());
  }
  std::string next = l.value("next_cursor", "");
  if (!next.empty()) std::printf("more: --cursor '%s'\n", next.c_str());
}

class MessageCommands final : public CommandGroup {
 public:
  explicit MessageCommands(CLI::App& app) {
    auto* messages = app.add_subcommand(
        "messages", "what became of a tenant's messages: summary, list, late outcomes");
    messages->require_subcommand(1);
    summary_ = messages->add_subcommand(
        "summary",
        "counts by the tenant's local day, channel and kind: sent, delivered, opened, clicked, "
        "failed, dropped by reason, credits spent");
    summary_->add_option("tenant", tenant_, "tenant id")->required();
    summary_->add_option("--from", from_, "first local day, YYYY-MM-DD (default: 29 days before --to)");
    summary_->add_option("--to", to_, "last local day, YYYY-MM-DD (default: today)");

    list_ = messages->add_subcommand(
        "list", "the tenant's messages, newest first, within its audit retention (one page)");
    list_->add_option("tenant", query_.tenant, "tenant id")->required();
    list_->add_option("--day", query_.day, "local day YYYY-MM-DD the message was acked or dropped");
    list_->add_option("--patient", query_.patient, "a patient id");
    list_->add_option("--appointment", query_.appointment, "an appointment id");
    list_->add_option("--channel", channel_, "sms, email, voice or push");
    list_->add_option("--kind", query_.kind, "a message kind: confirmation, reminder, ...");
    list_->add_option("--status", query_.status,
                      "sent, delivered, opened, clicked, failed or dropped (the furthest step)");
    list_->add_option("--limit", query_.limit, "messages per page (default 50, at most 1000)")
        ->check(CLI::Range(1, 1000));
    list_->add_option("--cursor", query_.cursor, "the page after this (printed under the table)");

    outcome_ = messages->add_subcommand(
        "outcome", "report an outcome known after the ack (idempotent: the same again changes nothing)");
    outcome_->add_option("id", outcome_item_.message_id, "the message id (TENANT:KEY)")->required();
    outcome_->add_option("outcome", outcome_name_, "delivered, opened, clicked or failed")
        ->required()
        ->check(CLI::IsMember({"delivered", "opened", "clicked", "failed"}));
    outcome_->add_option("--detail", outcome_item_.detail, "the provider's answer (a bounce's reason)");
  }

  bool Chosen() const override {
    return summary_->parsed() || list_->parsed() || outcome_->parsed();
  }

  int Prepare() override {
    if (!channel_.empty()) {
      static const char* kNames[] = {"sms", "email", "voice", "push"};
      for (uint8_t i = 0; i < 4; ++i) {
        if (channel_ == kNames[i]) query_.channel = static_cast<uint8_t>(i + 1);
      }
      if (query_.channel == 0) return Usage("--channel: sms, email, voice or push");
    }
    using client::LateOutcome;
    outcome_item_.outcome = outcome_name_ == "opened"    ? LateOutcome::kOpened
                            : outcome_name_ == "clicked" ? LateOutcome::kClicked
                            : outcome_name_ == "failed"  ? LateOutcome::kFailed
                                                         : LateOutcome::kDelivered;
    return 0;
  }

  int Run(client::BlockingClient& c, bool as_json) override {
    if (outcome_->parsed()) {
      auto r = c.ReportOutcomes({outcome_item_});
      if (!r.ok()) return Fail(r.status());
      if (r->size() != 1) return Fail(absl::DataLossError("expected one result"));
      if (!(*r)[0].ok()) return Fail((*r)[0].status());
      bool changed = *(*r)[0];
      if (as_json) {
        std::printf("%s\n", json{{"message_id", outcome_item_.message_id}, {"changed", changed}}
                                .dump()
                                .c_str());
      } else {
        std::printf("%s: %s\n", outcome_item_.message_id.c_str(),
                    changed ? "recorded" : "unchanged (already known, or overridden by a later step)");
      }
      return 0;
    }
    auto r = summary_->parsed() ? c.MessageSummary(tenant_, from_, to_) : c.MessageList(query_);
    if (!r.ok()) return Fail(r.status());
    if (as_json) {
      PrintJson(*r);
      return 0;
    }
    json doc = json::parse(*r, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Fail(absl::DataLossError("rappeld sent a malformed document"));
    if (summary_->parsed()) {
      PrintSummary(doc);
    } else {
      PrintList(doc);
    }
    return 0;
  }

 private:
  CLI::App* summary_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* outcome_ = nullptr;
  uint32_t tenant_ = 0;
  std::string from_, to_, channel_, outcome_name_;
  client::MessageListQuery query_;
  client::OutcomeItem outcome_item_;
};

}  // namespace

std::unique_ptr<CommandGroup> AddMessageCommands(CLI::App& app) {
  return std::make_unique<MessageCommands>(app);
}

}  // namespace rappel::ctl
