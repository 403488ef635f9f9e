#include "server/main/rappeld.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"

namespace rappel::server {

Rappeld::~Rappeld() {
  replication_.reset();
  applier_.reset();
  standby_store_.reset();  // commits what the applier queued
  metrics_.reset();  // first: its snapshots read the engine and the server
  if (server_) server_->Stop();
  if (handler_) handler_->JoinBackup();  // the copy reads the store
  server_.reset();
  handler_.reset();
  loop_.reset();
}

absl::StatusOr<std::unique_ptr<Rappeld>> Rappeld::Start(asio::io_context& io,
                                                        RappeldOptions options) {
  std::unique_ptr<Rappeld> d(new Rappeld());
  d->io_ = &io;
  if (options.replication.standby()) {
    if (absl::Status st = d->StartStandby(io, options); !st.ok()) return st;
    return d;
  }
  if (options.replication.port >= 0) {
    d->hook_ = std::make_unique<PrimaryHook>(options.replication.backlog_bytes);
    options.engine.store.hook = d->hook_.get();
  }
  CoreOptions core{options.engine, options.dispatch, options.book};
  auto loop = Loop::Start(io, std::move(core), options.reclaim_every_ms);
  if (!loop.ok()) return loop.status();
  d->loop_ = std::move(*loop);
  Core& c = d->loop_->core();
  options.handler.frame_limits = options.server.session.frame_limits;
  options.handler.max_payload_bytes = options.engine.max_payload_bytes;
  // The backup thread's reply comes back to the io thread this way.
  options.handler.post = [&io](std::function<void()> fn) { asio::post(io, std::move(fn)); };
  d->handler_ = std::make_unique<RequestHandler>(options.handler, &c.engine(), &c.dispatcher(),
                                                 c.book());
  d->server_ = std::make_unique<Server>(io, options.server, d->handler_.get());
  if (absl::Status st = d->server_->Start(); !st.ok()) return st;
  if (d->hook_) {
    ReplicationServerOptions ro;
    ro.listen_address = options.replication.listen;
    ro.port = static_cast<uint16_t>(options.replication.port);
    for (const Credential& c : options.handler.tokens) {
      if (c.role == protocol::wire::Role::Replica) ro.tokens.push_back(c);
    }
    d->replication_ = std::make_unique<ReplicationServer>(io, std::move(ro), d->hook_.get());
    if (absl::Status st = d->replication_->Start(); !st.ok()) return st;
  }
  // Last: /readyz answering means the store is recovered and the port open.
  if (options.metrics.enabled()) {
    Rappeld* self = d.get();
    size_t top_tenants = options.metrics.top_tenants;
    auto exporter = metrics::MetricsExporter::Start(io, options.metrics, [self, top_tenants] {
      metrics::ServerSnapshot s;
      s.engine = self->engine().stats();
      s.dispatch = self->dispatcher().stats();
      int64_t now = self->engine().NowMs();
      constexpr int64_t kHourMs = 3'600'000;
      s.due_next_hour = self->engine().DueBetween(now, now + kHourMs);
      s.due_next_day = self->engine().DueBetween(now, now + 24 * kHourMs);
      s.connections = self->server_->connections();
      s.connections_by_role = self->server_->connections_by_role();
      s.requests = self->server_->request_latencies();
      uint64_t top_live = 0, top_dead = 0;
      for (const auto& [tenant, live] : self->engine().TopTenants(top_tenants)) {
        uint64_t dead = self->dispatcher().dead_letters_of(tenant);
        s.top_tenants.push_back({tenant.value, live, dead});
        top_live += live;
        top_dead += dead;
      }
      s.other_tenants.live = s.engine.live - std::min(s.engine.live, top_live);
      s.other_tenants.dead_letters =
          s.dispatch.dead_letters - std::min<uint64_t>(s.dispatch.dead_letters, top_dead);
      return s;
    });
    if (!exporter.ok()) return exporter.status();
    d->metrics_ = std::move(*exporter);
  }
  return d;
}

absl::Status Rappeld::StartStandby(asio::io_context& io, const RappeldOptions& options) {
  const ReplicationOptions& r = options.replication;
  ReplicaApplierOptions ao;
  std::string_view target = r.replica_of;
  size_t colon = target.rfind(':');
  uint32_t port = 0;
  if (colon == std::string_view::npos || !absl::SimpleAtoi(std::string(target.substr(colon + 1)), &port) ||
      port == 0 || port > 65535 || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica_of '", r.replica_of, "' is not HOST:PORT"));
  }
  ao.primary_host = std::string(target.substr(0, colon));
  ao.primary_port = static_cast<uint16_t>(port);
  if (r.token_file.empty()) {
    return absl::InvalidArgumentError(
        "a standby needs the token it sends the primary (role replica): [replication] "
        "token_file or --replication-token-file");
  }
  std::ifstream in(r.token_file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the replication token file ", r.token_file));
  }
  ao.token = std::string(absl::StripAsciiWhitespace(text.str()));
  if (ao.token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the replication token file ", r.token_file, " is empty"));
  }
  ao.node = r.node;
  if (ao.node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    ao.node = host;
  }
  auto store = Store::Open(options.engine.store,
                           [&io](std::function<void()> fn) { asio::post(io, std::move(fn)); });
  if (!store.ok()) return store.status();
  standby_store_ = std::move(*store);
  applier_ = std::make_unique<ReplicaApplier>(io, std::move(ao), standby_store_.get());
  return applier_->Start();
}

absl::Status Rappeld::Reload(const RappeldOptions& next) {
  if (standby()) return absl::OkStatus();  // a standby has no tokens nor TLS of its own yet
  if (server_->tls() != next.server.tls.enabled()) {
    return absl::FailedPreconditionError("turning TLS on or off needs a restart");
  }
  if (next.server.tls.enabled()) {
    if (absl::Status st = server_->SetTls(next.server.tls); !st.ok()) return st;
  }
  handler_->SetTokens(next.handler.tokens);
  if (size_t closed = server_->CloseRevoked(); closed > 0) {
    LogInfo(absl::StrCat("reload: closed ", closed,
                         " connection(s) whose token was removed or changed"));
  }
  return absl::OkStatus();
}

void Rappeld::Shutdown(std::function<void()> done) {
  if (standby()) {
    // The store's destructor commits what is queued.
    applier_->Stop();
    asio::post(*io_, std::move(done));
    return;
  }
  if (replication_) replication_->Stop();
  server_->Stop();
  loop_->Shutdown([this] { return handler_->backup_running(); }, std::move(done));
}

}  // namespace rappel::server
