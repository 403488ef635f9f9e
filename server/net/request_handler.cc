#include "server/net/request_handler.h"

#include "absl/strings/str_cat.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

RequestHandler::RequestHandler(HandlerOptions options, Engine* engine, Dispatcher* dispatcher,
                               plan::AppointmentBook* book)
    : options_(std::move(options)),
      engine_(engine),
      dispatcher_(dispatcher),
      reminders_(engine, dispatcher, options_.frame_limits.max_frame_bytes),
      workers_(dispatcher),
      rates_(dispatcher) {
  if (book != nullptr) appointments_.emplace(book);
}

RequestHandler::~RequestHandler() {
  *alive_ = false;
  JoinBackup();
}

void RequestHandler::JoinBackup() {
  if (backup_thread_.joinable()) backup_thread_.join();
}

void RequestHandler::Backup(uint64_t id, std::string dir, Reply reply) {
  auto answer = [id](const Reply& reply, const absl::Status& st) {
    FlatBufferBuilder b;
    auto body = wire::CreateBackupReply(b, protocol::ToWireStatus(b, st));
    reply(Finish(b, id, wire::Body::BackupReply, body.Union()), false);
  };
  if (backup_running_) {
    answer(reply, absl::FailedPreconditionError(
                      "a backup is already running; try again once it has finished"));
    return;
  }
  if (!options_.post) {
    answer(reply, engine_->store().Backup(dir));
    return;
  }
  JoinBackup();  // the previous one has finished (its reply was sent)
  backup_running_ = true;
  Store* store = &engine_->store();
  std::weak_ptr<bool> alive = alive_;
  backup_thread_ = std::thread([this, store, dir = std::move(dir), alive, answer,
                                reply = std::move(reply), post = options_.post,
                                hook = options_.before_backup]() mutable {
    if (hook) hook();
    absl::Status st = store->Backup(dir);
    post([this, alive, answer, reply = std::move(reply), st] {
      auto a = alive.lock();
      if (!a || !*a) return;  // the handler is gone (shutting down)
      backup_running_ = false;
      answer(reply, st);
    });
  });
}

void RequestHandler::Stats(uint64_t id, const wire::Stats& req, Reply reply) {
  EngineStats es = engine_->stats();
  DispatchStats ds = dispatcher_->stats();
  FlatBufferBuilder b;
  std::vector<Offset<wire::ChannelCount>> by_channel;
  std::vector<Offset<wire::ChannelCount>> live_by_channel;
  std::vector<Offset<wire::ChannelCount>> rate_waiting_by_channel;
  for (int c = 1; c <= kChannelCount; ++c) {
    rate_waiting_by_channel.push_back(wire::CreateChannelCount(
        b, static_cast<wire::Channel>(c), ds.rate_waiting_by_channel[c]));
    by_channel.push_back(
        wire::CreateChannelCount(b, static_cast<wire::Channel>(c), ds.ready_by_channel[c]));
    live_by_channel.push_back(
        wire::CreateChannelCount(b, static_cast<wire::Channel>(c), es.live_by_channel[c]));
  }
  std::vector<Offset<wire::TenantCount>> by_tenant;
  size_t max_tenants = req.max_tenants() == 0 ? 20 : req.max_tenants();
  for (const auto& [tenant, live] : engine_->TopTenants(max_tenants)) {
    by_tenant.push_back(
        wire::CreateTenantCount(b, tenant.value, live, dispatcher_->dead_letters_of(tenant)));
  }
  int64_t now = engine_->NowMs();
  constexpr int64_t kHourMs = 3'600'000;
  auto fatal = b.CreateString(es.store.fatal_error);
  auto by_channel_v = b.CreateVector(by_channel);
  auto live_by_channel_v = b.CreateVector(live_by_channel);
  auto by_tenant_v = b.CreateVector(by_tenant);
  auto rate_waiting_v = b.CreateVector(rate_waiting_by_channel);
  wire::StatsReplyBuilder sb(b);
  sb.add_pending(es.in_wheel + ds.ready + ds.rate_waiting);
  sb.add_leased(ds.leased);
  sb.add_dead_letters(ds.dead_letters);
  sb.add_log_records(es.log_records);
  sb.add_store_used_bytes(es.store.used_bytes);
  sb.add_commits(es.store.commits);
  sb.add_by_channel(by_channel_v);
  sb.add_fatal_error(fatal);
  sb.add_live_by_channel(live_by_channel_v);
  sb.add_by_tenant(by_tenant_v);
  sb.add_tenants(es.tenants);
  sb.add_due_next_hour(engine_->DueBetween(now, now + kHourMs));
  sb.add_due_next_day(engine_->DueBetween(now, now + 24 * kHourMs));
  sb.add_live_records(es.live);
  sb.add_live_bytes(es.live_bytes);
  sb.add_log_bytes(es.log_bytes);
  sb.add_store_map_bytes(es.store.map_bytes);
  sb.add_records_appended(es.store.records_appended);
  sb.add_batches_committed(es.store.batches_committed);
  sb.add_max_records_per_commit(es.store.max_group_records);
  sb.add_max_batches_per_commit(es.store.max_group_batches);
  sb.add_retrying(ds.retrying);
  sb.add_dead_letters_dropped(ds.dead_letters_dropped);
  sb.add_compaction_steps(es.compaction_steps);
  sb.add_rate_waiting(ds.rate_waiting);
  sb.add_rate_waiting_by_channel(rate_waiting_v);
  sb.add_rate_late(ds.rate_late);
  sb.add_rate_expired(ds.rate_expired);
  auto body = sb.Finish();
  reply(Finish(b, id, wire::Body::StatsReply, body.Union()), false);
}

