#include "server/coord/etcd_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace rappel::server::coord {
namespace {

using json = nlohmann::json;

// Debian's Abseil is built with its own string_view: convert for StrCat.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
using Clock = std::chrono::steady_clock;

// An answer larger than this is refused rather than buffered without bound.
constexpr size_t kMaxAnswerBytes = 64u << 20;
// How often a watch looks at its stop token when nothing arrives (a stop
// request also wakes it at once).
constexpr int kWatchPollMs = 100;

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Multi = std::unique_ptr<CURLM, MultiDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

size_t AppendToString(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxAnswerBytes) return 0;  // curl fails with WRITE_ERROR
  out->append(data, size * n);
  return size * n;
}

Slist JsonHeaders() {
  curl_slist* l = curl_slist_append(nullptr, "Content-Type: application/json");
  // No "Expect: 100-continue" round trip for larger bodies.
  l = curl_slist_append(l, "Expect:");
  return Slist(l);
}

// The settings shared by every request: a POST of `body` (which must outlive
// the transfer) with no proxy (etcd is reached directly, whatever the
// environment says) and no signals (calls come from many threads).
Easy NewPost(const std::string& url, const std::string& body, curl_slist* headers,
             int64_t connect_timeout_ms) {
  Easy e(curl_easy_init());
  if (!e) return e;
  CURL* c = e.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, connect_timeout_ms)));
  return e;
}

// True when the request surely never reached etcd: trying another endpoint
// cannot apply it twice.
bool NeverConnected(CURL* c, CURLcode rc) {
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
      rc == CURLE_COULDNT_RESOLVE_PROXY) {
    return true;
  }
  curl_off_t connect_us = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
  return rc == CURLE_OPERATION_TIMEDOUT && connect_us == 0;
}

absl::StatusCode CodeOf(int64_t grpc_code) {
  // gRPC's codes and absl's share their numbers (OK = 0 ... UNAUTHENTICATED = 16).
  if (grpc_code < 1 || grpc_code > 16) return absl::StatusCode::kUnknown;
  return static_cast<absl::StatusCode>(grpc_code);
}

// The gateway's error object: {"error","message","code"} for a unary call,
// {"error":{"grpc_code","http_code","message"}} inside a stream.
absl::Status GatewayError(std::string_view path, const json& answer, long http_status) {
  const json* e = &answer;
  if (answer.contains("error") && answer["error"].is_object()) e = &answer["error"];
  std::string message;
  if (e->contains("message") && (*e)["message"].is_string()) {
    message = (*e)["message"].get<std::string>();
  } else if (e->contains("error") && (*e)["error"].is_string()) {
    message = (*e)["error"].get<std::string>();
  }
  int64_t code = 2;  // UNKNOWN
  for (const char* name : {"code", "grpc_code"}) {
    if (e->contains(name) && (*e)[name].is_number_integer()) code = (*e)[name].get<int64_t>();
  }
  if (message.empty()) message = absl::StrCat("HTTP ", http_status);
  return absl::Status(CodeOf(code), absl::StrCat("etcd ", Sv(path), ": ", message));
}

// Reads fields that may be absent (their zero value), strings holding int64,
// or base64 bytes; keeps the first malformed one as its error.
class FieldReader {
 public:
  explicit FieldReader(std::string_view what) : what_(what) {}

