// Tenant access: whether a connection's token may act for a tenant, and the
// refusal when it may not. A refusal is a PermissionDenied status naming the
// tenant (the family replies with it: in place for an item of a batched
// request, as an Error frame for a whole request), and one log line naming
// the token (never its secret), the client's address, the request type and
// the tenant; at most kRefusalLinesPerSecond such lines a second (shared with
// the failed Hellos and the role refusals), the rest counted and reported
// with the next line.
//
// Thread: the io thread (the log budget itself is thread-safe).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "protocol/rappel_generated.h"
#include "server/engine/reminder.h"
#include "server/net/connection.h"

namespace rappel::server {

inline constexpr uint32_t kRefusalLinesPerSecond = 20;

// Writes one refusal line to the log, within the budget above.
void LogRefusal(std::string_view line);

// OK if `conn` may act for `tenant`; else logs and returns PermissionDenied.
absl::Status CheckTenant(const Connection& conn, protocol::wire::Body request, TenantId tenant);

// OK if `conn`'s token is for every tenant (an instance-wide request:
// Compact, Backup, a channel's overall rate limit); else logs and returns
// PermissionDenied.
absl::Status CheckAllTenants(const Connection& conn, protocol::wire::Body request);

}  // namespace rappel::server
