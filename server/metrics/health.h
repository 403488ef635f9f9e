// /healthz and /readyz on the exporter's HTTP listener. prometheus-cpp's
// Exposer serves only metric exposition, so these answer from civetweb's
// begin_request callback (the Exposer takes CivetCallbacks), with
// civetweb's own response functions.
//
//   /healthz  200 "ok": the process serves HTTP.
//   /readyz   200 "ready": the store is recovered (the listener starts only
//             after), the io thread answered within the snapshot timeout
//             and the store accepts writes; 503 with the reason otherwise.
//
// The callback is a plain function: it finds the snapshots of the listener
// that received the request by its port (RegisterHealth). Any other path
// goes on to the Exposer.
#pragma once

#include <memory>

#include "server/metrics/io_snapshots.h"

struct CivetCallbacks;

namespace rappel::server::metrics {

// Callbacks to give the Exposer; static, valid for the whole process.
const CivetCallbacks* HealthCallbacks();

// Answers /readyz on `port` from `snapshots` until UnregisterHealth(port).
void RegisterHealth(int port, std::shared_ptr<IoSnapshots> snapshots);
void UnregisterHealth(int port);

}  // namespace rappel::server::metrics
