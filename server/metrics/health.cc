#include "server/metrics/health.h"

#include <CivetServer.h>
#include <civetweb.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace rappel::server::metrics {
namespace {

std::mutex registry_mu;
std::map<int, std::shared_ptr<IoSnapshots>>& Registry() {
  static auto* registry = new std::map<int, std::shared_ptr<IoSnapshots>>();
  return *registry;
}

int Send(mg_connection* conn, int status, const std::string& body) {
  if (status == 200) {
    mg_send_http_ok(conn, "text/plain; charset=utf-8", static_cast<long long>(body.size()));
    mg_write(conn, body.data(), body.size());
  } else {
    mg_send_http_error(conn, status, "%s", body.c_str());
  }
  return status;
}

int BeginRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info == nullptr || info->local_uri == nullptr) return 0;
  const char* uri = info->local_uri;
  if (std::strcmp(uri, "/healthz") == 0) return Send(conn, 200, "ok\n");
  if (std::strcmp(uri, "/readyz") != 0) return 0;
  std::shared_ptr<IoSnapshots> snapshots;
  {
    std::lock_guard lock(registry_mu);
    auto it = Registry().find(info->server_port);
    if (it != Registry().end()) snapshots = it->second;
  }
  if (!snapshots) return Send(conn, 503, "not ready: starting or stopping\n");
  IoSnapshots::Result r = snapshots->Take();
  if (!r.fresh) return Send(conn, 503, "not ready: the server's io thread did not answer\n");
  if (!r.snapshot.engine.store.fatal_error.empty()) {
    return Send(conn, 503, "not ready: the store refuses writes: " +
                               r.snapshot.engine.store.fatal_error + "\n");
  }
  return Send(conn, 200, "ready\n");
}

}  // namespace

const CivetCallbacks* HealthCallbacks() {
  static const CivetCallbacks callbacks = [] {
    CivetCallbacks c;  // its constructor clears every callback
    c.begin_request = BeginRequest;
    return c;
  }();
  return &callbacks;
}

void RegisterHealth(int port, std::shared_ptr<IoSnapshots> snapshots) {
  std::lock_guard lock(registry_mu);
  Registry()[port] = std::move(snapshots);
}

void UnregisterHealth(int port) {
  std::lock_guard lock(registry_mu);
  Registry().erase(port);
}

}  // namespace rappel::server::metrics
