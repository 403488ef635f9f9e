// What became of a tenant's messages:
//   messages summary TENANT [--from DAY] [--to DAY]   counts by local day,
//       channel and kind: sent, delivered, opened, clicked, failed,
//       dropped (by reason) and credits spent
//   messages list TENANT [filters] [--limit N] [--cursor C]   the
//       messages, newest first, one page; the next page's --cursor is
//       printed under the table
//   messages outcome ID OUTCOME [--detail TEXT]   reports an outcome known
//       after the ack (delivered, opened, clicked, failed)
// Tables, or the server's JSON with --json.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddMessageCommands(CLI::App& app);

}  // namespace rappel::ctl
