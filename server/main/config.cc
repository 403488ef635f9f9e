#include "server/main/config.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <asio.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"
#include "toml++/toml.h"

namespace rappel::server {
namespace {

using Value = std::variant<int64_t, std::string>;
constexpr int64_t kMsPerDay = 86'400'000;

int64_t Int(const Value& v) { return std::get<int64_t>(v); }
const std::string& Str(const Value& v) { return std::get<std::string>(v); }

// Overwrites a string holding a secret, spare capacity included, before it
// is freed: the clear secret is not left in freed memory.
void Wipe(std::string& s) {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}
struct WipeOnExit {
  std::string& s;
  ~WipeOnExit() { Wipe(s); }
};

// Reads a whole file into `out` in one allocation (no stream buffer left
// holding a copy). False with errno set on failure.
bool ReadWhole(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  std::streamsize size = in.tellg();
  if (size < 0) return false;
  out.assign(static_cast<size_t>(size), '\0');
  in.seekg(0);
  return static_cast<bool>(in.read(out.data(), size));
}

// The table. Ranges are what the components accept and what makes sense for
// a server; the defaults are the components' own (DefaultRappeldOptions).
const Setting kSettings[] = {
    {"server", "listen", Setting::Type::kString,
     "address to listen on (IPv4 or IPv6); other than loopback requires tokens, and TLS or "
     "plaintext = 1",
     0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       asio::error_code ec;
       asio::ip::make_address(Str(v), ec);
       if (ec) return absl::StrCat("'", Str(v), "' is not an IP address");
       o.server.listen_address = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.server.listen_address; }},
    {"server", "port", Setting::Type::kInteger, "TCP port (0: any free port, printed at start)", 0,
     65535,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.port = static_cast<uint16_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.server.port); }},
    // TLS on the client port. Paths in the file are relative to it.
    {"server", "tls_cert_file", Setting::Type::kString,
     "PEM certificate chain, the server's first: clients must speak TLS (with tls_key_file)", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.tls.cert_file = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.server.tls.cert_file; },
     /*reloadable=*/true},
    {"server", "tls_key_file", Setting::Type::kString, "PEM private key of tls_cert_file", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.tls.key_file = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.server.tls.key_file; },
     /*reloadable=*/true},
    {"server", "tls_client_ca_file", Setting::Type::kString,
     "PEM CA certificates: every client must present a certificate they sign (mutual TLS)", 0,
     0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.tls.client_ca_file = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.server.tls.client_ca_file; },
     /*reloadable=*/true},
    {"server", "plaintext", Setting::Type::kInteger,
     "1: listen beyond loopback without TLS (the network is protected otherwise); 0: refused", 0,
     1,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.plaintext = Int(v) == 1;
       return "";
     },
     [](const RappeldOptions& o) { return std::string(o.plaintext ? "1" : "0"); }},
    {"server", "max_connections", Setting::Type::kInteger,
     "connections beyond this are refused with ResourceExhausted", 1, 1'000'000,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.max_connections = static_cast<size_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.server.max_connections); }},
    {"server", "idle_timeout_ms", Setting::Type::kInteger,
     "close a connection silent for this long", 100, kMsPerDay,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.session.idle_timeout_ms = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.server.session.idle_timeout_ms); }},
    {"server", "max_frame_bytes", Setting::Type::kInteger,
     "larger frames are refused and the connection closed", 1024, int64_t{1} << 30,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.session.frame_limits.max_frame_bytes = static_cast<uint32_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) {
       return std::to_string(o.server.session.frame_limits.max_frame_bytes);
     }},
    {"server", "partial_frame_budget_bytes", Setting::Type::kInteger,
     "bytes all connections together may hold in frames still arriving; past it the newest "
     "such connections are closed (ResourceExhausted)",
     int64_t{1} << 20, int64_t{1} << 40,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.partial_frame_budget_bytes = static_cast<size_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.server.partial_frame_budget_bytes); }},
    {"server", "frame_timeout_ms", Setting::Type::kInteger,
     "a frame larger than 4 KiB must arrive whole this long after its first 4 KiB, else the connection "
     "is closed (DeadlineExceeded)",
     100, kMsPerDay,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.server.session.frame_timeout_ms = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.server.session.frame_timeout_ms); }},
    // The log (server/common/log.h): stderr, one line per event.
    {"server", "log_format", Setting::Type::kString,
     "text (timestamp, level, message) or json (one {\"ts\",\"level\",\"msg\"} object per line)", 0,
     0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       auto format = ParseLogFormat(Str(v));
       if (!format) return absl::StrCat("'", Str(v), "' is not a log format (text or json)");
       o.log.format = *format;
       return "";
     },
     [](const RappeldOptions& o) { return std::string(LogFormatName(o.log.format)); }},
    {"server", "log_level", Setting::Type::kString,
     "lines below it are dropped: trace, debug, info, warn, error or off", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       auto level = ParseLogLevel(Str(v));
       if (!level) {
         return absl::StrCat("'", Str(v),
                             "' is not a log level (trace, debug, info, warn, error or off)");
       }
       o.log.level = *level;
       return "";
     },
     [](const RappeldOptions& o) { return std::string(LogLevelName(o.log.level)); }},
    {"store", "data_dir", Setting::Type::kString, "store directory (created if missing)", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       if (Str(v).empty()) return "must not be empty";
       o.engine.store.path = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.engine.store.path; }},
    // At least the first map size (StoreOptions::initial_map_bytes, 64 MiB).
    {"store", "max_map_bytes", Setting::Type::kInteger, "the store never grows past this",
     int64_t{64} << 20, int64_t{1} << 50,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.engine.store.max_map_bytes = static_cast<uint64_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.engine.store.max_map_bytes); }},
    {"store", "slow_commit_ms", Setting::Type::kInteger,
     "a commit taking this long or longer is logged as a warning", 0, 3'600'000,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.engine.store.slow_commit_seconds = static_cast<double>(Int(v)) / 1000.0;
       return "";
     },
     [](const RappeldOptions& o) {
       return std::to_string(
           static_cast<int64_t>(o.engine.store.slow_commit_seconds * 1000.0 + 0.5));
     }},
    {"engine", "horizon_days", Setting::Type::kInteger, "due times further ahead are refused", 1,
     18'000,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.engine.horizon_ms = static_cast<uint64_t>(Int(v)) * kMsPerDay;
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.engine.horizon_ms / kMsPerDay); }},
    {"engine", "huge_pages", Setting::Type::kInteger,
     "1: the key index and the wheel ask for 2 MB pages (fewer TLB misses); 0: 4 KB pages", 0, 1,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.engine.huge_pages = Int(v) == 1;
       return "";
     },
     [](const RappeldOptions& o) { return std::string(o.engine.huge_pages ? "1" : "0"); }},
    {"dispatch", "lease_timeout_ms", Setting::Type::kInteger,
     "a message not acked by then goes to another worker", 1, kMsPerDay,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.dispatch.lease_timeout_ms = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.dispatch.lease_timeout_ms); }},
    {"dispatch", "max_attempts", Setting::Type::kInteger,
     "failed-retryable deliveries before a dead letter", 1, 1000,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.dispatch.max_attempts = static_cast<uint32_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.dispatch.max_attempts); }},
    // Attempt n waits base * 2^(n-1): base * 2^30 must fit in 63 bits.
    {"dispatch", "backoff_base_ms", Setting::Type::kInteger,
     "the first retry waits this long, each next one twice as long", 1, kMsPerDay,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.dispatch.backoff_base_ms = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.dispatch.backoff_base_ms); }},
    {"dispatch", "backoff_max_ms", Setting::Type::kInteger, "no retry waits longer than this", 1,
     30 * kMsPerDay,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.dispatch.backoff_max_ms = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.dispatch.backoff_max_ms); }},
    {"dispatch", "rate_late_after_ms", Setting::Type::kInteger,
     "a rate-limited message without an expiry is reported late if it cannot go within this of "
     "its due time",
     1, kMsPerDay,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.dispatch.rate.late_after_ms = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.dispatch.rate.late_after_ms); }},
    // The Prometheus / health listener (server/metrics/); loopback only
    // until it has TLS and a token (CheckOptions).
    {"metrics", "listen", Setting::Type::kString,
     "address of the HTTP listener for /metrics, /healthz and /readyz (loopback only)", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       asio::error_code ec;
       asio::ip::make_address(Str(v), ec);
       if (ec) return absl::StrCat("'", Str(v), "' is not an IP address");
       o.metrics.listen = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.metrics.listen; }, false, "metrics-listen"},
    {"metrics", "port", Setting::Type::kInteger,
     "TCP port of the metrics listener (-1: off; 0: any free port, printed at start)", -1, 65535,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.metrics.port = static_cast<int32_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.metrics.port); }, false,
     "metrics-port"},
    {"metrics", "top_tenants", Setting::Type::kInteger,
     "per-tenant series for this many busiest tenants (by live reminders), the rest as "
     "tenant=\"other\"", 0, 10'000,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.metrics.top_tenants = static_cast<uint32_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.metrics.top_tenants); }, false,
     "metrics-top-tenants"},
    // Log shipping to standbys (server/replication/): static, asynchronous or synchronous.
    {"replication", "listen", Setting::Type::kString,
     "address of the replication listener standbys connect to", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       asio::error_code ec;
       asio::ip::make_address(Str(v), ec);
       if (ec) return absl::StrCat("'", Str(v), "' is not an IP address");
       o.replication.listen = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.replication.listen; }, false, "replication-listen"},
    {"replication", "port", Setting::Type::kInteger,
     "TCP port of the replication listener (-1: off; 0: any free port, printed at start); "
     "standbys authenticate with a token of role replica",
     -1, 65535,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.replication.port = static_cast<int32_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.replication.port); }, false,
     "replication-port"},
    {"replication", "replica_of", Setting::Type::kString,
     "HOST:PORT of a primary's replication listener: run as its standby (its client port "
     "answers Hello, Ping and Stats and refers the rest to the primary)",
     0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.replication.replica_of = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.replication.replica_of; }, false, "replica-of"},
    {"replication", "token_file", Setting::Type::kString,
     "file holding the token (role replica on the primary) a standby sends", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.replication.token_file = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.replication.token_file; }, false,
     "replication-token-file"},
    {"replication", "node", Setting::Type::kString,
     "this standby's name in the primary's logs (default: the host name)", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.replication.node = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.replication.node; }, false, "replication-node"},
    {"replication", "backlog_bytes", Setting::Type::kInteger,
     "bytes of recent groups the primary keeps for standbys that reconnect", 1 << 20,
     int64_t{1} << 40,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.replication.backlog_bytes = static_cast<uint64_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.replication.backlog_bytes); }, false,
     "replication-backlog-bytes"},
    {"replication", "sync_standbys", Setting::Type::kInteger,
     "a primary answers a write once this many standbys hold it durable; while fewer are "
     "connected, writes wait (0: asynchronous: answered after the local commit, and lost "
     "with the primary if no standby had them yet)",
     0, 8,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.replication.sync_standbys = static_cast<uint32_t>(Int(v));
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.replication.sync_standbys); }, false,
     "sync-standbys"},
    {"replication", "advertise_client", Setting::Type::kString,
     "HOST:PORT clients are told to use to reach this node when it leads (standbys name it in "
     "their refusals; default: [server] listen and port)",
     0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       std::string a = Str(v);
       size_t colon = a.rfind(':');
       uint32_t port = 0;
       if (!a.empty() && (colon == std::string::npos || colon == 0 ||
                          !absl::SimpleAtoi(a.substr(colon + 1), &port) || port == 0 ||
                          port > 65535)) {
         return absl::StrCat("'", a, "' is not HOST:PORT");
       }
       o.replication.advertise_client = a;
       return "";
     },
     [](const RappeldOptions& o) { return o.replication.advertise_client; }, false,
     "advertise-client"},
    // A replicated shard: leadership through etcd (server/main/shard_node.h).
    {"shard", "name", Setting::Type::kString,
     "the replicated shard this node belongs to (empty: a single node, no etcd)", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       for (char c : Str(v)) {
         if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
           return "a shard name takes letters, digits, '-' and '_' only";
         }
       }
       o.shard.name = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.shard.name; }, false, "shard"},
    {"shard", "etcd_endpoints", Setting::Type::kString,
     "etcd's client URLs, comma-separated (http://127.0.0.1:2379)", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.shard.etcd_endpoints.clear();
       for (absl::string_view e : absl::StrSplit(Str(v), ',', absl::SkipWhitespace())) {
         e = absl::StripAsciiWhitespace(e);
         if (!absl::StartsWith(e, "http://") && !absl::StartsWith(e, "https://")) {
           return absl::StrCat("'", std::string(e), "' is not an http:// or https:// URL");
         }
         o.shard.etcd_endpoints.emplace_back(e);
       }
       return "";
     },
     [](const RappeldOptions& o) { return absl::StrJoin(o.shard.etcd_endpoints, ","); }, false,
     "etcd-endpoints"},
    {"shard", "etcd_prefix", Setting::Type::kString,
     "the etcd key prefix under which shards keep their leader, term and nodes", 0, 0,
     [](RappeldOptions& o, const Value& v) -> std::string {
       if (!absl::StartsWith(Str(v), "/")) return "the prefix starts with '/'";
       o.shard.etcd_prefix = Str(v);
       return "";
     },
     [](const RappeldOptions& o) { return o.shard.etcd_prefix; }, false, "etcd-prefix"},
    {"shard", "lease_ttl_s", Setting::Type::kInteger,
     "seconds the leader's etcd lease lives without renewal: a dead leader is replaced "
     "about this long after it stops",
     2, 300,
     [](RappeldOptions& o, const Value& v) -> std::string {
       o.shard.lease_ttl_s = Int(v);
       return "";
     },
     [](const RappeldOptions& o) { return std::to_string(o.shard.lease_ttl_s); }, false,
     "lease-ttl-s"},
};