FrameBytes RequestHandler::ErrorFrame(uint64_t request_id, wire::ErrorCode code,
                                      const std::string& message) {
  return server::ErrorFrame(request_id, code, message);
}

bool RequestHandler::Allowed(const Connection& conn, wire::Body body) const {
  if (conn.role == wire::Role::Admin) return true;
  if (ReminderRequests::Handles(body)) return conn.role == wire::Role::Producer;
  if (WorkerRequests::Handles(body)) return conn.role == wire::Role::Worker;
  if (AppointmentRequests::Handles(body)) {
    return conn.role == wire::Role::Producer && AppointmentRequests::AllowedForProducer(body);
  }
  switch (body) {
    case wire::Body::Ping:
      return true;
    default:
      return false;  // stats, inspect, dead letters, backup: admin only
  }
}

void RequestHandler::Hello(Connection& conn, uint64_t id, const wire::Hello& hello, Reply reply) {
  if (hello.protocol_version() < 1) {
    reply(ErrorFrame(id, wire::ErrorCode::UnsupportedVersion,
                     absl::StrCat("protocol version ", hello.protocol_version(),
                                  " is not supported; this server speaks ",
                                  protocol::kProtocolVersion)),
          true);
    return;
  }
  std::string token = Str(hello.token());
  wire::Role role = wire::Role::Admin;
  if (!options_.tokens.empty()) {
    auto it = options_.tokens.find(token);
    if (it == options_.tokens.end()) {
      reply(ErrorFrame(id, wire::ErrorCode::Unauthenticated, "unknown token"), true);
      return;
    }
    role = it->second;
  }
  conn.greeted = true;
  conn.role = role;
  conn.client_name = Str(hello.client_name());
  FlatBufferBuilder b;
  auto name = b.CreateString(options_.server_name);
  auto body = wire::CreateHelloReply(b, protocol::kProtocolVersion, name, role,
                                     options_.frame_limits.max_frame_bytes,
                                     static_cast<uint32_t>(options_.max_payload_bytes));
  reply(Finish(b, id, wire::Body::HelloReply, body.Union()), false);
}

