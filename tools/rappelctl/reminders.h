// One reminder and the dead letters, by tenant and key:
//   keys TENANT [--prefix P] [--limit N] [--cursor K]   a page of its live keys, in order
//   inspect TENANT KEY       the reminder, its version and whether it is leased
//   cancel TENANT KEY        cancel it
//   dead-letters [--tenant N] [--limit N]   oldest first, with attempts and last detail
//   replay TENANT KEY        schedule a dead letter again, due now
// A missing reminder or dead letter exits 4.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddReminderCommands(CLI::App& app);

}  // namespace rappel::ctl
