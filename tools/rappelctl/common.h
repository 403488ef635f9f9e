// What every rappelctl command group shares: the exit codes README.md
// documents, the way a failure or a server's JSON document is printed, the
// table printer and --watch. Results go to stdout, failures to stderr:
// a line prefixed "rappelctl: ", or under --json one JSON object
// {"error": {"code": "NOT_FOUND", "message": "..."}} (the code is
// absl::StatusCodeToString's; bad usage is INVALID_ARGUMENT).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

// 0 is done.
inline constexpr int kExitFailed = 1;       // the server refused or failed
inline constexpr int kExitUsage = 2;        // bad usage, an unreadable or invalid input file
inline constexpr int kExitUnreachable = 3;  // rappeld unreachable or not answering
inline constexpr int kExitNotFound = 4;     // reminder, dead letter, object, appointment, calendar

// Failures are printed as JSON objects from now on (--json).
void SetJsonErrors(bool on);

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

// Columns aligned on their widest cell (counted in UTF-8 characters), a
// header row first; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }
  void Print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A JSON document from rappeld as tables: its scalar fields (nested
// objects as dotted names, arrays of scalars joined) as FIELD VALUE rows,
// then each array of objects as a table of its own under its name, one
// column per field; a time in ms ("due_ms") in UTC. As it came if it does
// not parse.
void PrintDocumentTables(const std::string& text);

// Runs `once` (which prints one report and returns its exit code) every
// `seconds`, `count` times (0: until interrupted), stopping at the first
// non-zero code. Tables get a time line before each report after the
// first; under --json each report should be one line (JSON Lines).
int Watch(double seconds, uint32_t count, bool json, const std::function<int()>& once);
// Adds --watch SECONDS and --count N to `cmd`.
void AddWatchOptions(CLI::App* cmd, double* seconds, uint32_t* count);

}  // namespace rappel::ctl
