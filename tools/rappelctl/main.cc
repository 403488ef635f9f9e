// rappelctl: the admin CLI of rappeld. Human-readable tables by default,
// --json for scripts (configuration objects and appointment views are JSON
// either way; the dry run is a table). Exit codes: 0 done, 1 the server refused or failed, 2 bad
// usage (or an unreadable or invalid input file), 3 rappeld unreachable,
// 4 not found (reminder, dead letter, configuration object, appointment,
// calendar).
//
// This file holds the options every subcommand shares; the subcommands are
// in command groups, one file each (command_group.h).
#include <algorithm>
#include <memory>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli_tls.h"
#include "rappel/client.h"
#include "tools/rappelctl/appointment_ops.h"
#include "tools/rappelctl/appointments.h"
#include "tools/rappelctl/command_group.h"
#include "tools/rappelctl/common.h"
#include "tools/rappelctl/credits.h"
#include "tools/rappelctl/messages.h"
#include "tools/rappelctl/objects.h"
#include "tools/rappelctl/patient_reply.h"
#include "tools/rappelctl/rates.h"
#include "tools/rappelctl/reminders.h"
#include "tools/rappelctl/server.h"
#include "tools/rappelctl/status.h"
#include "server/common/program.h"

int main(int argc, char** argv) {
  namespace ctl = rappel::ctl;
  rappel::client::Options options;
  options.client_name = "rappelctl";
  bool json = false;
  CLI::App app{"rappelctl: look after a running rappeld"};
  rappel::AddVersionFlag(app, "rappelctl");
  app.add_option("--host", options.host, "rappeld's address")->capture_default_str();
  app.add_option("--port", options.port, "rappeld's port")->capture_default_str();
  app.add_option("--token", options.token, "admin token, if rappeld requires one");
  rappel::client::AddTlsFlags(app, options.tls);
  app.add_flag("--json", json,
               "print JSON instead of tables (objects and appointment views are always JSON)");
  app.require_subcommand(1);

  // Added in the order `rappelctl --help` lists them.
  std::vector<std::unique_ptr<ctl::CommandGroup>> groups;
  groups.push_back(ctl::AddStatusCommand(app));
  groups.push_back(ctl::AddReminderCommands(app));
  groups.push_back(ctl::AddServerCommands(app));
  groups.push_back(ctl::AddRateCommands(app));
  groups.push_back(ctl::AddObjectCommands(app));
  groups.push_back(ctl::AddAppointmentCommands(app));
  groups.push_back(ctl::AddAppointmentOpCommands(app));  // under `appointment`: after it
  groups.push_back(ctl::AddCreditCommands(app));
  groups.push_back(ctl::AddPatientReplyCommand(app));
  groups.push_back(ctl::AddMessageCommands(app));

  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;
  // require_subcommand(1): exactly one group was chosen.
  auto chosen =
      std::find_if(groups.begin(), groups.end(), [](const auto& g) { return g->Chosen(); });
  if (chosen == groups.end()) return ctl::kExitUsage;

  // Bad arguments and unreadable files are found before connecting.
  if (int rc = (*chosen)->Prepare(); rc != 0) return rc;
  auto client = rappel::client::BlockingClient::Connect(options);
  if (!client.ok()) return ctl::Fail(client.status());
  return (*chosen)->Run(**client, json);
}