  int64_t Int(const json& obj, const char* name) {
    if (!obj.is_object() || !obj.contains(name)) return 0;
    const json& v = obj[name];
    int64_t out = 0;
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string() && absl::SimpleAtoi(v.get_ref<const std::string&>(), &out)) return out;
    Fail(name);
    return 0;
  }
  bool Bool(const json& obj, const char* name) {
    if (!obj.is_object() || !obj.contains(name)) return false;
    if (obj[name].is_boolean()) return obj[name].get<bool>();
    Fail(name);
    return false;
  }
  std::string Bytes(const json& obj, const char* name) {
    if (!obj.is_object() || !obj.contains(name)) return {};
    const json& v = obj[name];
    if (v.is_string()) {
      auto decoded = EtcdBase64Decode(v.get_ref<const std::string&>());
      if (decoded.ok()) return *std::move(decoded);
    }
    Fail(name);
    return {};
  }
  EtcdKv Kv(const json& obj) {
    EtcdKv kv;
    kv.key = Bytes(obj, "key");
    kv.value = Bytes(obj, "value");
    kv.create_revision = Int(obj, "create_revision");
    kv.mod_revision = Int(obj, "mod_revision");
    kv.version = Int(obj, "version");
    kv.lease = Int(obj, "lease");
    return kv;
  }
  void Kvs(const json& obj, std::vector<EtcdKv>& out) {
    if (!obj.is_object() || !obj.contains("kvs")) return;
    if (!obj["kvs"].is_array()) return Fail("kvs");
    for (const json& kv : obj["kvs"]) out.push_back(Kv(kv));
  }
  int64_t Revision(const json& obj) {
    return obj.is_object() && obj.contains("header") ? Int(obj["header"], "revision") : 0;
  }
  const absl::Status& status() const { return status_; }

 private:
  void Fail(const char* name) {
    if (status_.ok()) {
      status_ =
          absl::InternalError(absl::StrCat("etcd ", Sv(what_), ": malformed field '", name, "'"));
    }
  }
  std::string what_;
  absl::Status status_;
};

absl::StatusOr<json> ParseObject(std::string_view path, std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InternalError(absl::StrCat(
        "etcd ", Sv(path), ": answer is not a JSON object: ", Sv(text.substr(0, 200))));
  }
  return j;
}

// The first {"result":...} of a streamed answer (keepalive), or its error.
absl::StatusOr<json> FirstStreamResult(std::string_view path, std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    auto j = ParseObject(path, line);
    if (!j.ok()) return j.status();
    if (j->contains("error")) return GatewayError(path, *j, 200);
    if (j->contains("result") && (*j)["result"].is_object()) return (*j)["result"];
  }
  return absl::UnavailableError(
      absl::StrCat("etcd ", Sv(path), ": the stream ended without a result"));
}

json KeyJson(std::string_view key, bool prefix) {
  json j;
  j["key"] = EtcdBase64Encode(key);
  if (prefix) j["range_end"] = EtcdBase64Encode(EtcdPrefixEnd(key));
  return j;
}

std::string KeyFields(std::string_view key, bool prefix) { return KeyJson(key, prefix).dump(); }

json OpJson(const EtcdOp& op) {
  json j;
  switch (op.kind) {
    case EtcdOp::Kind::kPut: {
      json put = KeyJson(op.key, false);
      put["value"] = EtcdBase64Encode(op.value);
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      j["request_put"] = std::move(put);
      break;
    }
    case EtcdOp::Kind::kRange:
      j["request_range"] = KeyJson(op.key, op.prefix);
      break;
    case EtcdOp::Kind::kDelete:
      j["request_delete_range"] = KeyJson(op.key, op.prefix);
      break;
  }
  return j;
}

json CompareJson(const EtcdCompare& c) {
  json j;
  j["key"] = EtcdBase64Encode(c.key);
  switch (c.result) {
    case EtcdCompare::Result::kEqual:
      j["result"] = "EQUAL";
      break;
    case EtcdCompare::Result::kNotEqual:
      j["result"] = "NOT_EQUAL";
      break;
    case EtcdCompare::Result::kGreater:
      j["result"] = "GREATER";
      break;
    case EtcdCompare::Result::kLess:
      j["result"] = "LESS";
      break;
  }
  switch (c.target) {
    case EtcdCompare::Target::kCreateRevision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kModRevision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kVersion:
      j["target"] = "VERSION";
      j["version"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kValue:
      j["target"] = "VALUE";
      j["value"] = EtcdBase64Encode(c.value);
      break;
  }
  return j;
}

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string EtcdBase64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::StatusOr<std::string> EtcdBase64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64: length is not a multiple of 4");
  }
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return absl::InvalidArgumentError("base64: invalid character");
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string EtcdPrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) { GlobalInitOnce(); }

