#include "tools/rappelctl/common.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace rappel::ctl {

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "rappelctl: %s\n", st.ToString().c_str());
  if (absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st)) return kExitUnreachable;
  if (absl::IsNotFound(st)) return kExitNotFound;
  return kExitFailed;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "rappelctl: %s\n", message.c_str());
  return kExitUsage;
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
