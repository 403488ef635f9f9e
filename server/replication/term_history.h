// Term history matching (Raft's log matching): whether a standby's
// position names a group of the primary's history, so that streaming from
// the next index leaves it holding exactly the primary's groups.
//
// Thread: pure functions, any thread.
#pragma once

#include <string>

#include "server/store/store.h"

namespace rappel::server {

// True when the primary's history (`primary`: its repl_pos and term
// history) has index `standby.index` in term `standby.term`: the term is in
// the history and the index lies between the term's first index and its
// last (the next term's first index - 1, or the primary's position for the
// last term). Index 0 never matches: a standby with an empty store starts
// from a snapshot, since the primary's store may hold writes from before it
// replicated (positions start at its first replicated commit).
bool HistoryHolds(const ReplMeta& primary, ReplPos standby);

// Why HistoryHolds is false, for the logs: "new", "ahead of the primary" or
// "diverged".
std::string HistoryMismatch(const ReplMeta& primary, ReplPos standby);

}  // namespace rappel::server