absl::StatusOr<std::string> EtcdClient::Post(std::string_view path, const std::string& body) {
  const size_t n = options_.endpoints.size();
  if (n == 0) return absl::InvalidArgumentError("etcd: no endpoint configured");
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
  Slist headers = JsonHeaders();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  std::string errors;
  for (size_t i = 0; i < n; ++i) {
    const size_t idx = (first + i) % n;
    const int64_t left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left_ms <= 0) break;
    const std::string url = absl::StrCat(options_.endpoints[idx], Sv(path));
    Easy easy = NewPost(url, body, headers.get(), std::min(options_.connect_timeout_ms, left_ms));
    if (!easy) return absl::InternalError("etcd: curl_easy_init failed");
    std::string answer;
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &AppendToString);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(left_ms));
    CURLcode rc = curl_easy_perform(easy.get());
    if (rc == CURLE_OK) {
      preferred_.store(idx, std::memory_order_relaxed);
      long http_status = 0;
      curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &http_status);
      if (http_status == 200) return answer;
      json j = json::parse(answer, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) return GatewayError(path, j, http_status);
      return absl::Status(
          http_status == 404 ? absl::StatusCode::kUnimplemented : absl::StatusCode::kUnknown,
          absl::StrCat("etcd ", url, ": HTTP ", http_status, ": ", answer.substr(0, 200)));
    }
    if (rc == CURLE_WRITE_ERROR) {
      return absl::ResourceExhaustedError(
          absl::StrCat("etcd ", url, ": answer larger than ", kMaxAnswerBytes, " bytes"));
    }
    if (!NeverConnected(easy.get(), rc)) {
      return absl::UnavailableError(absl::StrCat("etcd ", url, ": ", curl_easy_strerror(rc),
                                                 " (the request may have been applied)"));
    }
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", options_.endpoints[idx], ": ",
                    curl_easy_strerror(rc));
  }
  return absl::UnavailableError(absl::StrCat("etcd ", Sv(path), ": no endpoint answered within ",
                                             options_.request_timeout_ms, " ms (", errors, ")"));
}

