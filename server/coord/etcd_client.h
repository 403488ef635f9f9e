// EtcdClient: a small client of etcd's v3 API through its JSON gateway
// (HTTP/1.1 POST /v3/..., libcurl), enough for leases, a leader campaign and
// watching a prefix. Written against Debian's etcd 3.4.23.
//
// What the gateway sends (checked against the real server, tests/coord):
//   - field names are the proto names (`create_revision`, `ID`, `TTL`);
//   - int64 fields are JSON strings ("7"), keys and values base64;
//   - fields holding their zero value are omitted: `succeeded` absent means
//     false, `TTL` absent means 0, an empty value has no `value`, a PUT event
//     has no `type`. Every reader here treats "absent" as zero.
//   - an error is a non-200 answer with {"error","message","code"}, `code`
//     being the gRPC code (5 = NOT_FOUND for an unknown lease).
//   - streams (keepalive, watch) answer 200 with one JSON object per line,
//     {"result":{...}} (or {"error":{...}} for a stream error).
//
// Contract:
//   - Every call blocks its caller until etcd answers, the call's deadline
//     (`request_timeout_ms`) passes, or every endpoint refused the connection.
//     Errors: `Unavailable` when no endpoint could be reached or the deadline
//     passed (a timed-out write may or may not have been applied: the caller
//     reads back before assuming either), otherwise the gateway's own code and
//     text ("etcd: requested lease not found" as NotFound), `Internal` for an
//     answer that cannot be parsed.
//   - Endpoints are tried in turn, starting with the last one that answered;
//     the next one is tried only when the connection could not be made (the
//     request surely was not sent), never after a send.
//   - Thread safety: each call uses its own curl handle and the object holds
//     only immutable options plus an atomic endpoint index, so any thread may
//     call any method concurrently. Watch blocks its thread for the life of
//     the watch. One TCP connection per call (no connection reuse: a handful of
//     calls a second is the expected rate).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rappel::server::coord {

struct EtcdOptions {
  // "http://host:port" each; tried in this order first.
  std::vector<std::string> endpoints;
  // Deadline of one call, all endpoint attempts included.
  int64_t request_timeout_ms = 1000;
  // Deadline of one TCP connect (bounded by what is left of the call's).
  int64_t connect_timeout_ms = 300;
};

// One key as etcd stores it. Revisions are etcd's cluster-wide counters.
struct EtcdKv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // 0: not attached to a lease
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl_s = 0;  // as granted: etcd raises a TTL below its floor (2 s by default)
};

struct EtcdRangeResult {
  int64_t revision = 0;  // the store's revision when read (watch from revision + 1)
  std::vector<EtcdKv> kvs;
};

// One condition of a transaction: `target` of `key` compared with `number`
// (revisions, version) or `value`. A missing key has create/mod revision 0.
struct EtcdCompare {
  enum class Target { kCreateRevision, kModRevision, kVersion, kValue };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kValue;
  Result result = Result::kEqual;
  int64_t number = 0;
  std::string value;

  static EtcdCompare CreateRevisionIs(std::string key, int64_t revision) {
    return {std::move(key), Target::kCreateRevision, Result::kEqual, revision, {}};
  }
  static EtcdCompare ValueIs(std::string key, std::string value) {
    return {std::move(key), Target::kValue, Result::kEqual, 0, std::move(value)};
  }
};

// One operation of a transaction branch.
struct EtcdOp {
  enum class Kind { kPut, kRange, kDelete };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value;    // kPut
  int64_t lease = 0;    // kPut
  bool prefix = false;  // kRange, kDelete: every key starting with `key`

  static EtcdOp Put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease, false};
  }
  static EtcdOp Range(std::string key, bool prefix = false) {
    return {Kind::kRange, std::move(key), {}, 0, prefix};
  }
  static EtcdOp Delete(std::string key, bool prefix = false) {
    return {Kind::kDelete, std::move(key), {}, 0, prefix};
  }
};

struct EtcdTxnResult {
  bool succeeded = false;  // every compare held: the success branch ran
  int64_t revision = 0;
  std::vector<EtcdKv> kvs;  // the keys read by the branch's kRange ops, in order
};

struct EtcdWatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKv kv;  // for kDelete only key and mod_revision are set
};

class EtcdClient {
 public:
  explicit EtcdClient(EtcdOptions options);
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // A lease of `ttl_s` seconds, counted from etcd's receipt of the request.
  absl::StatusOr<EtcdLease> LeaseGrant(int64_t ttl_s);
  // Renews `id` to its full TTL; answers the TTL left, 0 when the lease no
  // longer exists (expired or revoked: not an error, as etcd says it).
  absl::StatusOr<int64_t> LeaseKeepAlive(int64_t id);
  // Revokes `id` and deletes its keys. NotFound when it no longer exists.
  absl::Status LeaseRevoke(int64_t id);

  // Answers the revision of the write. NotFound when `lease` does not exist.
  absl::StatusOr<int64_t> Put(std::string_view key, std::string_view value, int64_t lease = 0);
  // `key` alone, or every key starting with it when `prefix`.
  absl::StatusOr<EtcdRangeResult> Range(std::string_view key, bool prefix = false);
  // Answers the number of keys deleted.
  absl::StatusOr<int64_t> DeleteRange(std::string_view key, bool prefix = false);
  // If every compare holds, runs `success`, else `failure`; atomically.
  absl::StatusOr<EtcdTxnResult> Txn(const std::vector<EtcdCompare>& compares,
                                    const std::vector<EtcdOp>& success,
                                    const std::vector<EtcdOp>& failure);

  // Streams the changes of every key starting with `prefix` from
  // `start_revision` (0: from now) to `on_event`, on the calling thread, in
  // revision order, until `stop` is requested (answers OK, within ~100 ms), the
  // connection drops or etcd stops answering its request (Unavailable), or
  // etcd cancels the watch (FailedPrecondition, e.g. `start_revision` was
  // compacted: range again and watch from the range's revision + 1).
  // Only the connect is bounded by a deadline: a silent etcd (paused) leaves
  // the watch open; the caller stops it when its own lease keepalives fail.
  absl::Status Watch(std::string_view prefix, int64_t start_revision,
                     const std::function<void(const EtcdWatchEvent&)>& on_event,
                     std::stop_token stop);

 private:
  // One POST of `body` to `path`; the answer's body, or the call's error.
  absl::StatusOr<std::string> Post(std::string_view path, const std::string& body);

  const EtcdOptions options_;
  std::atomic<size_t> preferred_{0};  // index of the endpoint that last answered
};

// Base64 as etcd's gateway writes it (standard alphabet, padded). Exposed
// for tests.
std::string EtcdBase64Encode(std::string_view bytes);
absl::StatusOr<std::string> EtcdBase64Decode(std::string_view text);
// The smallest key greater than every key starting with `prefix` (etcd's
// range_end); "\0" (all keys) for an empty prefix or one of only 0xff.
std::string EtcdPrefixEnd(std::string_view prefix);

}  // namespace rappel::server::coord
