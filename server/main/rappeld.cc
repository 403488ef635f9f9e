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
namespace {

absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  uint32_t port = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port) || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", std::string(text), "' is not HOST:PORT"));
  }
  return std::make_pair(std::string(text.substr(0, colon)), static_cast<uint16_t>(port));
}

std::string NodeName(const ReplicationOptions& r) {
  if (!r.node.empty()) return r.node;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

ReplicaApplierOptions ApplierOptions(const RappeldOptions& options, const std::string& token,
                                     const std::pair<std::string, uint16_t>& primary) {
  ReplicaApplierOptions ao;
  ao.primary_host = primary.first;
  ao.primary_port = primary.second;
  ao.token = token;
  ao.node = NodeName(options.replication);
  if (options.shard.enabled()) ao.initial_backoff_ms = 20;  // a new leader is up at once
  return ao;
}

}  // namespace

Rappeld::~Rappeld() {
  shard_.reset();
  replication_.reset();
  if (standby_handler_) {
    // Its view reads the applier: the listener goes first.
    server_->Stop();
    server_.reset();
  }
  snapshots_.reset();  // joins a copy in progress
  applier_.reset();
  standby_store_.reset();  // commits what the applier queued
  metrics_.reset();  // first: its snapshots read the engine and the server
  if (server_) server_->Stop();
  if (handler_) handler_->JoinBackup();  // the copy reads the store
  server_.reset();
  handler_.reset();
  loop_.reset();
}

namespace {

// What clients are told to connect to: --advertise-client, else the
// listen address and the bound port.
std::string AdvertisedClient(const RappeldOptions& options, uint16_t port) {
  if (!options.replication.advertise_client.empty()) return options.replication.advertise_client;
  const std::string& host = options.server.listen_address;
  bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Rappeld>> Rappeld::Start(asio::io_context& io,
                                                        RappeldOptions options) {
  std::unique_ptr<Rappeld> d(new Rappeld());
  d->io_ = &io;
  if (options.shard.enabled()) {
    if (absl::Status st = d->StartShard(options); !st.ok()) return st;
    return d;
  }
  if (options.replication.standby()) {
    if (absl::Status st = d->StartStandby(io, options); !st.ok()) return st;
    return d;
  }
  if (absl::Status st = d->StartPrimary(std::move(options), 0); !st.ok()) return st;
  return d;
}

absl::Status Rappeld::StartPrimary(RappeldOptions options, uint64_t term) {
  asio::io_context& io = *io_;
  Rappeld* d = this;
  if (options.replication.port >= 0) {
    PrimaryHookOptions ho;
    ho.backlog_bytes = options.replication.backlog_bytes;
    ho.sync_standbys = options.replication.sync_standbys;
    ho.term = term;
    d->hook_ = std::make_unique<PrimaryHook>(ho);
    options.engine.store.hook = d->hook_.get();
  }
  if (shard_) {
    // Nothing is handed out once the lease cannot be proven (ShardNode
    // fences the node soon after).
    const coord::LeaseGuard* guard = &shard_->guard();
    options.dispatch.may_dispatch = [guard] { return guard->Valid(); };
    // Nor is a write answered: it stays unanswered, its client sees the
    // connection drop when the node restarts.
    if (hook_) hook_->SetAnswerGate([guard] { return guard->Valid(); });
  }
  CoreOptions core{options.engine, options.dispatch, options.book};
  auto loop = Loop::Start(io, std::move(core), options.reclaim_every_ms);
  if (!loop.ok()) return loop.status();
  d->loop_ = std::move(*loop);
  Core& c = d->loop_->core();
  if (d->hook_) {
    options.handler.shard_role = protocol::wire::ShardRole::Leader;
    Rappeld* self = d;
    options.handler.replication = [self] {
      ReplicationView v;
      v.role = protocol::wire::ShardRole::Leader;
      v.position = self->hook_->last();
      if (self->replication_) {
        for (const StandbyStatus& s : self->replication_->standbys()) {
          v.standbys.push_back({s.node, s.acked});
        }
      }
      return v;
    };
  }
  options.handler.frame_limits = options.server.session.frame_limits;
  options.handler.max_payload_bytes = options.engine.max_payload_bytes;
  // The backup thread's reply comes back to the io thread this way.
  options.handler.post = [&io](std::function<void()> fn) { asio::post(io, std::move(fn)); };
  d->handler_ = std::make_unique<RequestHandler>(options.handler, &c.engine(), &c.dispatcher(),
                                                 c.book());
  d->server_ = std::make_unique<Server>(io, options.server, d->handler_.get());
  if (absl::Status st = d->server_->Start(); !st.ok()) return st;
  d->client_address_ = AdvertisedClient(options, d->server_->port());
  if (d->hook_) {
    ReplicationServerOptions ro;
    ro.client_address = d->client_address_;
    ro.listen_address = options.replication.listen;
    ro.port = static_cast<uint16_t>(options.replication.port);
    for (const Credential& c : options.handler.tokens) {
      if (c.role == protocol::wire::Role::Replica) ro.tokens.push_back(c);
    }
    d->snapshots_ = std::make_unique<SnapshotSource>(io, &c.engine().store());
    ro.snapshots = d->snapshots_.get();
    d->replication_ = std::make_unique<ReplicationServer>(io, std::move(ro), d->hook_.get());
    if (absl::Status st = d->replication_->Start(); !st.ok()) return st;
  }
  // Last: /readyz answering means the store is recovered and the port open.
  if (options.metrics.enabled()) {
    Rappeld* self = d;
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
      if (self->replication_) {
        s.replication.on = true;
        s.replication.shard_leader = self->shard_ != nullptr;
        ReplPos last = self->hook_->last();
        s.replication.term = last.term;
        s.replication.index = last.index;
        for (const StandbyStatus& sb : self->replication_->standbys()) {
          s.replication.standbys.push_back({sb.node, sb.acked.index});
        }
      }
      return s;
    });
    if (!exporter.ok()) return exporter.status();
    d->metrics_ = std::move(*exporter);
  }
  return absl::OkStatus();
}

