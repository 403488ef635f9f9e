// rappelctl: the admin CLI of rappeld. Human-readable tables by default,
// --json for scripts (configuration objects and appointments are JSON
// either way). Exit codes: 0 done, 1 the server refused or failed, 2 bad
// usage (or an unreadable or invalid input file), 3 rappeld unreachable,
// 4 not found (reminder, dead letter, configuration object, appointment,
// calendar).
#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "rappel/client.h"
#include "tools/rappelctl/command_group.h"
#include "tools/rappelctl/common.h"
#include "tools/rappelctl/objects.h"
#include "tools/rappelctl/rates.h"
#include "tools/rappelctl/reminders.h"
#include "tools/rappelctl/server.h"
#include "tools/rappelctl/status.h"

namespace {

using rappel::client::BlockingClient;
using Json = nlohmann::json;

using rappel::ctl::Fail;
using rappel::ctl::kExitFailed;
using rappel::ctl::PrintJson;
using rappel::ctl::Usage;

// Unix milliseconds, or an ISO 8601 / RFC 3339 time with its UTC offset
// ("2026-03-02T14:00:00+01:00", "2026-03-02T13:00Z"): the offset is
// required, rappelctl does not guess a time zone.
absl::StatusOr<int64_t> ParseTimeMs(const std::string& text) {
  size_t digits_from = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() > digits_from &&
      std::all_of(text.begin() + digits_from, text.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      return absl::InvalidArgumentError("time out of range: " + text);
    }
  }
  for (const char* format : {"%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d%ET%H:%M%Ez"}) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, text, &t, &err)) return absl::ToUnixMillis(t);
  }
  return absl::InvalidArgumentError(
      "bad time \"" + text +
      "\": give unix milliseconds or YYYY-MM-DDTHH:MM[:SS] with a UTC offset (Z, +01:00)");
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
  app.add_flag("--json", json,
               "print JSON instead of tables (objects and appointments are always JSON)");
  app.require_subcommand(1);

  // Added in the order `rappelctl --help` lists them.
  std::vector<std::unique_ptr<rappel::ctl::CommandGroup>> groups;
  groups.push_back(rappel::ctl::AddStatusCommand(app));
  groups.push_back(rappel::ctl::AddReminderCommands(app));
  uint32_t tenant = 0;
  groups.push_back(rappel::ctl::AddServerCommands(app));

  groups.push_back(rappel::ctl::AddRateCommands(app));

  groups.push_back(rappel::ctl::AddObjectCommands(app));

  // Appointments: one appointment, calendar events, tokens.
  std::string appointment_id;
  auto* appointment = app.add_subcommand(
      "appointment", "show one appointment: state, pending messages, audit trail (JSON)");
  appointment->add_option("tenant", tenant, "tenant id")->required();
  appointment->add_option("id", appointment_id, "appointment id")->required();
  std::string calendar, from_text, to_text;
  rappel::client::AppointmentInput hypothetical;
  std::string start_text, end_text;
  auto* dry_run = app.add_subcommand(
      "dry-run", "what an appointment would send if booked now, when, on which channel, and "
                 "why any message is left out (JSON; nothing is written)");
  dry_run->add_option("tenant", hypothetical.tenant, "tenant id")->required();
  dry_run->add_option("--calendar", hypothetical.calendar, "calendar id")->required();
  dry_run->add_option("--type", hypothetical.type, "appointment type id")->required();
  dry_run->add_option("--patient", hypothetical.patient, "patient id")->required();
  dry_run->add_option("--start", start_text, "unix ms or ISO 8601 with offset")->required();
  dry_run->add_option("--end", end_text, "unix ms or ISO 8601 with offset (default: the start)");
  dry_run->add_option("--id", hypothetical.id,
                      "an appointment held: the dry run of moving it there");
  dry_run->add_option("--location", hypothetical.location);
  dry_run->add_flag("--online", hypothetical.booked_online, "booked online");
  auto* absence = app.add_subcommand(
      "absence", "cancel every active appointment of a calendar starting in [--from, --to), "
                 "each patient notified");
  absence->add_option("tenant", tenant, "tenant id")->required();
  absence->add_option("calendar", calendar, "calendar id")->required();
  absence->add_option("--from", from_text,
                      "start: unix ms or ISO 8601 with offset (2026-03-02T08:00:00+01:00)")
      ->required();
  absence->add_option("--to", to_text, "end (excluded): unix ms or ISO 8601 with offset")
      ->required();
  int64_t minutes = 0;
  auto* delay = app.add_subcommand(
      "delay", "the calendar runs late: tell the day's remaining patients their new time");
  delay->add_option("tenant", tenant, "tenant id")->required();
  delay->add_option("calendar", calendar, "calendar id")->required();
  delay->add_option("--minutes", minutes, "how late, in minutes")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{24 * 60}));
  std::string token;
  auto* redeem = app.add_subcommand("redeem", "redeem a self-service action token (from a message's link)");
  redeem->add_option("token", token)->required();
  auto* credits = app.add_subcommand(
      "credits", "a tenant's credits: balance, reservations, what waits for credit or for "
                 "sending hours, forecast cost of the pending plan (JSON)");
  credits->require_subcommand(1);
  auto* credits_show = credits->add_subcommand("show", "the ledger, what waits, the forecast");
  credits_show->add_option("tenant", tenant, "tenant id")->required();
  int64_t credits_amount = 0;
  auto* credits_add = credits->add_subcommand(
      "add", "add credits to the balance (messages waiting for credit are released)");
  credits_add->add_option("tenant", tenant, "tenant id")->required();
  credits_add->add_option("amount", credits_amount, "credits to add")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000'000}));
  std::string patient_id, reply_kind;
  auto* patient_reply = app.add_subcommand(
      "patient-reply", "apply a patient's reply: confirm or cancel (their next appointment, or "
                       "--appointment), stop (nothing more to their mobile number), start "
                       "(consent given again)");
  patient_reply->add_option("tenant", tenant, "tenant id")->required();
  patient_reply->add_option("patient", patient_id, "patient id")->required();
  patient_reply->add_option("reply", reply_kind, "confirm | cancel | stop | start")
      ->required()
      ->check(CLI::IsMember({"confirm", "cancel", "stop", "start"}));
  patient_reply->add_option("--appointment", appointment_id, "the appointment (confirm, cancel)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  // Bad arguments and unreadable files are found before connecting.
  auto chosen = std::find_if(groups.begin(), groups.end(),
                             [](const auto& g) { return g->Chosen(); });
  if (chosen != groups.end()) {
    if (int rc = (*chosen)->Prepare(); rc != 0) return rc;
  }
  if (dry_run->parsed()) {
    auto start = ParseTimeMs(start_text);
    if (!start.ok()) return Usage(std::string(start.status().message()));
    auto end = end_text.empty() ? start : ParseTimeMs(end_text);
    if (!end.ok()) return Usage(std::string(end.status().message()));
    hypothetical.start_ms = *start;
    hypothetical.end_ms = *end;
  }
  int64_t from_ms = 0, to_ms = 0;
  if (absence->parsed()) {
    auto from = ParseTimeMs(from_text);
    if (!from.ok()) return Usage(std::string(from.status().message()));
    auto to = ParseTimeMs(to_text);
    if (!to.ok()) return Usage(std::string(to.status().message()));
    if (*to <= *from) return Usage("--to must be after --from");
    from_ms = *from;
    to_ms = *to;
  }

  auto client = BlockingClient::Connect(options);
  if (!client.ok()) return Fail(client.status());
  BlockingClient& c = **client;

  if (chosen != groups.end()) return (*chosen)->Run(c, json);
  if (appointment->parsed()) {
    auto r = c.ShowAppointment(tenant, appointment_id);
    if (!r.ok()) return Fail(r.status());
    PrintJson(*r);
    return 0;
  }
  if (dry_run->parsed()) {
    auto r = c.DryRun(hypothetical);
    if (!r.ok()) return Fail(r.status());
    PrintJson(*r);
    return 0;
  }
  if (absence->parsed()) {
    auto n = c.PostAbsence(tenant, calendar, from_ms, to_ms);
    if (!n.ok()) return Fail(n.status());
    if (json) {
      std::printf("%s\n", Json{{"cancelled", *n}}.dump().c_str());
    } else {
      std::printf("%u appointments cancelled\n", *n);
    }
    return 0;
  }
  if (delay->parsed()) {
    auto n = c.DelayAlert(tenant, calendar, minutes * 60'000);
    if (!n.ok()) return Fail(n.status());
    if (json) {
      std::printf("%s\n", Json{{"alerted", *n}}.dump().c_str());
    } else {
      std::printf("%u patients alerted\n", *n);
    }
    return 0;
  }
  if (redeem->parsed()) {
    auto r = c.RedeemToken(token);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      std::printf("%s\n", Json{{"tenant", r->tenant},
                               {"appointment", r->appointment},
                               {"action", r->action}}
                              .dump()
                              .c_str());
    } else {
      std::printf("%s: tenant %u, appointment %s\n", r->action.c_str(), r->tenant,
                  r->appointment.c_str());
    }
    return 0;
  }
  if (credits->parsed()) {
    auto r = c.Credits(tenant, credits_add->parsed() ? credits_amount : 0);
    if (!r.ok()) return Fail(r.status());
    PrintJson(*r);
    return 0;
  }
  if (patient_reply->parsed()) {
    using rappel::client::PatientReplyKind;
    PatientReplyKind kind = reply_kind == "confirm"  ? PatientReplyKind::kConfirm
                            : reply_kind == "cancel" ? PatientReplyKind::kCancel
                            : reply_kind == "stop"   ? PatientReplyKind::kStop
                                                     : PatientReplyKind::kStart;
    auto r = c.PatientReply(tenant, patient_id, appointment_id, kind);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      std::printf("%s\n", Json{{"revision", r->revision}, {"planned", r->planned}}.dump().c_str());
    } else {
      std::printf("%s applied (%u pending)\n", reply_kind.c_str(), r->planned);
    }
    return 0;
  }
  return 2;
}