absl::StatusOr<EtcdLease> EtcdClient::LeaseGrant(int64_t ttl_s) {
  constexpr std::string_view kPath = "/v3/lease/grant";
  json req;
  req["TTL"] = std::to_string(ttl_s);
  auto answer = Post(kPath, req.dump());
  if (!answer.ok()) return answer.status();
  auto j = ParseObject(kPath, *answer);
  if (!j.ok()) return j.status();
  // LeaseGrantResponse carries its own error string besides the HTTP error.
  if (j->contains("error") && (*j)["error"].is_string() &&
      !(*j)["error"].get_ref<const std::string&>().empty()) {
    return GatewayError(kPath, *j, 200);
  }
  FieldReader r(kPath);
  EtcdLease lease{r.Int(*j, "ID"), r.Int(*j, "TTL")};
  if (!r.status().ok()) return r.status();
  if (lease.id == 0) return absl::InternalError("etcd /v3/lease/grant: no lease ID in the answer");
  return lease;
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAlive(int64_t id) {
  constexpr std::string_view kPath = "/v3/lease/keepalive";
  json req;
  req["ID"] = std::to_string(id);
  auto answer = Post(kPath, req.dump());
  if (!answer.ok()) return answer.status();
  auto result = FirstStreamResult(kPath, *answer);
  if (!result.ok()) return result.status();
  FieldReader r(kPath);
  int64_t ttl = r.Int(*result, "TTL");  // absent when the lease is gone
  if (!r.status().ok()) return r.status();
  return std::max<int64_t>(ttl, 0);
}

absl::Status EtcdClient::LeaseRevoke(int64_t id) {
  json req;
  req["ID"] = std::to_string(id);
  return Post("/v3/lease/revoke", req.dump()).status();
}

absl::StatusOr<int64_t> EtcdClient::Put(std::string_view key, std::string_view value,
                                        int64_t lease) {
  constexpr std::string_view kPath = "/v3/kv/put";
  json req = KeyJson(key, false);
  req["value"] = EtcdBase64Encode(value);
  if (lease != 0) req["lease"] = std::to_string(lease);
  auto answer = Post(kPath, req.dump());
  if (!answer.ok()) return answer.status();
  auto j = ParseObject(kPath, *answer);
  if (!j.ok()) return j.status();
  FieldReader r(kPath);
  int64_t revision = r.Revision(*j);
  if (!r.status().ok()) return r.status();
  return revision;
}

absl::StatusOr<EtcdRangeResult> EtcdClient::Range(std::string_view key, bool prefix) {
  constexpr std::string_view kPath = "/v3/kv/range";
  auto answer = Post(kPath, KeyFields(key, prefix));
  if (!answer.ok()) return answer.status();
  auto j = ParseObject(kPath, *answer);
  if (!j.ok()) return j.status();
  FieldReader r(kPath);
  EtcdRangeResult out;
  out.revision = r.Revision(*j);
  r.Kvs(*j, out.kvs);
  if (!r.status().ok()) return r.status();
  return out;
}

absl::StatusOr<int64_t> EtcdClient::DeleteRange(std::string_view key, bool prefix) {
  constexpr std::string_view kPath = "/v3/kv/deleterange";
  auto answer = Post(kPath, KeyFields(key, prefix));
  if (!answer.ok()) return answer.status();
  auto j = ParseObject(kPath, *answer);
  if (!j.ok()) return j.status();
  FieldReader r(kPath);
  int64_t deleted = r.Int(*j, "deleted");
  if (!r.status().ok()) return r.status();
  return deleted;
}

absl::StatusOr<EtcdTxnResult> EtcdClient::Txn(const std::vector<EtcdCompare>& compares,
                                              const std::vector<EtcdOp>& success,
                                              const std::vector<EtcdOp>& failure) {
  constexpr std::string_view kPath = "/v3/kv/txn";
  json req;
  req["compare"] = json::array();
  for (const auto& c : compares) req["compare"].push_back(CompareJson(c));
  req["success"] = json::array();
  for (const auto& op : success) req["success"].push_back(OpJson(op));
  req["failure"] = json::array();
  for (const auto& op : failure) req["failure"].push_back(OpJson(op));
  auto answer = Post(kPath, req.dump());
  if (!answer.ok()) return answer.status();
  auto j = ParseObject(kPath, *answer);
  if (!j.ok()) return j.status();
  FieldReader r(kPath);
  EtcdTxnResult out;
  out.succeeded = r.Bool(*j, "succeeded");
  out.revision = r.Revision(*j);
  if (j->contains("responses") && (*j)["responses"].is_array()) {
    for (const json& resp : (*j)["responses"]) {
      if (resp.is_object() && resp.contains("response_range"))
        r.Kvs(resp["response_range"], out.kvs);
    }
  }
  if (!r.status().ok()) return r.status();
  return out;
}

namespace {

// The watch stream's receiving side: splits the chunked answer into lines,
// one JSON object each, and hands their events on.
struct WatchStream {
  const std::function<void(const EtcdWatchEvent&)>* on_event;
  std::string pending;
  bool created = false;
  absl::Status status;  // set when the stream must end (error, cancel)

  bool Line(std::string_view line) {
    constexpr std::string_view kPath = "/v3/watch";
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) return true;
    auto j = ParseObject(kPath, line);
    if (!j.ok()) {
      status = j.status();
      return false;
    }
    if (j->contains("error")) {
      status = GatewayError(kPath, *j, 200);
      return false;
    }
    if (!j->contains("result")) return true;
    const json& res = (*j)["result"];
    FieldReader r(kPath);
    if (r.Bool(res, "created")) created = true;
    if (r.Bool(res, "canceled")) {
      std::string reason = res.contains("cancel_reason") && res["cancel_reason"].is_string()
                               ? res["cancel_reason"].get<std::string>()
                               : "";
      int64_t compacted = r.Int(res, "compact_revision");
      status = absl::FailedPreconditionError(absl::StrCat(
          "etcd /v3/watch: canceled by etcd", reason.empty() ? "" : ": ", reason,
          compacted != 0 ? absl::StrCat(" (compacted up to revision ", compacted, ")") : ""));
      return false;
    }
    if (res.contains("events") && res["events"].is_array()) {
      for (const json& ev : res["events"]) {
        EtcdWatchEvent event;
        std::string type =
            ev.contains("type") && ev["type"].is_string() ? ev["type"].get<std::string>() : "PUT";
        event.type = type == "DELETE" ? EtcdWatchEvent::Type::kDelete : EtcdWatchEvent::Type::kPut;
        if (ev.contains("kv")) event.kv = r.Kv(ev["kv"]);
        if (!r.status().ok()) break;
        (*on_event)(event);
      }
    }
    if (!r.status().ok()) {
      status = r.status();
      return false;
    }
    return true;
  }

  static size_t Write(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<WatchStream*>(user);
    self->pending.append(data, size * n);
    size_t at = 0;
    for (size_t end; (end = self->pending.find('\n', at)) != std::string::npos; at = end + 1) {
      if (!self->Line(std::string_view(self->pending).substr(at, end - at))) return 0;
    }
    self->pending.erase(0, at);
    if (self->pending.size() > kMaxAnswerBytes) {
      self->status = absl::ResourceExhaustedError("etcd /v3/watch: one event line too large");
      return 0;
    }
    return size * n;
  }
};

}  // namespace