absl::Status Rappeld::StartStandby(asio::io_context& io, const RappeldOptions& options) {
  const ReplicationOptions& r = options.replication;
  auto target = ParseHostPort(r.replica_of);
  if (!target.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica_of '", r.replica_of, "' is not HOST:PORT"));
  }
  if (absl::Status st = OpenStandbyStore(options); !st.ok()) return st;
  ReplicaApplierOptions ao = ApplierOptions(options, replica_token_, *target);
  ao.on_primary_client = [this](const std::string& client) {
    if (standby_handler_->leader() != client) {
      LogInfo(absl::StrCat("standby: clients are sent to the primary at ",
                           client.empty() ? std::string("(none given)") : client));
    }
    standby_handler_->SetLeader(client);
  };
  applier_ = std::make_unique<ReplicaApplier>(io, std::move(ao), standby_store_.get());
  if (absl::Status st = applier_->Start(); !st.ok()) return st;
  return StartStandbyListener(options);
}

absl::Status Rappeld::OpenStandbyStore(const RappeldOptions& options) {
  const ReplicationOptions& r = options.replication;
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
  replica_token_ = std::string(absl::StripAsciiWhitespace(text.str()));
  if (replica_token_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the replication token file ", r.token_file, " is empty"));
  }
  auto store = StandbyStore::Open(
      options.engine.store, [this](std::function<void()> fn) { asio::post(*io_, std::move(fn)); });
  if (!store.ok()) return store.status();
  standby_store_ = std::move(*store);
  auto reader = standby_store_->get()->NewReader();
  if (!reader.ok()) return reader.status();
  auto pos = reader->GetReplPos();
  if (!pos.ok()) return pos.status();
  standby_opened_at_ = *pos;
  return absl::OkStatus();
}

absl::Status Rappeld::StartStandbyListener(const RappeldOptions& options) {
  // The client port: Hello, Ping, Stats; the rest is refused naming the
  // leader's client address (from the stream's start, or from etcd).
  StandbyHandlerOptions so;
  so.tokens = options.handler.tokens;
  so.server_name = options.handler.server_name;
  so.frame_limits = options.server.session.frame_limits;
  so.max_payload_bytes = options.engine.max_payload_bytes;
  standby_handler_ = std::make_unique<StandbyHandler>(std::move(so), [this] {
    ReplicationView v;
    v.position = standby_opened_at_;
    if (applier_) {
      const ReplicaStatus& st = applier_->status();
      v.position = st.durable;
      v.commit_ms = st.primary_commit_ms;
      v.streaming = st.streaming;
      v.last_error = st.last_error;
    }
    return v;
  });
  server_ = std::make_unique<Server>(*io_, options.server, standby_handler_.get());
  if (absl::Status st = server_->Start(); !st.ok()) return st;
  client_address_ = AdvertisedClient(options, server_->port());
  return absl::OkStatus();
}