const char* TypeName(Setting::Type t) {
  return t == Setting::Type::kInteger ? "an integer" : "a string";
}

std::string TomlTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

bool IsLoopback(const std::string& address) {
  asio::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

// Resolves `p` against the configuration file's directory.
std::string Resolve(const std::string& config_path, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_absolute()) return p;
  std::filesystem::path base = std::filesystem::path(config_path).parent_path();
  if (base.empty()) return p;
  return (base / path).string();
}

// Reads a secret file: the whole file, trailing whitespace (the final
// newline) removed. Refused when others may read it.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read secret_file ", path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & S_IROTH) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("secret_file ", path,
                                                   " is readable by every user; chmod o-r it"));
  }
  std::string secret;
  if (!ReadWhole(path, secret)) {
    Wipe(secret);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read secret_file ", path, ": ", std::strerror(errno)));
  }
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) {
    secret.pop_back();
  }
  return secret;
}

// Turns a document into settings. Each error names the file, the line and
// column and the key.
class ConfigReader {
 public:
  ConfigReader(const std::string& path, RappeldOptions& options)
      : path_(path), options_(options) {}

  absl::Status Read(const toml::table& root) {
    for (auto&& [key, node] : root) {
      std::string name(key.str());
      if (name == "token") {
        if (!node.is_array_of_tables()) {
          return Error(node.source(), "token",
                       absl::StrCat("expected [[token]] tables, got ", TomlTypeName(node)));
        }
        int index = 0;
        for (auto&& element : *node.as_array()) {
          if (absl::Status st = ReadToken(*element.as_table(), ++index); !st.ok()) return st;
        }
        continue;
      }
      bool known = std::any_of(std::begin(kSettings), std::end(kSettings),
                               [&](const Setting& s) { return name == s.section; });
      if (!known) {
        return Error(key.source(), absl::StrCat("[", name, "]"),
                     "unknown section (expected server, store, engine, dispatch, metrics, replication, shard or "
                     "[[token]])");
      }
      if (!node.is_table()) {
        return Error(node.source(), name,
                     absl::StrCat("expected a table [", name, "], got ", TomlTypeName(node)));
      }
      if (absl::Status st = ReadSection(name, *node.as_table()); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const toml::source_region& where, const std::string& what,
                     absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ":", where.begin.line, ":",
                                                   where.begin.column, ": ", what, ": ", message));
  }