absl::Status EtcdClient::Watch(std::string_view prefix, int64_t start_revision,
                               const std::function<void(const EtcdWatchEvent&)>& on_event,
                               std::stop_token stop) {
  constexpr std::string_view kPath = "/v3/watch";
  const size_t n = options_.endpoints.size();
  if (n == 0) return absl::InvalidArgumentError("etcd: no endpoint configured");
  json create = KeyJson(prefix, true);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  json req;
  req["create_request"] = std::move(create);
  const std::string body = req.dump();
  Slist headers = JsonHeaders();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  std::string errors;
  for (size_t i = 0; i < n; ++i) {
    const size_t idx = (first + i) % n;
    const std::string url = absl::StrCat(options_.endpoints[idx], Sv(kPath));
    Easy easy = NewPost(url, body, headers.get(), options_.connect_timeout_ms);
    Multi multi(curl_multi_init());
    if (!easy || !multi) return absl::InternalError("etcd: curl init failed");
    WatchStream stream{&on_event, {}, false, absl::OkStatus()};
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &WatchStream::Write);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &stream);
    curl_multi_add_handle(multi.get(), easy.get());
    // Wakes the poll below at once when stop is requested.
    std::stop_callback wake(stop, [m = multi.get()] { curl_multi_wakeup(m); });
    // etcd confirms a watch with "created" at once; a silent one is not there.
    const auto created_by = Clock::now() + std::chrono::milliseconds(options_.request_timeout_ms);
    int running = 1;
    bool stopped = false;
    bool late = false;
    while (running != 0) {
      if (stop.stop_requested()) {
        stopped = true;
        break;
      }
      if (!stream.created && Clock::now() > created_by) {
        late = true;
        break;
      }
      if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
      if (running != 0) curl_multi_poll(multi.get(), nullptr, 0, kWatchPollMs, nullptr);
    }
    CURLcode rc = CURLE_OK;
    bool done = false;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        rc = msg->data.result;
        done = true;
      }
    }
    long http_status = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &http_status);
    const bool never_connected = done && NeverConnected(easy.get(), rc);
    curl_multi_remove_handle(multi.get(), easy.get());
    if (stopped) return absl::OkStatus();
    if (!stream.status.ok()) return stream.status;
    if (late) {
      return absl::UnavailableError(absl::StrCat("etcd ", url, ": watch not confirmed within ",
                                                 options_.request_timeout_ms, " ms"));
    }
    if (never_connected) {
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", options_.endpoints[idx], ": ",
                      curl_easy_strerror(rc));
      continue;
    }
    preferred_.store(idx, std::memory_order_relaxed);
    if (http_status != 200 && http_status != 0) {
      json j = json::parse(stream.pending, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) return GatewayError(kPath, j, http_status);
      return absl::UnknownError(absl::StrCat("etcd ", url, ": HTTP ", http_status));
    }
    return absl::UnavailableError(
        absl::StrCat("etcd ", url, ": watch stream ended (", curl_easy_strerror(rc), ")"));
  }
  return absl::UnavailableError(
      absl::StrCat("etcd /v3/watch: no endpoint could be reached (", errors, ")"));
}

}  // namespace rappel::server::coord