absl::Status Rappeld::StartShard(const RappeldOptions& options) {
  options_ = options;
  if (absl::Status st = OpenStandbyStore(options); !st.ok()) return st;
  if (absl::Status st = StartStandbyListener(options); !st.ok()) return st;
  ShardNodeOptions so;
  so.shard = options.shard.name;
  so.node = NodeName(options.replication);
  so.etcd_endpoints = options.shard.etcd_endpoints;
  so.etcd_prefix = options.shard.etcd_prefix;
  so.lease_ttl_s = options.shard.lease_ttl_s;
  so.client = client_address_;
  so.replication = absl::StrCat(options.replication.listen, ":", options.replication.port);
  ShardRoles roles;
  roles.follow = [this](const coord::LeaderInfo& leader) { Follow(leader); };
  roles.promote = [this](uint64_t term) { Promote(term); };
  roles.fence = [this](const std::string& why) { Fence(why); };
  roles.position = [this] { return Position(); };
  shard_ = std::make_unique<ShardNode>(*io_, std::move(so), std::move(roles));
  shard_->Start();
  LogInfo(absl::StrCat("shard ", options.shard.name, ": node ", shard_->options().node,
                       " joined as a standby at index ", standby_opened_at_.index, " (term ",
                       standby_opened_at_.term, "); waiting for etcd to name the leader"));
  return absl::OkStatus();
}

ReplPos Rappeld::Position() const {
  if (hook_) return hook_->last();
  if (applier_) return applier_->status().durable;
  return standby_opened_at_;
}

void Rappeld::Follow(const coord::LeaderInfo& leader) {
  if (!standby_store_) return;  // promoted
  standby_handler_->SetLeader(leader.client);
  if (leader.node.empty()) return;  // nobody to follow yet
  auto target = ParseHostPort(leader.replication);
  if (!target.ok()) {
    LogError(absl::StrCat("shard: the leader ", leader.node, " publishes a replication address '",
                          leader.replication, "' that is not HOST:PORT"));
    return;
  }
  if (!applier_) {
    applier_ = std::make_unique<ReplicaApplier>(
        *io_, ApplierOptions(options_, replica_token_, *target), standby_store_.get());
    applier_->SetMinTerm(leader.term);
    if (absl::Status st = applier_->Start(); !st.ok()) {
      LogError(absl::StrCat("shard: cannot follow ", leader.node, ": ", st.message()));
    }
    return;
  }
  applier_->SetMinTerm(leader.term);
  applier_->Retarget(target->first, target->second);
}

void Rappeld::Promote(uint64_t term) {
  LogInfo(absl::StrCat("shard: promoting to primary of term ", term, " at index ",
                       Position().index));
  // The standby's last groups commit as its store closes; the primary then
  // recovers from that store, and only then starts its wheel and dispatcher.
  server_->Stop();  // the standby's listener: the primary's takes its port
  server_.reset();
  standby_handler_.reset();
  applier_.reset();
  standby_store_.reset();
  if (absl::Status st = StartPrimary(options_, term); !st.ok()) {
    Fence(absl::StrCat("promotion failed: ", st.message()));
    return;
  }
  LogInfo(absl::StrCat("shard: serving as the leader of term ", term, " on ",
                       options_.server.listen_address, ":", server_->port()));
}

void Rappeld::Fence(const std::string& why) {
  (void)why;  // ShardNode logged it
  restart_requested_ = true;
  // Nothing more is answered nor handed out: the process restarts as a
  // standby (main()), as after a crash; what was not acknowledged may be
  // lost, what was is on the standbys.
  io_->stop();
}

absl::Status Rappeld::Reload(const RappeldOptions& next) {
  if (server_->tls() != next.server.tls.enabled()) {
    return absl::FailedPreconditionError("turning TLS on or off needs a restart");
  }
  if (next.server.tls.enabled()) {
    if (absl::Status st = server_->SetTls(next.server.tls); !st.ok()) return st;
  }
  if (handler_) handler_->SetTokens(next.handler.tokens);
  if (standby_handler_) standby_handler_->SetTokens(next.handler.tokens);
  if (size_t closed = server_->CloseRevoked(); closed > 0) {
    LogInfo(absl::StrCat("reload: closed ", closed,
                         " connection(s) whose token was removed or changed"));
  }
  return absl::OkStatus();
}

void Rappeld::Shutdown(std::function<void()> done) {
  if (standby()) {
    if (shard_) shard_->Stop();
    // The store's destructor commits what is queued.
    server_->Stop();
    if (applier_) applier_->Stop();
    asio::post(*io_, std::move(done));
    return;
  }
  server_->Stop();
  // Writes held for standbys (or parked by the answer gate) would keep the
  // engine busy for ever; no client can hear their answers any more.
  if (hook_) hook_->Drain();
  // The standbys go on receiving until the loop has stopped; then a
  // shard's leader resigns, so that the next is elected at once rather
  // than after the lease's TTL.
  loop_->Shutdown([this] { return handler_->backup_running(); },
                  [this, done = std::move(done)] {
                    if (replication_) replication_->Stop();
                    if (shard_) shard_->Stop();
                    done();
                  });
}

}  // namespace rappel::server