  absl::Status ReadSection(const std::string& section, const toml::table& table) {
    for (auto&& [key, node] : table) {
      std::string name(key.str());
      std::string what = absl::StrCat("[", section, "] ", name);
      const Setting* setting = nullptr;
      for (const Setting& s : kSettings) {
        if (section == s.section && name == s.key) setting = &s;
      }
      if (setting == nullptr) {
        std::string keys;
        for (const Setting& s : kSettings) {
          if (section == s.section) absl::StrAppend(&keys, keys.empty() ? "" : ", ", s.key);
        }
        return Error(key.source(), what, absl::StrCat("unknown key (expected one of ", keys, ")"));
      }
      Value value;
      if (setting->type == Setting::Type::kInteger && node.is_integer()) {
        value = node.as_integer()->get();
      } else if (setting->type == Setting::Type::kString && node.is_string()) {
        std::string s = node.as_string()->get();
        bool is_path = name == "data_dir" || name == "tls_cert_file" || name == "tls_key_file" ||
                       name == "tls_client_ca_file";
        if (is_path && !s.empty()) s = Resolve(path_, s);
        value = std::move(s);
      } else {
        return Error(node.source(), what,
                     absl::StrCat("expected ", TypeName(setting->type), ", got ",
                                  TomlTypeName(node)));
      }
      if (absl::Status st = ApplySetting(*setting, value, options_); !st.ok()) {
        return Error(node.source(), what, st.message());
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadToken(const toml::table& table, int index) {
    std::string what = absl::StrCat("[[token]] #", index);
    const toml::node* secret = nullptr;
    const toml::node* secret_file = nullptr;
    const toml::node* role = nullptr;
    const toml::node* name = nullptr;
    const toml::node* tenants = nullptr;
    for (auto&& [key, node] : table) {
      std::string key_name(key.str());
      const toml::node** slot = key_name == "secret"        ? &secret
                                : key_name == "secret_file" ? &secret_file
                                : key_name == "role"        ? &role
                                : key_name == "name"        ? &name
                                : key_name == "tenants"     ? &tenants
                                                            : nullptr;
      if (slot == nullptr) {
        return Error(key.source(), absl::StrCat(what, " ", key_name),
                     "unknown key (expected secret or secret_file, role, and optionally name "
                     "and tenants)");
      }
      bool tenants_type = key_name == "tenants" && node.is_array();
      if (!node.is_string() && !tenants_type) {
        return Error(
            node.source(), absl::StrCat(what, " ", key_name),
            absl::StrCat(key_name == "tenants" ? "expected \"all\" or an array of tenant ids"
                                               : "expected a string",
                         ", got ", TomlTypeName(node)));
      }
      *slot = &node;
    }
    if (role == nullptr) {
      return Error(table.source(), what, "missing role (producer, worker or admin)");
    }
    if ((secret == nullptr) == (secret_file == nullptr)) {
      return Error(table.source(), what, "give exactly one of secret and secret_file");
    }
    auto r = ParseRole(role->as_string()->get());
    if (!r.ok()) return Error(role->source(), absl::StrCat(what, " role"), r.status().message());
    TokenScope scope;
    if (name != nullptr) {
      scope.name = name->as_string()->get();
      if (absl::Status st = CheckTokenName(scope.name, options_.handler); !st.ok()) {
        return Error(name->source(), absl::StrCat(what, " name"), st.message());
      }
    }
    if (tenants != nullptr) {
      auto list = ReadTenants(*tenants, absl::StrCat(what, " tenants"));
      if (!list.ok()) return list.status();
      scope.tenants = std::move(*list);
    }
    std::string value;
    WipeOnExit wipe{value};
    const toml::node* source = secret != nullptr ? secret : secret_file;
    if (secret != nullptr) {
      value = secret->as_string()->get();
    } else {
      auto read = ReadSecretFile(Resolve(path_, secret_file->as_string()->get()));
      if (!read.ok()) return Error(secret_file->source(), what, read.status().message());
      value = std::move(*read);
      Wipe(*read);  // a short string's bytes stay in the moved-from buffer
    }
    if (!value.empty()) {
      if (auto it = seen_.find(HashSecret(value)); it != seen_.end()) {
        return Error(source->source(), what,
                     absl::StrCat("duplicate token: the same secret as [[token]] #", it->second));
      }
      seen_.emplace(HashSecret(value), index);
    }
    if (absl::Status st =
            AddToken(value, role->as_string()->get(), std::move(scope), options_.handler);
        !st.ok()) {
      return Error(source->source(), what, st.message());
    }
    return absl::OkStatus();
  }

  // tenants = "all" or [1, 2, ...].
  absl::StatusOr<std::optional<std::vector<TenantId>>> ReadTenants(const toml::node& node,
                                                                   const std::string& what) {
    if (node.is_string()) {
      if (node.as_string()->get() == "all") return std::nullopt;
      return Error(node.source(), what, "expected \"all\" or an array of tenant ids");
    }
    std::vector<TenantId> list;
    for (auto&& element : *node.as_array()) {
      if (!element.is_integer()) {
        return Error(element.source(), what,
                     absl::StrCat("expected tenant ids (integers), got ", TomlTypeName(element)));
      }
      int64_t v = element.as_integer()->get();
      if (v < 0 || v > int64_t{UINT32_MAX}) {
        return Error(element.source(), what,
                     absl::StrCat(v, " is not a tenant id (0 to ", UINT32_MAX, ")"));
      }
      list.push_back(TenantId{static_cast<uint32_t>(v)});
    }
    if (absl::Status st = CheckTenants(list); !st.ok()) {
      return Error(node.source(), what, st.message());
    }
    return list;
  }

  const std::string& path_;
  RappeldOptions& options_;
  std::map<SecretHash, int> seen_;  // hashed secret -> [[token]] index
};

}  // namespace

std::string Setting::flag() const {
  if (flag_name != nullptr) return absl::StrCat("--", flag_name);
  return absl::StrCat("--", absl::StrReplaceAll(key, {{"_", "-"}}));
}

std::span<const Setting> Settings() { return kSettings; }

std::vector<std::string> RestartOnlyChanges(const RappeldOptions& running,
                                            const RappeldOptions& next) {
  std::vector<std::string> out;
  for (const Setting& s : kSettings) {
    if (s.reloadable) continue;
    std::string was = s.get(running), is = s.get(next);
    if (was != is) out.push_back(absl::StrCat("[", s.section, "] ", s.key, " ", was, " -> ", is));
  }
  return out;
}

RappeldOptions DefaultRappeldOptions() {
  RappeldOptions options;
  options.engine.store.path = "rappel-data";
  return options;
}

absl::Status ApplySetting(const Setting& setting, const Value& value, RappeldOptions& options) {
  if (setting.type == Setting::Type::kInteger) {
    if (!std::holds_alternative<int64_t>(value)) {
      return absl::InvalidArgumentError("expected an integer");
    }
    if (Int(value) < setting.min || Int(value) > setting.max) {
      return absl::InvalidArgumentError(absl::StrCat(Int(value), " is out of range (", setting.min,
                                                     " to ", setting.max, ")"));
    }
  } else if (!std::holds_alternative<std::string>(value)) {
    return absl::InvalidArgumentError("expected a string");
  }
  std::string error = setting.set(options, value);
  if (!error.empty()) return absl::InvalidArgumentError(error);
  return absl::OkStatus();
}

absl::StatusOr<protocol::wire::Role> ParseRole(std::string_view name) {
  using protocol::wire::Role;
  if (name == "producer") return Role::Producer;
  if (name == "worker") return Role::Worker;
  if (name == "admin") return Role::Admin;
  if (name == "replica") return Role::Replica;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role '", std::string(name), "' (expected producer, worker, admin or replica)"));
}

namespace {

// `text` cut at each `sep`, into at most `max_parts` parts (the last one
// keeps the rest).
std::vector<std::string_view> Split(std::string_view text, char sep, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = text.find(sep);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + 1);
  }
  parts.push_back(text);
  return parts;
}

}  // namespace

