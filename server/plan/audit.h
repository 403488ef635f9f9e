// Audit records (state key au/<n>): the lines one event wrote about an
// appointment's messages — planned, omitted, dropped, expired, suppressed,
// sent, failed — each with its time, the message and a reason.
//
// Written in a compact binary form (format byte 1, then self-delimiting
// lines with varints): an audit record is written for every appointment
// event, and its size is a large part of the pages each commit writes
// (bench/RESULTS.md, issue 4). Records written before that are text, one
// tab-separated line per entry; they are still read.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/engine/reminder.h"
#include "server/plan/model.h"

namespace rappel::server::plan {

struct AuditEntry {
  int64_t at_ms = 0;
  std::string what;     // "planned", "dropped", an ack's outcome, ...
  std::string kind;     // KindName
  std::string channel;  // ChannelName, or "*" for every channel
  uint32_t occurrence = 0;
  int64_t due_ms = 0;  // 0 when the line is about no particular time
  std::string reason;
};

// Appends one line to `record` (starting the record when it is empty). Tabs
// and line breaks in the reason become spaces: it is shown as one line.
void AppendAuditLine(std::string* record, int64_t at_ms, std::string_view what, MessageKind kind,
                     std::optional<Channel> channel, uint32_t occurrence, int64_t due_ms,
                     std::string_view reason);

// The entries of a record of either format, in order. A line that does not
// parse ends the binary record and is skipped in a text one: never thrown on.
std::vector<AuditEntry> ParseAuditRecord(std::string_view record);

}  // namespace rappel::server::plan
