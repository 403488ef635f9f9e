#include "tools/rappelctl/dry_run_view.h"

#include <cstdio>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {

void PrintDryRun(const std::string& text, bool json) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json || doc.is_discarded() || !doc.contains("dry_run")) {
    PrintJson(text);
    return;
  }
  const nlohmann::json& plan = doc["dry_run"];
  std::printf("event: %s\n", doc.value("event", std::string("re-plan")).c_str());
  std::printf("%-20s  %-18s  %-6s  %7s  %s\n", "due (UTC)", "kind", "channel", "credits", "to");
  for (const auto& m : plan.value("messages", nlohmann::json::array())) {
    std::string due = absl::FormatTime("%Y-%m-%d %H:%M:%S",
                                       absl::FromUnixMillis(m.value("due_ms", int64_t{0})),
                                       absl::UTCTimeZone());
    std::printf("%-20s  %-18s  %-6s  %7lld  %s\n", due.c_str(),
                m.value("kind", std::string()).c_str(), m.value("channel", std::string()).c_str(),
                static_cast<long long>(m.value("credits", int64_t{0})),
                m.value("to", std::string()).c_str());
  }
  std::printf("credits: %lld%s\n", static_cast<long long>(plan.value("credits_total", int64_t{0})),
              plan.value("metered", false) ? "" : " (not metered)");
  const auto omitted = plan.value("omitted", nlohmann::json::array());
  if (!omitted.empty()) std::printf("left out:\n");
  for (const auto& o : omitted) {
    std::printf("  %-18s  %-6s  %s\n", o.value("kind", std::string()).c_str(),
                o.value("channel", std::string()).c_str(), o.value("reason", std::string()).c_str());
  }
}

}  // namespace rappel::ctl
