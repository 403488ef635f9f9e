// What rappeld tells the service manager that started it (systemd, with
// Type=notify), through sd_notify(3) of libsystemd: READY=1 once the store
// is recovered and the listener accepts, RELOADING=1 then READY=1 around a
// SIGHUP reload, STOPPING=1 when a stop signal arrives, each with a
// one-line STATUS= that `systemctl status` shows. Without NOTIFY_SOCKET in
// the environment (not started by systemd) every call does nothing.
//
// Only rappeld's main calls these: the server's libraries do not depend on
// libsystemd.
#pragma once

#include <string_view>

namespace rappel::server {

// STATUS= alone: what rappeld is doing (recovering, failed to start).
void NotifyStatus(std::string_view status);
// READY=1: started, or done reloading.
void NotifyReady(std::string_view status);
// RELOADING=1 (with MONOTONIC_USEC=, which systemd 253's Type=notify-reload
// asks for): a reload begins; NotifyReady ends it, applied or refused.
void NotifyReloading(std::string_view status);
// STOPPING=1: shutting down.
void NotifyStopping(std::string_view status);

}  // namespace rappel::server
