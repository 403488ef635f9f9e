// Configuration objects as JSON documents (the ObjectPut/ObjectGet wire
// messages, rappelctl's files, and their records in the store).
//
// Field names are snake_case, durations are strings absl::ParseDuration
// reads ("24h", "90m", "36h30m") or whole days ("2d"), channel sets are arrays of channel names.
// A missing field takes its default (model.h); an unknown field, a value of
// the wrong type or out of range is an InvalidArgumentError naming the field,
// so a typo never passes silently. The full list is in protocol/README.md.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/plan/model.h"

namespace rappel::server::plan {

// `with_secrets`: include the tenant's token secret (the store's copy); never
// for what goes on the wire.
nlohmann::json ToJson(const Tenant& t, bool with_secrets = false);
nlohmann::json ToJson(const Calendar& c);
nlohmann::json ToJson(const AppointmentType& t);
nlohmann::json ToJson(const Patient& p);

// Parse a document into an object whose ids (tenant, id) the caller set.
absl::Status FromJson(const nlohmann::json& j, Tenant* t);
absl::Status FromJson(const nlohmann::json& j, Calendar* c);
absl::Status FromJson(const nlohmann::json& j, AppointmentType* t);
absl::Status FromJson(const nlohmann::json& j, Patient* p);

// The one way the book writes JSON text (views, records, alerts). Text
// from the wire is valid UTF-8 (the router checks it), but a record stored
// before that check may not be, and nlohmann::json::dump throws on it:
// then every string (keys included) has its bad bytes replaced with U+FFFD
// (ReplaceInvalidUtf8) and one line is logged, once per `what` per process
// ("appointment view"). Never throws.
std::string DumpJson(const nlohmann::json& j, std::string_view what);

// Parses text into a JSON object (InvalidArgument with the parser's message).
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text);

// "24h" <-> milliseconds. Besides absl::ParseDuration's units, a whole
// number of days alone ("2d", up to 5 digits) is N x 24 h; for the planner's
// offsets (reminder, pre-visit, second reminder, post-visit, recall) it also
// means "the same local time N days before/after" (IsWholeDays).
std::string FormatDurationMs(int64_t ms);
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);
// "2d", "14d": digits then "d", nothing else ("1d12h" is not).
bool IsWholeDays(std::string_view text);
// An offset as it was given: "2d" when `in_days`, else FormatDurationMs.
std::string FormatOffsetMs(int64_t ms, bool in_days);

}  // namespace rappel::server::plan
