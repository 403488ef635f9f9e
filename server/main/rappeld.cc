#include "server/main/rappeld.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace rappel::server {

Rappeld::~Rappeld() {
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

absl::Status Rappeld::Reload(const RappeldOptions& next) {
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
  server_->Stop();
  loop_->Shutdown([this] { return handler_->backup_running(); }, std::move(done));
}

}  // namespace rappel::server
