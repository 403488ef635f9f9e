#include "tools/rappelctl/objects.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using client::ObjectKind;
using Json = nlohmann::json;

// The whole of `path` ("-": standard input).
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::ostringstream out;
  if (path == "-") {
    out << std::cin.rdbuf();
    if (std::cin.bad()) return absl::InvalidArgumentError("cannot read standard input");
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError("cannot open " + path);
    out << in.rdbuf();
    if (in.bad()) return absl::InvalidArgumentError("cannot read " + path);
  }
  return out.str();
}

// `rappelctl KIND put|get ...` for one kind of configuration object. A
// tenant is named by its number alone; the others by TENANT ID.
struct ObjectCommand {
  ObjectKind kind;
  CLI::App* put = nullptr;
  CLI::App* get = nullptr;
  uint32_t tenant = 0;
  std::string id;
  std::string file;
  std::string document;  // put: the file's contents, once Prepare has read them

  // `what`: "a calendar"; `id_help`: what names one within its tenant;
  // `document`: what the JSON holds.
  ObjectCommand(CLI::App& app, ObjectKind k, const std::string& what, const std::string& id_help,
                const std::string& document = "a JSON document")
      : kind(k) {
    bool is_tenant = k == ObjectKind::kTenant;
    auto* cmd =
        app.add_subcommand(client::ObjectKindName(k), "put or get " + what + " (" + document + ")");
    cmd->require_subcommand(1);
    put = cmd->add_subcommand(
        "put", "create or replace " + what + " from a JSON file; prints it as stored (a table; --json: the document)");
    get = cmd->add_subcommand("get", "print " + what + " as stored, secrets left out (a table; --json: the document)");
    for (CLI::App* sub : {put, get}) {
      sub->add_option("tenant", tenant, "tenant id")->required();
      if (!is_tenant) sub->add_option("id", id, id_help)->required();
    }
    put->add_option("--file", file, document + " (-: standard input)")->required();
  }

  bool parsed() const { return put->parsed() || get->parsed(); }

  // Checks the arguments and reads the document, before any connection: 0,
  // or the exit code.
  int Prepare() {
    if (kind == ObjectKind::kTemplate) {
      std::vector<std::string> parts;
      std::stringstream ss(id);
      for (std::string part; std::getline(ss, part, '/');) parts.push_back(part);
      bool ok = parts.size() == 3 && id.back() != '/' &&
                std::none_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); });
      if (!ok) return Usage("a template is named KIND/CHANNEL/LOCALE, e.g. reminder/sms/fr");
    }
    if (!put->parsed()) return 0;
    auto text = ReadInput(file);
    if (!text.ok()) return Usage(std::string(text.status().message()));
    Json doc = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Usage((file == "-" ? std::string("standard input") : file) +
                   " does not hold a JSON object");
    }
    document = std::move(*text);
    return 0;
  }

  int Run(client::BlockingClient& c, bool json) const {
    auto reply =
        put->parsed() ? c.PutObject(kind, tenant, id, document) : c.GetObject(kind, tenant, id);
    if (!reply.ok()) return Fail(reply.status());
    if (json) {
      PrintJson(*reply);
    } else {
      PrintDocumentTables(*reply);
    }
    return 0;
  }
};

class ObjectCommands final : public CommandGroup {
 public:
  explicit ObjectCommands(CLI::App& app) {
    objects_.emplace_back(app, ObjectKind::kTenant, "a tenant's settings", "");
    objects_.emplace_back(app, ObjectKind::kCalendar, "a calendar", "calendar id");
    objects_.emplace_back(app, ObjectKind::kAppointmentType, "an appointment type",
                          "appointment type id");
    objects_.emplace_back(app, ObjectKind::kPatient, "a patient", "patient id");
    objects_.emplace_back(app, ObjectKind::kTemplate, "a message template",
                          "KIND/CHANNEL/LOCALE, e.g. reminder/sms/fr",
                          "a JSON document: {\"subject\": ..., \"body\": ...}");
  }

  bool Chosen() const override {
    return std::any_of(objects_.begin(), objects_.end(),
                       [](const ObjectCommand& o) { return o.parsed(); });
  }

  int Prepare() override { return chosen().Prepare(); }

  int Run(client::BlockingClient& c, bool json) override { return chosen().Run(c, json); }

 private:
  // Only called once Chosen().
  ObjectCommand& chosen() {
    return *std::find_if(objects_.begin(), objects_.end(),
                         [](const ObjectCommand& o) { return o.parsed(); });
  }

  // A deque, not a vector: CLI11 holds pointers into each, so none may move.
  std::deque<ObjectCommand> objects_;
};

}  // namespace

std::unique_ptr<CommandGroup> AddObjectCommands(CLI::App& app) {
  return std::make_unique<ObjectCommands>(app);
}

}  // namespace rappel::ctl
