#include "tools/rappelctl/patient_reply.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;

class PatientReplyCommand final : public CommandGroup {
 public:
  explicit PatientReplyCommand(CLI::App& app) {
    reply_ =
        app.add_subcommand("patient-reply",
                           "apply a patient's reply: confirm or cancel (their next appointment, or "
                           "--appointment), stop (nothing more to their mobile number), start "
                           "(consent given again)");
    reply_->add_option("tenant", tenant_, "tenant id")->required();
    reply_->add_option("patient", patient_id_, "patient id")->required();
    reply_->add_option("reply", reply_kind_, "confirm | cancel | stop | start")
        ->required()
        ->check(CLI::IsMember({"confirm", "cancel", "stop", "start"}));
    reply_->add_option("--appointment", appointment_id_, "the appointment (confirm, cancel)");
  }

  bool Chosen() const override { return reply_->parsed(); }

  int Run(client::BlockingClient& c, bool json) override {
    using client::PatientReplyKind;
    // CLI11 has already checked that the reply is one of the four.
    PatientReplyKind kind = reply_kind_ == "confirm"  ? PatientReplyKind::kConfirm
                            : reply_kind_ == "cancel" ? PatientReplyKind::kCancel
                            : reply_kind_ == "stop"   ? PatientReplyKind::kStop
                                                      : PatientReplyKind::kStart;
    auto r = c.PatientReply(tenant_, patient_id_, appointment_id_, kind);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      std::printf("%s\n", Json{{"revision", r->revision}, {"planned", r->planned}}.dump().c_str());
    } else {
      std::printf("%s applied (%u pending)\n", reply_kind_.c_str(), r->planned);
    }
    return 0;
  }

 private:
  CLI::App* reply_ = nullptr;
  uint32_t tenant_ = 0;
  std::string patient_id_, reply_kind_;
  std::string appointment_id_;  // empty: their next appointment
};

}  // namespace

std::unique_ptr<CommandGroup> AddPatientReplyCommand(CLI::App& app) {
  return std::make_unique<PatientReplyCommand>(app);
}

}  // namespace rappel::ctl
