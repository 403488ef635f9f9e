// rappelctl: the admin CLI of rappeld. Human-readable tables by default,
// --json for scripts (and for errors: common.h). Exit codes: 0 done, 1 the
// server refused or failed, 2 bad usage (an unknown command, an unreadable
// or invalid input file), 3 rappeld unreachable, 4 not found (reminder,
// dead letter, configuration object, appointment, calendar).
//
// This file holds the options every subcommand shares (the server's
// address and the token: flag > environment > default, as psql and
// redis-cli do); the subcommands are in command groups, one file each
// (command_group.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
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
#include "tools/rappelctl/shard.h"
#include "tools/rappelctl/status.h"
#include "server/common/program.h"

namespace {

namespace ctl = rappel::ctl;

// The first word of the command line that is neither a global option nor
// its value: the command. Empty when there is none.
std::string CommandWord(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (arg.size() < 2 || arg[0] != '-') return arg;
    if (arg.find('=') != std::string::npos) continue;
    const CLI::Option* opt = app.get_option_no_throw(arg);
    if (opt != nullptr && opt->get_items_expected_max() != 0) ++i;  // its value
  }
  return "";
}

// The token file's first line (a trailing newline is not part of the token).
std::optional<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  rappel::client::Options options;
  options.client_name = "rappelctl";
  bool json = false;
  std::string token, token_file;
  CLI::App app{
      "rappelctl: look after a running rappeld\n"
      "Every setting comes from its flag, else its environment variable, else the default. The "
      "token: --token, else --token-file, else RAPPEL_TOKEN, else RAPPEL_TOKEN_FILE."};
  rappel::AddVersionFlag(app, "rappelctl");
  std::string hosts = options.host;
  app.add_option("--host", hosts,
                 "rappeld's address; the nodes of a replicated shard as a comma list "
                 "(HOST[:PORT],...: the first that answers is used, writes go to the leader)")
      ->envname("RAPPEL_HOST")
      ->capture_default_str();
  app.add_option("--port", options.port, "rappeld's port")
      ->envname("RAPPEL_PORT")
      ->capture_default_str();
  auto* token_opt = app.add_option(
      "--token", token,
      "admin token, if rappeld requires one; on the command line it shows in `ps` and in shell "
      "history: prefer RAPPEL_TOKEN or --token-file");
  app.add_option("--token-file", token_file,
                 "read the token from the first line of FILE (env: RAPPEL_TOKEN_FILE)")
      ->type_name("FILE")
      ->excludes(token_opt);
  rappel::client::AddTlsFlags(app, options.tls);
  app.add_flag("--json", json,
               "print JSON instead of tables; an error is then one JSON object "
               "{\"error\": {\"code\", \"message\"}} on stderr");
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
  groups.push_back(ctl::AddShardCommand(app));

  // --json is a flag of its own (no value): known before parsing, so that
  // even a parse error is reported as JSON.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) ctl::SetJsonErrors(true);
  }
  std::string command = CommandWord(app, argc, argv);
  auto subcommands = app.get_subcommands({});
  if (!command.empty() && std::none_of(subcommands.begin(), subcommands.end(),
                                       [&](CLI::App* sub) { return sub->check_name(command); })) {
    std::string names;
    for (const CLI::App* sub : subcommands) names += (names.empty() ? "" : ", ") + sub->get_name();
    return ctl::Usage("unknown command \"" + command + "\" (commands: " + names +
                      "; see rappelctl --help)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    if (json) return ctl::Usage(e.what());
    app.exit(e);
    return ctl::kExitUsage;
  }
  // require_subcommand(1): exactly one group was chosen.
  auto chosen =
      std::find_if(groups.begin(), groups.end(), [](const auto& g) { return g->Chosen(); });
  if (chosen == groups.end()) return ctl::kExitUsage;

  // The token: flag, then environment (file names read here, before
  // connecting, so a bad one is bad usage).
  if (token_opt->count() > 0) {
    options.token = token;
  } else {
    const char* env_token = std::getenv("RAPPEL_TOKEN");
    const char* env_file = std::getenv("RAPPEL_TOKEN_FILE");
    if (token_file.empty() && env_token == nullptr && env_file != nullptr) token_file = env_file;
    if (!token_file.empty()) {
      auto read = ReadTokenFile(token_file);
      if (!read) return ctl::Usage("cannot read the token file " + token_file);
      options.token = *read;
    } else if (env_token != nullptr) {
      options.token = env_token;
    }
  }

  // Several hosts: tried in turn. A standby answers what it can (status of
  // the node asked); what it refuses goes to the leader it names.
  auto endpoints = rappel::client::ParseEndpoints(hosts, options.port);
  if (!endpoints.ok()) return ctl::Usage("--host: " + std::string(endpoints.status().message()));
  options.endpoints = std::move(*endpoints);
  options.follow_leader = rappel::client::FollowLeader::kOnRefusal;

  // Bad arguments and unreadable files are found before connecting.
  if (int rc = (*chosen)->Prepare(); rc != 0) return rc;
  if (!(*chosen)->UsesServer()) return (*chosen)->RunWithoutServer(json);
  auto client = rappel::client::BlockingClient::Connect(options);
  if (!client.ok()) return ctl::Fail(client.status());
  return (*chosen)->Run(**client, json);
}