absl::Status CheckTenants(std::vector<TenantId>& tenants) {
  if (tenants.empty()) {
    return absl::InvalidArgumentError(
        "no tenant: list at least one, or give \"all\" (the default)");
  }
  auto by_value = [](TenantId a, TenantId b) { return a.value < b.value; };
  std::sort(tenants.begin(), tenants.end(), by_value);
  auto twice = std::adjacent_find(tenants.begin(), tenants.end());
  if (twice != tenants.end()) {
    return absl::InvalidArgumentError(absl::StrCat("tenant ", twice->value, " is listed twice"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::vector<TenantId>>> ParseTenants(std::string_view text) {
  if (text == "all") return std::nullopt;
  std::vector<TenantId> list;
  for (std::string_view part : Split(text, ',', SIZE_MAX)) {
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      return absl::InvalidArgumentError(absl::StrCat("tenants: '", std::string(part),
                                                     "' is not a tenant id (0 to ", UINT32_MAX,
                                                     "); expected all or ids separated by commas"));
    }
    list.push_back(TenantId{id});
  }
  if (absl::Status st = CheckTenants(list); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tenants: ", st.message()));
  }
  return list;
}

absl::Status CheckTokenName(std::string_view name, const HandlerOptions& handler) {
  // Names go into log lines: printable ASCII only, so a name cannot forge
  // or break a line.
  if (name.empty() || name.size() > 64 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
    return absl::InvalidArgumentError(
        "a token name is 1 to 64 printable ASCII characters (letters, digits, punctuation, "
        "spaces)");
  }
  for (const Credential& c : handler.tokens) {
    if (c.name == name) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate token name '", std::string(name), "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status AddToken(std::string& secret, std::string_view role, TokenScope scope,
                      HandlerOptions& handler) {
  WipeOnExit wipe{secret};
  auto r = ParseRole(role);
  if (!r.ok()) return r.status();
  if (secret.empty()) return absl::InvalidArgumentError("empty secret");
  if (scope.name.empty()) scope.name = absl::StrCat("token #", handler.tokens.size() + 1);
  if (absl::Status st = CheckTokenName(scope.name, handler); !st.ok()) return st;
  if (scope.tenants) {
    if (absl::Status st = CheckTenants(*scope.tenants); !st.ok()) return st;
  }
  Credential c;
  c.hash = HashSecret(secret);
  if (FindCredential(handler.tokens, secret) != nullptr) {
    return absl::InvalidArgumentError("duplicate token: this secret is already a token");
  }
  c.role = *r;
  c.name = std::move(scope.name);
  c.tenants = std::move(scope.tenants);
  handler.tokens.push_back(std::move(c));
  return absl::OkStatus();
}

absl::Status AddTokenFlag(std::string_view flag, HandlerOptions& handler) {
  size_t eq = flag.rfind('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "expected SECRET=ROLE[:TENANTS[:NAME]], ROLE producer, worker or admin");
  }
  std::string secret(flag.substr(0, eq));
  WipeOnExit wipe{secret};
  // ROLE[:TENANTS[:NAME]]; the name may hold ':' but not '='.
  std::vector<std::string_view> parts = Split(flag.substr(eq + 1), ':', 3);
  TokenScope scope;
  if (parts.size() > 1) {
    auto tenants = ParseTenants(parts[1]);
    if (!tenants.ok()) return tenants.status();
    scope.tenants = std::move(*tenants);
  }
  if (parts.size() > 2) {
    scope.name = std::string(parts[2]);
    if (scope.name.empty()) return CheckTokenName(scope.name, handler);
  }
  return AddToken(secret, parts[0], std::move(scope), handler);
}

absl::Status ApplyConfigText(std::string_view text, const std::string& path,
                             RappeldOptions& options) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.source().begin.line, ":",
                                                   e.source().begin.column,
                                                   ": syntax error: ", std::string(e.description())));
  }
  // Settings are applied to a copy: a file with an error changes nothing.
  RappeldOptions updated = options;
  absl::Status st = ConfigReader(path, updated).Read(root);
  // The parsed secrets are not left in freed memory (they are hashed now).
  if (toml::array* tokens = root["token"].as_array()) {
    for (toml::node& t : *tokens) {
      if (toml::table* table = t.as_table()) {
        if (toml::value<std::string>* secret = table->get_as<std::string>("secret")) {
          Wipe(secret->get());
        }
      }
    }
  }
  if (!st.ok()) return st;
  options = std::move(updated);
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(const std::string& path, RappeldOptions& options) {
  std::string text;
  WipeOnExit wipe{text};  // it may hold secrets
  if (!ReadWhole(path, text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read configuration file ", path, ": ", std::strerror(errno)));
  }
  return ApplyConfigText(text, path, options);
}

absl::Status CheckOptions(const RappeldOptions& options) {
  if (options.dispatch.backoff_base_ms > options.dispatch.backoff_max_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backoff_base_ms (", options.dispatch.backoff_base_ms, ") is larger than backoff_max_ms (",
        options.dispatch.backoff_max_ms, ")"));
  }
  if (options.handler.tokens.empty() && !IsLoopback(options.server.listen_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen on ", options.server.listen_address,
        " without tokens: anybody could read and write every reminder. Give tokens "
        "([[token]] in the configuration file or --token SECRET=ROLE[:TENANTS[:NAME]]), or "
        "listen on 127.0.0.1."));
  }
  if (options.metrics.enabled() && !IsLoopback(options.metrics.listen)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve metrics on ", options.metrics.listen,
        ": the metrics listener has neither TLS nor a token yet; listen on 127.0.0.1 ([metrics] "
        "listen or --metrics-listen)"));
  }
  if (options.replication.port >= 0 && !options.replication.standby() &&
      std::none_of(options.handler.tokens.begin(), options.handler.tokens.end(),
                   [](const Credential& c) { return c.role == protocol::wire::Role::Replica; })) {
    return absl::FailedPreconditionError(
        "the replication listener needs a token with role replica for its standbys ([[token]] "
        "role = \"replica\", or --token SECRET=replica)");
  }
  if (options.replication.sync_standbys > 0 && options.replication.port < 0 &&
      !options.replication.standby()) {
    return absl::FailedPreconditionError(
        "sync_standbys needs a replication listener for its standbys ([replication] port or "
        "--replication-port): without one every write would wait forever");
  }
  if (options.replication.port >= 0 && !IsLoopback(options.replication.listen) &&
      !options.plaintext) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen for replication on ", options.replication.listen,
        ": the replication port has no TLS yet and the whole store would cross the network in "
        "clear; listen on 127.0.0.1, or set plaintext = 1 if the network is protected otherwise"));
  }
  if (options.shard.enabled()) {
    const ReplicationOptions& r = options.replication;
    if (options.shard.etcd_endpoints.empty()) {
      return absl::InvalidArgumentError(
          "a shard needs etcd: [shard] etcd_endpoints or --etcd-endpoints");
    }
    if (!r.replica_of.empty()) {
      return absl::InvalidArgumentError(
          "replica_of and a shard exclude each other: in a shard, etcd says whom to follow");
    }
    if (r.port <= 0 || options.server.port == 0) {
      return absl::InvalidArgumentError(
          "a shard node publishes its addresses: set fixed ports for the client listener "
          "([server] port) and the replication listener ([replication] port, not -1 nor 0)");
    }
    if (r.token_file.empty()) {
      return absl::InvalidArgumentError(
          "a shard node follows the leader as a standby: it needs the replica token it sends, "
          "[replication] token_file or --replication-token-file");
    }
    for (const std::string* address : {&options.server.listen_address, &r.listen}) {
      asio::error_code ec;
      if (asio::ip::make_address(*address, ec).is_unspecified()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a shard node publishes the addresses it listens on, and ", *address,
            " names no host: listen on an address the other nodes and the clients reach"));
      }
    }
  }
  const TlsOptions& tls = options.server.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both tls_cert_file and tls_key_file ([server], or --tls-cert-file and "
        "--tls-key-file)");
  }
  if (!tls.client_ca_file.empty() && !tls.enabled()) {
    return absl::InvalidArgumentError(
        "tls_client_ca_file is set without tls_cert_file and tls_key_file: client certificates "
        "are checked only on a TLS port");
  }
  if (tls.enabled() && options.plaintext) {
    return absl::InvalidArgumentError(
        "plaintext = 1 and a TLS certificate are both set: choose one");
  }
  if (!tls.enabled() && !options.plaintext && !IsLoopback(options.server.listen_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen on ", options.server.listen_address,
        " without TLS: tokens and patient data would cross the network in clear. Give "
        "tls_cert_file and tls_key_file ([server] or --tls-cert-file/--tls-key-file), or set "
        "plaintext = 1 (--plaintext 1) if the network is protected otherwise (a VPN, a "
        "TLS-terminating proxy), or listen on 127.0.0.1."));
  }
  return absl::OkStatus();
}

