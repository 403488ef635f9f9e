#include "server/net/tenant_access.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/log_budget.h"

namespace rappel::server {

namespace wire = protocol::wire;

namespace {

// One budget for the process: the log is one stream.
LogBudget& RefusalBudget() {
  static LogBudget budget(kRefusalLinesPerSecond);
  return budget;
}

}  // namespace

void LogRefusal(std::string_view line) {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  LogBudget::Grant g = RefusalBudget().Take(now_ms);
  if (!g.log) return;
  if (g.suppressed > 0) {
    LogWarn(absl::StrCat(std::string(line), " (", g.suppressed,
                         " more refusals not logged before this one)"));
  } else {
    LogWarn(line);
  }
}

absl::Status CheckTenant(const Connection& conn, wire::Body request, TenantId tenant) {
  if (conn.MayActFor(tenant)) return absl::OkStatus();
  LogRefusal(absl::StrCat("refused ", wire::EnumNameBody(request), " for tenant ", tenant.value,
                          " from ", conn.peer, ": token '", conn.token_name,
                          "' may not act for it"));
  return absl::PermissionDeniedError(
      absl::StrCat("this token may not act for tenant ", tenant.value));
}

absl::Status CheckAllTenants(const Connection& conn, wire::Body request) {
  if (conn.AllTenants()) return absl::OkStatus();
  LogRefusal(absl::StrCat("refused ", wire::EnumNameBody(request), " from ", conn.peer, ": token '",
                          conn.token_name,
                          "' is limited to some tenants and the request concerns all of them"));
  return absl::PermissionDeniedError(absl::StrCat(
      wire::EnumNameBody(request), " concerns every tenant: it needs a token for all tenants"));
}

}  // namespace rappel::server
