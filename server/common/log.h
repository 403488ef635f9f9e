// rappeld's log: one line per event to stderr, through spdlog, for events an
// operator must see: lifecycle, refusals, replaced data, closed offenders.
// Nothing per message at the default level (info). Any thread: each line is
// written whole, so lines do not interleave.
//
// A line is, in the text format,
//   2025-03-01T09:30:00.123Z info listening on 127.0.0.1:7411
// (ISO-8601 UTC with milliseconds, the level, the message) and in the json
// format one object per line, the message JSON-escaped:
//   {"ts":"2025-03-01T09:30:00.123Z","level":"info","msg":"listening on ..."}
// Until ConfigureLog is called: text, info.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rappel::server {

enum class LogFormat { kText, kJson };
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
};

// "text" | "json"; nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(std::string_view name);
// "trace" | "debug" | "info" | "warn" | "error" | "off"; nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
// The names the parsers take: "json", "warn".
std::string_view LogFormatName(LogFormat format);
std::string_view LogLevelName(LogLevel level);

// Sets the format and the threshold of the process's log. Meant for main(),
// before threads log; lines below the level are dropped.
void ConfigureLog(const LogOptions& options);

void LogDebug(std::string_view message);
void LogInfo(std::string_view message);   // lifecycle: start, reload, stop
void LogWarn(std::string_view message);   // refusals, failures a client or peer caused
void LogError(std::string_view message);  // the server itself failed

}  // namespace rappel::server
