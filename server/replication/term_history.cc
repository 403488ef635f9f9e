#include "server/replication/term_history.h"

#include "absl/strings/str_cat.h"

namespace rappel::server {

bool HistoryHolds(const ReplMeta& primary, ReplPos standby) {
  if (standby.index == 0 || standby.index > primary.pos.index) return false;
  for (size_t k = 0; k < primary.terms.size(); ++k) {
    if (primary.terms[k].term != standby.term) continue;
    uint64_t first = primary.terms[k].index;
    uint64_t last =
        k + 1 < primary.terms.size() ? primary.terms[k + 1].index - 1 : primary.pos.index;
    return first <= standby.index && standby.index <= last;
  }
  return false;
}

std::string HistoryMismatch(const ReplMeta& primary, ReplPos standby) {
  if (standby.index == 0) return "new (an empty store)";
  if (standby.index > primary.pos.index || standby.term > primary.pos.term) {
    return absl::StrCat("ahead of the primary (at term ", primary.pos.term, " index ",
                        primary.pos.index, ")");
  }
  if (HistoryHolds(primary, standby)) return "in the primary's history";
  return "diverged: it holds groups the primary's history does not";
}

}  // namespace rappel::server
