// The server as a whole:
//   backup DIR   hot backup with compaction into DIR, which must exist and be
//                empty (written by rappeld, on its host; one at a time)
//   compact      compact the log now; records and bytes before and after
//   ping         check that rappeld answers
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddServerCommands(CLI::App& app);

}  // namespace rappel::ctl
