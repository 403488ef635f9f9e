// `rappelctl shard`: a replicated shard as etcd sees it (server/coord/
// election.h keys): the leader and its term, and each live node with its
// role, the position it has made durable and its lag behind the leader, in
// groups. Reads etcd (--etcd-endpoints or RAPPEL_ETCD_ENDPOINTS, --shard or
// RAPPEL_SHARD), not rappeld: it answers while the leader is down. Exits 1
// when etcd cannot be read, 3 when the shard has no leader.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddShardCommand(CLI::App& app);

}  // namespace rappel::ctl
