// rappeld's settings: the TOML configuration file (--config) and the
// command-line flags, from one table so that both take the same settings
// with the same checks. The flags override the file; without a file the
// embedded defaults apply. An example file with every key is
// server/main/rappeld.example.toml.
//
//   [server]   listen, port, tls_cert_file, tls_key_file, tls_client_ca_file, plaintext,
//              max_connections, idle_timeout_ms, max_frame_bytes,
//              partial_frame_budget_bytes, frame_timeout_ms, log_format, log_level
//   [store]    data_dir, max_map_bytes
//   [engine]   horizon_days
//   [dispatch] lease_timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms,
//              rate_late_after_ms
//   [metrics]  listen, port, top_tenants (flags --metrics-listen, --metrics-port,
//              --metrics-top-tenants)
//   [replication] listen, port, replica_of, token_file, node, backlog_bytes,
//              sync_standbys (flags --replication-listen, --replication-port,
//              --replica-of, --replication-token-file, --replication-node,
//              --replication-backlog-bytes, --sync-standbys)
//   [shard]    name, etcd_endpoints, etcd_prefix, lease_ttl_s (flags --shard,
//              --etcd-endpoints, --etcd-prefix, --lease-ttl-s)
//   [[token]]  secret = "..." or secret_file = "path",
//              role = "producer" | "worker" | "admin" | "replica",
//              optional: name = "clinic-a" (for logs; default "token #N"),
//              tenants = [1, 2] or "all" (default: all, as before tenants existed)
//
// SIGHUP resolves the file and the same flags again (CommandLine::Resolve)
// and applies the tokens and the settings marked reloadable; a file that
// does not resolve is refused and the running settings stay.
//
// Every setting but the tokens is also a flag: --KEY with '_' written '-'
// (--max-connections); [metrics] keys take a metrics- prefix. Tokens on the command line
// (--token SECRET=ROLE[:TENANTS[:NAME]]) replace the file's tokens.
// Relative paths in the file (data_dir, secret_file, tls_*_file) are
// relative to the file's directory. Secrets are hashed as they are read
// (credentials.h); the copies made while reading are wiped.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/rappel_generated.h"
#include "server/main/rappeld.h"

namespace rappel::server {

// One setting: [section] key in the file, --flag on the command line.
struct Setting {
  enum class Type { kInteger, kString };
  const char* section;
  const char* key;
  Type type;
  const char* help;
  int64_t min = 0;  // integers only, inclusive
  int64_t max = 0;
  // Sets the value (already type- and range-checked for integers); returns
  // an error message, empty when the value is accepted.
  std::string (*set)(RappeldOptions& options, const std::variant<int64_t, std::string>& value);
  // The current value, for --help.
  std::string (*get)(const RappeldOptions& options);
  // SIGHUP applies a new value to the running server (Rappeld::Reload);
  // the others take effect at the next start.
  bool reloadable = false;
  // The flag's name when --KEY would be ambiguous ("metrics-port").
  const char* flag_name = nullptr;

  std::string flag() const;  // "--max-connections"
};

// Every setting but the tokens, in the order of the data flow.
std::span<const Setting> Settings();

// rappeld's embedded defaults: the library defaults, store in ./rappel-data.
RappeldOptions DefaultRappeldOptions();

// Checks the type and range of `value` and sets it. The error message does
// not say where the value came from; callers prefix it.
absl::Status ApplySetting(const Setting& setting, const std::variant<int64_t, std::string>& value,
                          RappeldOptions& options);

// Roles by name: producer, worker, admin. InvalidArgument otherwise.
absl::StatusOr<protocol::wire::Role> ParseRole(std::string_view name);

// What a token has besides its secret and role.
struct TokenScope {
  std::string name;                              // empty: "token #N", N its position
  std::optional<std::vector<TenantId>> tenants;  // nullopt: every tenant
};

// A token's tenants from text: "all", or tenant ids separated by commas
// ("1,2,7"). InvalidArgument for anything else, an id twice or none.
absl::StatusOr<std::optional<std::vector<TenantId>>> ParseTenants(std::string_view text);

// Checks a token's tenant list (not empty, no id twice) and sorts it.
absl::Status CheckTenants(std::vector<TenantId>& tenants);

// OK if `name` may name a new token: 1 to 64 printable ASCII characters
// and no other token's name.
absl::Status CheckTokenName(std::string_view name, const HandlerOptions& handler);

// Adds one token, its secret hashed; `secret` is wiped. InvalidArgument
// when the secret is empty, the role is unknown, the secret is already a
// token (whatever its role), or the name is another token's, longer than
// 64 bytes or not printable ASCII. Messages never contain the secret.
absl::Status AddToken(std::string& secret, std::string_view role, TokenScope scope,
                      HandlerOptions& handler);

// One --token flag, SECRET=ROLE[:TENANTS[:NAME]]: the last '=' separates
// the secret; TENANTS as ParseTenants (default all), NAME as in the file.
absl::Status AddTokenFlag(std::string_view flag, HandlerOptions& handler);

// Applies a configuration file's text over `options`. `path` names the file
// in messages ("rappeld.toml:12:8: [server] port: ...") and is the base of
// its relative paths. InvalidArgument for a syntax error, an unknown section
// or key, a wrong type, a value out of range, an unknown role, a duplicate
// token or token name, an empty secret, an unreadable secret_file or a bad
// tenants list. The tokens of the file are added to those already in
// `options`.
absl::Status ApplyConfigText(std::string_view text, const std::string& path,
                             RappeldOptions& options);

// Reads the file, then ApplyConfigText.
absl::Status ApplyConfigFile(const std::string& path, RappeldOptions& options);

// Checks across settings, once everything is applied: backoff_base_ms <=
// backoff_max_ms; no address other than loopback without a token (from
// the file or the command line): anybody could read and write every
// reminder; TLS files given in pairs (a client CA only with them); and no
// address other than loopback without TLS unless plaintext = 1 (tokens
// and patient data would travel in clear). The TLS files themselves are
// loaded by the server at start.
absl::Status CheckOptions(const RappeldOptions& options);

// The settings whose value differs between the running options and a
// reloaded file but that only a restart applies, as "[server] port 7411 ->
// 7412", for the log line of a reload that keeps them.
std::vector<std::string> RestartOnlyChanges(const RappeldOptions& running,
                                            const RappeldOptions& next);

// rappeld's command line on a CLI11 app: --config, --token and one flag per
// setting. After app.parse(), Resolve() reads the file, applies the flags
// given over it and checks the result.
class CommandLine {
 public:
  explicit CommandLine(CLI::App& app);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  absl::StatusOr<RappeldOptions> Resolve() const;
  // --check-config FILE was given: resolve that file (with the flags) and
  // say whether it is valid, instead of starting.
  bool checking() const { return checking_; }
  const std::string& config_path() const { return config_path_; }

 private:
  struct Flag {
    const Setting* setting;
    CLI::Option* option;
    int64_t integer = 0;
    std::string string;
  };
  std::string config_path_;
  bool checking_ = false;
  std::vector<std::string> tokens_;
  std::vector<Flag> flags_;  // sized once: the CLI11 options point into it
};

}  // namespace rappel::server