void RequestHandler::Handle(Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  wire::Body type = frame.body_type();
  if (type == wire::Body::Hello) {
    if (conn.greeted) {
      reply(ErrorFrame(id, wire::ErrorCode::FailedPrecondition, "Hello was already sent"), false);
      return;
    }
    Hello(conn, id, *frame.body_as_Hello(), std::move(reply));
    return;
  }
  if (!conn.greeted) {
    reply(ErrorFrame(id, wire::ErrorCode::Unauthenticated, "the first frame must be Hello"), true);
    return;
  }
  if (wire::EnumNameBody(type)[0] == '\0' || type > wire::Body::MAX) {
    reply(ErrorFrame(id, wire::ErrorCode::UnknownRequest,
                     absl::StrCat("unknown request type ", static_cast<int>(type))),
          false);
    return;
  }
  if (!Allowed(conn, type)) {
    reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied,
                     absl::StrCat(wire::EnumNameBody(type), " is not allowed for role ",
                                  wire::EnumNameRole(conn.role))),
          false);
    return;
  }
  if (ReminderRequests::Handles(type)) return reminders_.Handle(frame, std::move(reply));
  if (WorkerRequests::Handles(type)) return workers_.Handle(conn, frame, std::move(reply));
  if (AppointmentRequests::Handles(type) && appointments_) {
    appointments_->Handle(frame, std::move(reply));
    return;
  }
  if (RateRequests::Handles(type)) {  // admin only (Allowed)
    rates_.Handle(frame, std::move(reply));
    return;
  }
  switch (type) {
    case wire::Body::Ping: {
      FlatBufferBuilder b;
      reply(Finish(b, id, wire::Body::Pong, wire::CreatePong(b).Union()), false);
      return;
    }
    case wire::Body::Stats:
      Stats(id, *frame.body_as_Stats(), std::move(reply));
      return;
    case wire::Body::Compact:
      engine_->CompactNow([this, id, reply = std::move(reply)](
                              absl::StatusOr<CompactionResult> r) {
        FlatBufferBuilder b;
        Offset<wire::CompactReply> body;
        if (!r.ok()) {
          body = wire::CreateCompactReply(b, protocol::ToWireStatus(b, r.status()));
        } else {
          body = wire::CreateCompactReply(b, 0, r->log_records_before, r->log_bytes_before,
                                          r->log_records_after, r->log_bytes_after, r->live,
                                          r->relocated, engine_->store().stats().used_bytes);
        }
        reply(Finish(b, id, wire::Body::CompactReply, body.Union()), false);
      });
      return;
    case wire::Body::Inspect: {
      auto state = engine_->Inspect(KeyFromWire(frame.body_as_Inspect()->key()));
      FlatBufferBuilder b;
      Offset<wire::InspectReply> body;
      if (!state.ok() || !state->has_value()) {
        absl::Status st = state.ok() ? absl::NotFoundError("no reminder with that key") : state.status();
        body = wire::CreateInspectReply(b, protocol::ToWireStatus(b, st));
      } else {
        auto rem = ReminderToWire(b, (*state)->spec);
        body = wire::CreateInspectReply(b, 0, rem, (*state)->seq, !(*state)->in_wheel);
      }
      reply(Finish(b, id, wire::Body::InspectReply, body.Union()), false);
      return;
    }
    case wire::Body::DeadLetterList: {
      const auto* req = frame.body_as_DeadLetterList();
      std::optional<TenantId> tenant;
      if (req->tenant() != 0) tenant = TenantId{req->tenant()};
      auto letters = dispatcher_->ListDeadLetters(tenant, req->limit() == 0 ? 100 : req->limit());
      if (!letters.ok()) {
        reply(ErrorFrame(id, static_cast<wire::ErrorCode>(letters.status().code()),
                         std::string(letters.status().message())),
              false);
        return;
      }
      FlatBufferBuilder b;
      std::vector<Offset<wire::DeadLetter>> out;
      for (const auto& d : *letters) {
        auto rem = ReminderToWire(b, d.reminder);
        out.push_back(wire::CreateDeadLetter(b, rem, d.attempts, b.CreateString(d.last_detail),
                                             d.dead_at_ms));
      }
      auto body = wire::CreateDeadLetterListReply(b, b.CreateVector(out));
      reply(Finish(b, id, wire::Body::DeadLetterListReply, body.Union()), false);
      return;
    }
    case wire::Body::DeadLetterReplay: {
      const auto* replay_keys = frame.body_as_DeadLetterReplay()->keys();
      if (absl::Status st =
              CheckCopyBudget(CopiedBytes(replay_keys), options_.frame_limits.max_frame_bytes);
          !st.ok()) {
        return reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument, std::string(st.message())), false);
      }
      std::vector<ReminderKey> keys = KeysFromWire(replay_keys);
      auto results = std::make_shared<std::vector<absl::Status>>(keys.size());
      auto remaining = std::make_shared<size_t>(keys.size());
      auto finish = [id, results, reply] {
        FlatBufferBuilder b;
        auto body = wire::CreateDeadLetterReplayReply(b, Statuses(b, *results));
        reply(Finish(b, id, wire::Body::DeadLetterReplayReply, body.Union()), false);
      };
      if (keys.empty()) {
        finish();
        return;
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        dispatcher_->ReplayDeadLetter(keys[i], [i, results, remaining, finish](absl::Status st) {
          (*results)[i] = st;
          if (--*remaining == 0) finish();
        });
      }
      return;
    }
    case wire::Body::Backup:
      Backup(id, Str(frame.body_as_Backup()->path()), std::move(reply));
      return;
    default:
      reply(ErrorFrame(id, wire::ErrorCode::UnknownRequest,
                       absl::StrCat(wire::EnumNameBody(type), " is not a request")),
            false);
  }
}

void RequestHandler::OnClose(Connection& conn) { workers_.OnClose(conn); }

}  // namespace rappel::server
