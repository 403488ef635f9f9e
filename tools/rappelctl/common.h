// What every rappelctl command group shares: the exit codes README.md
// documents and the way a failure or a server's JSON document is printed.
// Results go to stdout, failures to stderr prefixed "rappelctl: ".
#pragma once

#include <string>

#include "absl/status/status.h"

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

// Prints a JSON document from rappeld indented; as it came if it does not parse.
void PrintJson(const std::string& text);

}  // namespace rappel::ctl
