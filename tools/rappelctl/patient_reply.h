// `rappelctl patient-reply TENANT PATIENT confirm|cancel|stop|start
// [--appointment ID]`: a patient's reply as if it came in by message.
// confirm and cancel apply to their next appointment or to --appointment;
// stop sends nothing more to their mobile number until start. Prints the
// revision and how many messages are pending.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddPatientReplyCommand(CLI::App& app);

}  // namespace rappel::ctl
