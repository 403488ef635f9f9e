#include "server/common/log.h"

#include <memory>
#include <utility>

#include "nlohmann/json.hpp"
#include "spdlog/logger.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace rappel::server {
namespace {

constexpr std::string_view kFormatNames[] = {"text", "json"};
constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

spdlog::level::level_enum SpdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Our level names ("warn", not spdlog's "warning"), so that a line's level
// is what --log-level takes.
std::string_view LineLevel(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// spdlog's pattern cannot escape a message for JSON, so the line is built
// here; the timestamp comes from a pattern formatter (UTC, milliseconds).
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format)
      : format_(format),
        time_("%Y-%m-%dT%H:%M:%S.%eZ", spdlog::pattern_time_type::utc, /*eol=*/"") {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t ts;
    time_.format(msg, ts);
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (format_ == LogFormat::kJson) {
      nlohmann::ordered_json j;
      j["ts"] = std::string(ts.data(), ts.size());
      j["level"] = LineLevel(msg.level);
      j["msg"] = text;
      // Invalid UTF-8 in a message (a peer's bytes) becomes U+FFFD rather
      // than an exception in the logger.
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line.append(ts.data(), ts.size());
      line += ' ';
      line += LineLevel(msg.level);
      line += ' ';
      line += text;
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  LogFormat format_;
  spdlog::pattern_formatter time_;
};

// The process's logger, not registered with spdlog (whose default logger
// writes to stdout in colour). Created at first use with the defaults.
spdlog::logger& Logger() {
  static spdlog::logger* logger = [] {
    auto* l = new spdlog::logger("rappeld", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_formatter(std::make_unique<LineFormatter>(LogFormat::kText));
    l->set_level(spdlog::level::info);
    return l;
  }();
  return *logger;
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  for (size_t i = 0; i < std::size(kFormatNames); ++i) {
    if (name == kFormatNames[i]) return static_cast<LogFormat>(i);
  }
  return std::nullopt;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view LogFormatName(LogFormat format) {
  return kFormatNames[static_cast<size_t>(format)];
}
std::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<size_t>(level)]; }

void ConfigureLog(const LogOptions& options) {
  Logger().set_formatter(std::make_unique<LineFormatter>(options.format));
  Logger().set_level(SpdlogLevel(options.level));
}

void LogDebug(std::string_view message) { Logger().log(spdlog::level::debug, spdlog::string_view_t(message.data(), message.size())); }
void LogInfo(std::string_view message) { Logger().log(spdlog::level::info, spdlog::string_view_t(message.data(), message.size())); }
void LogWarn(std::string_view message) { Logger().log(spdlog::level::warn, spdlog::string_view_t(message.data(), message.size())); }
void LogError(std::string_view message) { Logger().log(spdlog::level::err, spdlog::string_view_t(message.data(), message.size())); }

}  // namespace rappel::server
