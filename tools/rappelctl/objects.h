// The configuration objects, JSON documents (fields and defaults:
// protocol/README.md) printed as tables, or as JSON under --json; one
// subcommand per kind:
//   tenant put|get TENANT [--file F]
//   calendar | type | patient | template put|get TENANT ID [--file F]
// put reads F ("-": standard input), which must hold a JSON object, before
// connecting (exit 2 otherwise), and prints the object as stored; get
// prints it, secrets left out. A template's ID is KIND/CHANNEL/LOCALE.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddObjectCommands(CLI::App& app);

}  // namespace rappel::ctl
