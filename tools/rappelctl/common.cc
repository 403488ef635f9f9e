#include "tools/rappelctl/common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace rappel::ctl {

namespace {
bool json_errors = false;

// What `text` takes on a terminal, roughly: its UTF-8 characters.
size_t Width(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

int PrintError(absl::StatusCode code, const std::string& message, int exit_code) {
  if (json_errors) {
    nlohmann::json j{{"error", {{"code", absl::StatusCodeToString(code)}, {"message", message}}}};
    std::fprintf(stderr, "%s\n",
                 j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fprintf(stderr, "rappelctl: %s\n", message.c_str());
  }
  return exit_code;
}
}  // namespace

void SetJsonErrors(bool on) { json_errors = on; }

int Fail(const absl::Status& st) {
  int rc = kExitFailed;
  if (absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st)) rc = kExitUnreachable;
  if (absl::IsNotFound(st)) rc = kExitNotFound;
  return PrintError(st.code(), json_errors ? std::string(st.message()) : st.ToString(), rc);
}

int Usage(const std::string& message) {
  return PrintError(absl::StatusCode::kInvalidArgument, message, kExitUsage);
}

void Table::Print() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - Width(row[i]) + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

namespace {
using Json = nlohmann::json;

// `name` ending in "_ms" with a value past 1973 is a time: shown in UTC
// (a duration in ms, such as delay_ms, stays a number).
std::string Cell(const std::string& name, const Json& v) {
  if (name.ends_with("_ms") && v.is_number_integer() && v.get<int64_t>() >= 100'000'000'000) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(v.get<int64_t>()),
                            absl::UTCTimeZone());
  }
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool ArrayOfObjects(const Json& v) {
  return v.is_array() && !v.empty() &&
         std::all_of(v.begin(), v.end(), [](const Json& e) { return e.is_object(); });
}

// Scalar fields of `j` as rows under `prefix`; arrays of objects set aside.
void Flatten(const Json& j, const std::string& prefix, Table* fields,
             std::vector<std::pair<std::string, const Json*>>* lists) {
  for (const auto& [name, v] : j.items()) {
    std::string path = prefix.empty() ? name : prefix + "." + name;
    if (v.is_object() && !v.empty()) {
      Flatten(v, path, fields, lists);
    } else if (ArrayOfObjects(v)) {
      lists->emplace_back(path, &v);
    } else if (v.is_array()) {
      std::string joined;
      for (const Json& e : v) joined += (joined.empty() ? "" : ", ") + Cell(name, e);
      fields->Add({path, joined.empty() ? "-" : joined});
    } else {
      fields->Add({path, Cell(name, v)});
    }
  }
}
}  // namespace

void PrintDocumentTables(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    PrintJson(text);
    return;
  }
  Table fields({"FIELD", "VALUE"});
  std::vector<std::pair<std::string, const Json*>> lists;
  Flatten(doc, "", &fields, &lists);
  bool first = true;
  if (!fields.empty()) {
    fields.Print();
    first = false;
  }
  for (const auto& [name, list] : lists) {
    std::vector<std::string> columns;
    for (const Json& e : *list) {
      for (const auto& [k, v] : e.items()) {
        if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
      }
    }
    std::vector<std::string> headers;
    for (const auto& c : columns) headers.push_back(absl::AsciiStrToUpper(c));
    Table t(headers);
    for (const Json& e : *list) {
      std::vector<std::string> row;
      for (const auto& c : columns) row.push_back(e.contains(c) ? Cell(c, e[c]) : "");
      t.Add(row);
    }
    std::printf("%s%s (%zu)\n", first ? "" : "\n", name.c_str(), list->size());
    first = false;
    t.Print();
  }
}

void AddWatchOptions(CLI::App* cmd, double* seconds, uint32_t* count) {
  auto* watch = cmd->add_option("--watch", *seconds,
                                "reprint every SECONDS until interrupted (--json: one line each)")
                    ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--count", *count, "with --watch: stop after N reports (0: never)")
      ->needs(watch);
}

int Watch(double seconds, uint32_t count, bool json, const std::function<int()>& once) {
  for (uint64_t i = 0; count == 0 || i < count; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      if (!json) {
        std::printf("\n-- %s --\n", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(),
                                                     absl::UTCTimeZone())
                                        .c_str());
      }
    }
    if (int rc = once(); rc != 0) return rc;
    std::fflush(stdout);
  }
  return 0;
}

void PrintJson(const std::string& text) {
  using Json = nlohmann::json;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::printf("%s\n", text.c_str());
  } else {
    std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  }
}

absl::StatusOr<int64_t> ParseTimeMs(const std::string& text) {
  size_t digits_from = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() > digits_from && std::all_of(text.begin() + digits_from, text.end(),
                                               [](char c) { return c >= '0' && c <= '9'; })) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      return absl::InvalidArgumentError("time out of range: " + text);
    }
  }
  for (const char* format : {"%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d%ET%H:%M%Ez"}) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, text, &t, &err)) return absl::ToUnixMillis(t);
  }
  return absl::InvalidArgumentError(
      "bad time \"" + text +
      "\": give unix milliseconds or YYYY-MM-DDTHH:MM[:SS] with a UTC offset (Z, +01:00)");
}

}  // namespace rappel::ctl
