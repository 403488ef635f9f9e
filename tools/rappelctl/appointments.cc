#include "tools/rappelctl/appointments.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"
#include "tools/rappelctl/dry_run_view.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;

class AppointmentCommands final : public CommandGroup {
 public:
  explicit AppointmentCommands(CLI::App& app) {
    appointment_ = app.add_subcommand(
        "appointment",
        "show one appointment (TENANT ID): state, pending messages, audit trail (tables; --json: "
        "the document); or "
        "operate one: book, move, cancel, status, send-now");
    // Not required by CLI11: `appointment book ...` and its siblings
    // (appointment_ops.h) hang under it; Prepare asks for them.
    show_tenant_ = appointment_->add_option("tenant", tenant_, "tenant id");
    show_id_ = appointment_->add_option("id", appointment_id_, "appointment id");
    dry_run_ = app.add_subcommand(
        "dry-run",
        "what an appointment would send if booked now: when, which kind on which channel, "
        "its credits (metered tenants) and the total, and which rule left any message or "
        "channel out (a table; --json: the document; nothing is written)");
    dry_run_->add_option("tenant", hypothetical_.tenant, "tenant id")->required();
    dry_run_->add_option("--calendar", hypothetical_.calendar, "calendar id")->required();
    dry_run_->add_option("--type", hypothetical_.type, "appointment type id")->required();
    dry_run_->add_option("--patient", hypothetical_.patient, "patient id")->required();
    dry_run_->add_option("--start", start_text_, "unix ms or ISO 8601 with offset")->required();
    dry_run_->add_option("--end", end_text_,
                         "unix ms or ISO 8601 with offset (default: the start)");
    dry_run_->add_option("--id", hypothetical_.id,
                         "an appointment held: the dry run of moving it there");
    dry_run_->add_option("--location", hypothetical_.location, "where the appointment is");
    dry_run_->add_flag("--online", hypothetical_.booked_online, "booked online");
    absence_ = app.add_subcommand(
        "absence",
        "cancel every active appointment of a calendar starting in [--from, --to), "
        "each patient notified");
    absence_->add_option("tenant", tenant_, "tenant id")->required();
    absence_->add_option("calendar", calendar_, "calendar id")->required();
    absence_
        ->add_option("--from", from_text_,
                     "start: unix ms or ISO 8601 with offset (2026-03-02T08:00:00+01:00)")
        ->required();
    absence_->add_option("--to", to_text_, "end (excluded): unix ms or ISO 8601 with offset")
        ->required();
    delay_ = app.add_subcommand(
        "delay", "the calendar runs late: tell the day's remaining patients their new time");
    delay_->add_option("tenant", tenant_, "tenant id")->required();
    delay_->add_option("calendar", calendar_, "calendar id")->required();
    delay_->add_option("--minutes", minutes_, "how late, in minutes")
        ->required()
        ->check(CLI::Range(int64_t{1}, int64_t{24 * 60}));
    redeem_ =
        app.add_subcommand("redeem", "redeem a self-service action token (from a message's link)");
    redeem_->add_option("token", token_, "the token= value of the link")->required();
  }

  bool Chosen() const override {
    return Showing() || dry_run_->parsed() || absence_->parsed() || delay_->parsed() ||
           redeem_->parsed();
  }

  // appointment: its two arguments; dry-run and absence: their times.
  int Prepare() override {
    if (Showing() && (show_tenant_->count() == 0 || show_id_->count() == 0)) {
      return Usage("appointment: give TENANT ID, or a subcommand (rappelctl appointment --help)");
    }
    if (dry_run_->parsed()) {
      auto start = ParseTimeMs(start_text_);
      if (!start.ok()) return Usage(std::string(start.status().message()));
      auto end = end_text_.empty() ? start : ParseTimeMs(end_text_);
      if (!end.ok()) return Usage(std::string(end.status().message()));
      hypothetical_.start_ms = *start;
      hypothetical_.end_ms = *end;
    }
    if (absence_->parsed()) {
      auto from = ParseTimeMs(from_text_);
      if (!from.ok()) return Usage(std::string(from.status().message()));
      auto to = ParseTimeMs(to_text_);
      if (!to.ok()) return Usage(std::string(to.status().message()));
      if (*to <= *from) return Usage("--to must be after --from");
      from_ms_ = *from;
      to_ms_ = *to;
    }
    return 0;
  }

  int Run(client::BlockingClient& c, bool json) override {
    if (Showing()) {
      auto r = c.ShowAppointment(tenant_, appointment_id_);
      if (!r.ok()) return Fail(r.status());
      if (json) {
        PrintJson(*r);
      } else {
        PrintDocumentTables(*r);
      }
      return 0;
    }
    if (dry_run_->parsed()) {
      auto r = c.DryRun(hypothetical_);
      if (!r.ok()) return Fail(r.status());
      PrintDryRun(*r, json);
      return 0;
    }
    if (absence_->parsed()) return Absence(c, json);
    if (delay_->parsed()) return Delay(c, json);
    return Redeem(c, json);
  }

 private:
  int Absence(client::BlockingClient& c, bool json) {
    auto n = c.PostAbsence(tenant_, calendar_, from_ms_, to_ms_);
    if (!n.ok()) return Fail(n.status());
    if (json) {
      std::printf("%s\n", Json{{"cancelled", *n}}.dump().c_str());
    } else {
      std::printf("%u appointments cancelled\n", *n);
    }
    return 0;
  }

  int Delay(client::BlockingClient& c, bool json) {
    auto n = c.DelayAlert(tenant_, calendar_, minutes_ * 60'000);
    if (!n.ok()) return Fail(n.status());
    if (json) {
      std::printf("%s\n", Json{{"alerted", *n}}.dump().c_str());
    } else {
      std::printf("%u patients alerted\n", *n);
    }
    return 0;
  }

  int Redeem(client::BlockingClient& c, bool json) {
    auto r = c.RedeemToken(token_);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      std::printf(
          "%s\n",
          Json{{"tenant", r->tenant}, {"appointment", r->appointment}, {"action", r->action}}
              .dump()
              .c_str());
    } else {
      std::printf("%s: tenant %u, appointment %s\n", r->action.c_str(), r->tenant,
                  r->appointment.c_str());
    }
    return 0;
  }

  // `appointment TENANT ID` itself, not one of its subcommands.
  bool Showing() const { return appointment_->parsed() && appointment_->get_subcommands().empty(); }

  CLI::App* appointment_ = nullptr;
  CLI::Option* show_tenant_ = nullptr;
  CLI::Option* show_id_ = nullptr;
  CLI::App* dry_run_ = nullptr;
  CLI::App* absence_ = nullptr;
  CLI::App* delay_ = nullptr;
  CLI::App* redeem_ = nullptr;
  uint32_t tenant_ = 0;
  std::string appointment_id_;
  std::string calendar_;
  client::AppointmentInput hypothetical_;  // dry-run; its times set by Prepare
  std::string start_text_, end_text_;
  std::string from_text_, to_text_;
  int64_t from_ms_ = 0, to_ms_ = 0;  // absence: set by Prepare
  int64_t minutes_ = 0;
  std::string token_;
};

}  // namespace

std::unique_ptr<CommandGroup> AddAppointmentCommands(CLI::App& app) {
  return std::make_unique<AppointmentCommands>(app);
}

}  // namespace rappel::ctl
