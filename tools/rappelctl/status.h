// `rappelctl status`: the server's overview in one reply. Pending, leased,
// dead letters, retrying and waiting for a rate token; live and ready
// reminders by channel and by tenant (largest first, --tenants N); due in
// the next hour and day; the log's records and bytes, live and garbage; the
// store's size; group commit figures. Exits 1 when the server refuses
// writes (its fatal error is printed). --watch SECONDS reprints it.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddStatusCommand(CLI::App& app);

}  // namespace rappel::ctl
