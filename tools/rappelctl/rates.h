// Sending limits: token buckets per channel overall (the provider's limit,
// shared by every tenant) and per tenant on a channel, stored by rappeld.
//   rate set CHANNEL COUNT/PERIOD [--burst N] [--tenant N]
//   rate clear CHANNEL [--tenant N]
//   rates [--max-rows N]   limit, tokens, waiting, reported late, expired
// An unknown channel, a bad rate or a rate of 0 exits 2 before connecting.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddRateCommands(CLI::App& app);

}  // namespace rappel::ctl
