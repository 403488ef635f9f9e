// rappeld: the rappel server. With no options it stores its data in
// ./rappel-data and listens on 127.0.0.1:7411 with no tokens (any local
// client is admin); see --help. --config FILE reads a TOML file
// (server/main/config.h, rappeld.example.toml); the flags override it.
#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/main/config.h"
#include "server/main/rappeld.h"
#include "server/main/service_notify.h"
#include "server/common/program.h"

namespace {

constexpr char kSignalsHelp[] =
    "Signals:\n"
    "  SIGTERM, SIGINT  finish the writes in flight, close the connections, exit 0\n"
    "  SIGHUP           read the configuration again (the --config file and the same flags)\n"
    "                   and apply its tokens and TLS files; connections stay open,\n"
    "                   but those whose token was removed or changed (role, tenants)\n"
    "                   are closed. A file that does not resolve, or a TLS file\n"
    "                   that does not load, is refused\n"
    "                   with a log line and the running configuration stays; settings\n"
    "                   that need a restart are logged and kept\n"
    "  SIGPIPE          ignored (a peer that went away is a closed connection)\n"
    "Under systemd (Type=notify, NOTIFY_SOCKET set) it reports READY=1 once the store is\n"
    "recovered and the port accepts, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1\n"
    "at SIGTERM or SIGINT, each with a STATUS= line (packaging/systemd/rappeld.service.in)";

// A fenced shard leader starts again from its store, as a standby: the same
// process image and arguments, nothing of the old state but what is
// durable. The descriptors are marked close-on-exec rather than closed, so
// that no other thread meets a closed descriptor before the exec.
int RestartAsStandby(char** argv) {
  rappel::server::NotifyStatus("fenced: restarting as a standby");
  std::fflush(stdout);
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execv("/proc/self/exe", argv);
  rappel::server::LogError(absl::StrCat("cannot restart: execv: ", std::strerror(errno)));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rappeld: the rappel server (appointment reminders, durable delay queue)"};
  rappel::AddVersionFlag(app, "rappeld");
  app.footer(kSignalsHelp);
  rappel::server::CommandLine command_line(app);
  if (auto rc = rappel::ParseCommandLine(app, argc, argv)) return *rc;
  auto resolved = command_line.Resolve();
  if (command_line.checking()) {
    if (!resolved.ok()) {
      std::fprintf(stderr, "rappeld: %s: %s\n", command_line.config_path().c_str(),
                   std::string(resolved.status().message()).c_str());
      return 1;
    }
    std::printf("rappeld: %s is valid: listen %s:%u, store %s, %zu token(s)\n",
                command_line.config_path().c_str(), resolved->server.listen_address.c_str(),
                resolved->server.port, resolved->engine.store.path.c_str(),
                resolved->handler.tokens.size());
    return 0;
  }
  if (!resolved.ok()) {
    std::fprintf(stderr, "rappeld: %s\n", std::string(resolved.status().message()).c_str());
    return rappel::kExitUsage;
  }
  rappel::server::RappeldOptions options = *resolved;
  rappel::server::ConfigureLog(options.log);
  // Before recovery, which may take a while: what is starting, from what.
  rappel::server::LogInfo(absl::StrCat(
      "starting ", rappel::VersionLine("rappeld"), ", config ",
      command_line.config_path().empty() ? "none (defaults and flags)" : command_line.config_path(),
      ", data dir ", options.engine.store.path));
  std::signal(SIGPIPE, SIG_IGN);

  asio::io_context io(1);
  // Both sets exist before the store is opened, so a SIGHUP during a long
  // recovery waits for io.run() instead of killing the process.
  asio::signal_set stop(io, SIGINT, SIGTERM);
  asio::signal_set reload(io, SIGHUP);

  rappel::server::NotifyStatus(absl::StrCat("recovering the store ", options.engine.store.path));
  auto started = rappel::server::Rappeld::Start(io, options);
  if (!started.ok()) {
    rappel::server::LogError(absl::StrCat("failed to start: ", started.status().message()));
    rappel::server::NotifyStatus(absl::StrCat("failed to start: ", started.status().message()));
    return 1;
  }
  rappel::server::Rappeld& server = **started;
  // SIGINT or SIGTERM: finish what is in flight, then leave io.run().
  auto stop_on_signal = [&](std::string what) {
    stop.async_wait([&, what](asio::error_code ec, int signo) {
      if (ec) return;
      rappel::server::LogInfo(absl::StrCat("signal ", signo, ": ", what));
      rappel::server::NotifyStopping(what);
      reload.cancel();
      server.Shutdown([&] {
        rappel::server::LogInfo("stopped");
        io.stop();
      });
    });
  };
  if (server.shard()) {
    const rappel::server::ShardNode& shard = *server.shard();
    const std::string joined = absl::StrCat(
        "shard ", options.shard.name, ", node ", shard.options().node, ", data dir ",
        options.engine.store.path, ": a standby until etcd names a leader; clients at ",
        shard.options().client, ", standbys at ", shard.options().replication);
    std::printf("rappeld: %s\n", joined.c_str());
    std::fflush(stdout);
    rappel::server::LogInfo(joined);
    rappel::server::NotifyReady(joined);
    stop_on_signal("stopping: finishing the writes in flight, resigning");
    io.run();
    if (server.restart_requested()) return RestartAsStandby(argv);
    return 0;
  }
  if (server.standby()) {
    const auto& st = server.applier()->status();
    std::printf("rappeld: standby of %s, store %s at index %llu (term %llu); clients on %s:%u "
                "are referred to the primary\n",
                options.replication.replica_of.c_str(), options.engine.store.path.c_str(),
                static_cast<unsigned long long>(st.durable.index),
                static_cast<unsigned long long>(st.durable.term),
                options.server.listen_address.c_str(), server.port());
    std::fflush(stdout);
    const std::string following =
        absl::StrCat("standby of ", options.replication.replica_of, ", data dir ",
                     options.engine.store.path, ", at index ", st.durable.index);
    rappel::server::LogInfo(following);
    rappel::server::NotifyReady(following);
    stop_on_signal("stopping the standby");
    io.run();
    return 0;
  }
  auto stats = server.engine().stats();
  const char* transport = !options.server.tls.enabled()               ? ""
                          : options.server.tls.client_ca_file.empty() ? ", TLS"
                                                                      : ", TLS with client certificates";
  std::printf("rappeld: listening on %s:%u, store %s (%llu pending, recovered in %lld ms)%s\n",
              options.server.listen_address.c_str(), server.port(),
              options.engine.store.path.c_str(), static_cast<unsigned long long>(stats.live),
              static_cast<long long>(stats.recovery_ms), transport);
  if (server.replication_port() != 0) {
    std::printf("rappeld: replication on %s:%u\n", options.replication.listen.c_str(),
                server.replication_port());
  }
  if (server.metrics_port() != 0) {
    std::printf("rappeld: metrics on http://%s:%u/metrics\n", options.metrics.listen.c_str(),
                server.metrics_port());
  }
  std::fflush(stdout);
  // The log's summary, and systemd's status: ready only now, the store is
  // recovered and the listener accepts.
  const std::string serving = absl::StrCat(
      "serving on ", options.server.listen_address, ":", server.port(), transport, ", data dir ",
      options.engine.store.path, ", ", stats.live, " pending reminders recovered in ",
      stats.recovery_ms, " ms");
  rappel::server::LogInfo(serving);
  rappel::server::NotifyReady(serving);

  std::function<void()> await_reload = [&] {
    reload.async_wait([&](asio::error_code ec, int) {
      if (ec) return;
      rappel::server::NotifyReloading("reloading the configuration (SIGHUP)");
      std::string outcome = "configuration reloaded";
      auto next = command_line.Resolve();
      if (!next.ok()) {
        outcome = "configuration refused";
        rappel::server::LogWarn(absl::StrCat(
            "SIGHUP: configuration refused, the running one stays: ", next.status().message()));
      } else {
        for (const std::string& change : rappel::server::RestartOnlyChanges(options, *next)) {
          rappel::server::LogWarn(absl::StrCat("SIGHUP: ", change, " needs a restart; kept"));
        }
        if (absl::Status st = server.Reload(*next); !st.ok()) {
          outcome = "configuration refused";
          rappel::server::LogWarn(
              absl::StrCat("SIGHUP: configuration refused, the running one stays: ", st.message()));
        } else {
          rappel::server::LogInfo("SIGHUP: configuration reloaded");
        }
      }
      rappel::server::NotifyReady(absl::StrCat(serving, "; last SIGHUP: ", outcome));
      await_reload();
    });
  };
  await_reload();

  stop_on_signal("stopping: finishing the writes in flight");
  io.run();
  return 0;
}
