// What every rappelctl command group shares: the exit codes README.md
// documents and the way a failure or a server's JSON document is printed.
// Results go to stdout, failures to stderr prefixed "rappelctl: ".
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rappel::ctl {

// 0 is done.
inline constexpr int kExitFailed = 1;       // the server refused or failed
inline constexpr int kExitUsage = 2;        // bad usage, an unreadable or invalid input file
inline constexpr int kExitUnreachable = 3;  // rappeld unreachable or not answering
inline constexpr int kExitNotFound = 4;     // reminder, dead letter, object, appointment, calendar

// Prints `st` and returns its exit code: kExitUnreachable for Unavailable
// and DeadlineExceeded, kExitNotFound for NotFound, else kExitFailed.
int Fail(const absl::Status& st);

// Prints `message` and returns kExitUsage.
int Usage(const std::string& message);

// Unix milliseconds, or an ISO 8601 / RFC 3339 time with its UTC offset
// ("2026-03-02T14:00:00+01:00", "2026-03-02T13:00Z"): the offset is
// required, rappelctl does not guess a time zone. InvalidArgument, saying
// what is expected, otherwise.
absl::StatusOr<int64_t> ParseTimeMs(const std::string& text);

// Prints a JSON document from rappeld indented; as it came if it does not parse.
void PrintJson(const std::string& text);

}  // namespace rappel::ctl
