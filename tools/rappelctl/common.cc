#include "tools/rappelctl/common.h"

#include <cstdio>

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

}  // namespace rappel::ctl
