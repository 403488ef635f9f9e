// A tenant's SMS credits:
//   credits show TENANT         the ledger and its reservations, what waits
//                               for credit or for sending hours, the
//                               forecast cost of the pending plan (tables; --json)
//   credits add TENANT AMOUNT   add to the balance, releasing what waited
//                               for credit; prints the same view
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddCreditCommands(CLI::App& app);

}  // namespace rappel::ctl
