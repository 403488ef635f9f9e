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
#include "tools/rappelctl/appointments.h"
#include "tools/rappelctl/common.h"
#include "tools/rappelctl/credits.h"
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

  groups.push_back(rappel::ctl::AddAppointmentCommands(app));
  std::string appointment_id;
  groups.push_back(rappel::ctl::AddCreditCommands(app));
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

  auto client = BlockingClient::Connect(options);
  if (!client.ok()) return Fail(client.status());
  BlockingClient& c = **client;

  if (chosen != groups.end()) return (*chosen)->Run(c, json);
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