CommandLine::CommandLine(CLI::App& app) {
  const RappeldOptions defaults = DefaultRappeldOptions();
  app.add_option("--config", config_path_,
                 "TOML configuration file with any of the settings below, in sections [server], "
                 "[store], [engine], [dispatch], [metrics], [replication] and [[token]] tables (see "
                 "rappeld.example.toml); the flags given override it")
      ->type_name("FILE");
  app.add_option_function<std::string>(
         "--check-config",
         [this](const std::string& path) {
           config_path_ = path;
           checking_ = true;
         },
         "check the configuration file FILE (with the flags given) and exit: 0 when it is "
         "valid, 1 when it is not, saying why")
      ->type_name("FILE")
      ->excludes("--config");
  app.add_option("--token", tokens_,
                 "SECRET=ROLE[:TENANTS[:NAME]], repeatable; ROLE is producer, worker, admin or replica "
                 "(a standby, on the replication port only); "
                 "TENANTS the tenant ids it may act for, '1,2,7', or 'all' (the default); NAME "
                 "names it in the log (default 'token #N'). Replaces the tokens of the "
                 "configuration file. Visible to local users in the process list: prefer "
                 "secret_file in the file. Without any token, every local client is admin for "
                 "every tenant")
      ->type_name("SECRET=ROLE[:TENANTS[:NAME]]");
  flags_.reserve(std::size(kSettings));
  for (const Setting& s : kSettings) {
    flags_.push_back(Flag{&s, nullptr, 0, {}});
    Flag& f = flags_.back();
    std::string help = absl::StrCat(s.help, " ([", s.section, "] ", s.key, ")");
    if (s.type == Setting::Type::kInteger) {
      f.option = app.add_option(s.flag(), f.integer, help);
    } else {
      f.option = app.add_option(s.flag(), f.string, help);
    }
    f.option->default_str(s.get(defaults));
  }
}

absl::StatusOr<RappeldOptions> CommandLine::Resolve() const {
  RappeldOptions options = DefaultRappeldOptions();
  if (!config_path_.empty()) {
    if (absl::Status st = ApplyConfigFile(config_path_, options); !st.ok()) return st;
  }
  for (const Flag& f : flags_) {
    if (f.option->count() == 0) continue;
    Value v = f.setting->type == Setting::Type::kInteger ? Value(f.integer) : Value(f.string);
    if (absl::Status st = ApplySetting(*f.setting, v, options); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(f.setting->flag(), ": ", st.message()));
    }
  }
  if (!tokens_.empty()) {
    options.handler.tokens.clear();
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (absl::Status st = AddTokenFlag(tokens_[i], options.handler); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--token #", i + 1, ": ", st.message()));
      }
    }
  }
  if (absl::Status st = CheckOptions(options); !st.ok()) return st;
  return options;
}

}  // namespace rappel::server
