#include "server/net/admin_requests.h"

#include <algorithm>
#include <optional>

#include "server/net/tenant_access.h"

namespace rappel::server {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

AdminRequests::AdminRequests(Engine* engine, Dispatcher* dispatcher, size_t max_frame_bytes,
                             Post post, std::function<void()> before_backup,
                             std::function<ReplicationView()> replication)
    : engine_(engine),
      dispatcher_(dispatcher),
      max_frame_bytes_(max_frame_bytes),
      post_(std::move(post)),
      before_backup_(std::move(before_backup)),
      replication_(std::move(replication)) {}

AdminRequests::~AdminRequests() {
  *alive_ = false;
  JoinBackup();
}

void AdminRequests::JoinBackup() {
  if (backup_thread_.joinable()) backup_thread_.join();
}

bool AdminRequests::Handles(wire::Body type) {
  switch (type) {
    case wire::Body::Stats:
    case wire::Body::Compact:
    case wire::Body::Inspect:
    case wire::Body::KeyList:
    case wire::Body::DeadLetterList:
    case wire::Body::DeadLetterReplay:
    case wire::Body::Backup:
      return true;
    default:
      return false;
  }
}

void AdminRequests::Handle(const Connection& conn, const wire::Frame& frame, Reply reply) {
  uint64_t id = frame.request_id();
  wire::Body type = frame.body_type();
  auto denied = [&](const absl::Status& st) {
    reply(ErrorFrame(id, wire::ErrorCode::PermissionDenied, std::string(st.message())), false);
  };
  switch (type) {
    case wire::Body::Stats:
      if (conn.tenants)
        return TenantStats(id, *frame.body_as_Stats(), *conn.tenants, std::move(reply));
      return Stats(id, *frame.body_as_Stats(), std::move(reply));
    case wire::Body::Compact:
      if (absl::Status st = CheckAllTenants(conn, type); !st.ok()) return denied(st);
      return Compact(id, std::move(reply));
    case wire::Body::Inspect: {
      const wire::Inspect& req = *frame.body_as_Inspect();
      TenantId tenant{req.key() != nullptr ? req.key()->tenant() : 0};
      if (absl::Status st = CheckTenant(conn, type, tenant); !st.ok()) return denied(st);
      return Inspect(id, req, std::move(reply));
    }
    case wire::Body::KeyList: {
      const wire::KeyList& req = *frame.body_as_KeyList();
      if (absl::Status st = CheckTenant(conn, type, TenantId{req.tenant()}); !st.ok()) {
        return denied(st);
      }
      return KeyList(id, req, std::move(reply));
    }
    case wire::Body::DeadLetterList: {
      const wire::DeadLetterList& req = *frame.body_as_DeadLetterList();
      if (req.tenant() != 0) {
        if (absl::Status st = CheckTenant(conn, type, TenantId{req.tenant()}); !st.ok()) {
          return denied(st);
        }
      }
      return DeadLetterList(conn, id, req, std::move(reply));
    }
    case wire::Body::DeadLetterReplay:
      return DeadLetterReplay(conn, id, *frame.body_as_DeadLetterReplay(), std::move(reply));
    case wire::Body::Backup:
      if (absl::Status st = CheckAllTenants(conn, type); !st.ok()) return denied(st);
      return Backup(id, Str(frame.body_as_Backup()->path()), std::move(reply));
    default:
      reply(ErrorFrame(id, wire::ErrorCode::Internal, "not an admin request"), false);
  }
}

void AdminRequests::Stats(uint64_t id, const wire::Stats& req, Reply reply) {
  EngineStats es = engine_->stats();
  DispatchStats ds = dispatcher_->stats();
  FlatBufferBuilder b;
  std::vector<Offset<wire::ChannelCount>> by_channel;
  std::vector<Offset<wire::ChannelCount>> live_by_channel;
  std::vector<Offset<wire::ChannelCount>> rate_waiting_by_channel;
  for (int c = 1; c <= kChannelCount; ++c) {
    rate_waiting_by_channel.push_back(
        wire::CreateChannelCount(b, static_cast<wire::Channel>(c), ds.rate_waiting_by_channel[c]));
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
  auto replication = ReplicationToWire(b, replication_ ? replication_() : ReplicationView{});
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
  sb.add_replication(replication);
  auto body = sb.Finish();
  reply(Finish(b, id, wire::Body::StatsReply, body.Union()), false);
}

void AdminRequests::TenantStats(uint64_t id, const wire::Stats& req,
                                const std::vector<TenantId>& tenants, Reply reply) {
  // The counters kept per tenant are live reminders and dead letters; the
  // others (pending, log, store, group commit...) are the instance's and
  // stay 0 here. fatal_error stays: it says why writes fail, no tenant's
  // data.
  struct Row {
    TenantId tenant;
    uint64_t live;
    uint64_t dead;
  };
  std::vector<Row> rows;
  uint64_t with_live = 0;
  for (TenantId t : tenants) {
    Row r{t, engine_->LiveOf(t), dispatcher_->dead_letters_of(t)};
    if (r.live > 0) ++with_live;
    if (r.live > 0 || r.dead > 0) rows.push_back(r);
  }
  // Largest first, like TopTenants.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.live != b.live ? a.live > b.live : a.tenant.value < b.tenant.value;
  });
  size_t max_tenants = req.max_tenants() == 0 ? 20 : req.max_tenants();
  if (rows.size() > max_tenants) rows.resize(max_tenants);
  FlatBufferBuilder b;
  std::vector<Offset<wire::TenantCount>> by_tenant;
  for (const Row& r : rows) {
    by_tenant.push_back(wire::CreateTenantCount(b, r.tenant.value, r.live, r.dead));
  }
  auto by_tenant_v = b.CreateVector(by_tenant);
  auto fatal = b.CreateString(engine_->stats().store.fatal_error);
  wire::StatsReplyBuilder sb(b);
  sb.add_fatal_error(fatal);
  sb.add_by_tenant(by_tenant_v);
  sb.add_tenants(with_live);
  auto body = sb.Finish();
  reply(Finish(b, id, wire::Body::StatsReply, body.Union()), false);
}

void AdminRequests::Compact(uint64_t id, Reply reply) {
  engine_->CompactNow([this, id, reply = std::move(reply)](absl::StatusOr<CompactionResult> r) {
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
}

void AdminRequests::Inspect(uint64_t id, const wire::Inspect& req, Reply reply) {
  auto state = engine_->Inspect(KeyFromWire(req.key()));
  FlatBufferBuilder b;
  Offset<wire::InspectReply> body;
  if (!state.ok() || !state->has_value()) {
    absl::Status st =
        state.ok() ? absl::NotFoundError("no reminder with that key") : state.status();
    body = wire::CreateInspectReply(b, protocol::ToWireStatus(b, st));
  } else {
    auto rem = ReminderToWire(b, (*state)->spec);
    body = wire::CreateInspectReply(b, 0, rem, (*state)->seq, !(*state)->in_wheel);
  }
  reply(Finish(b, id, wire::Body::InspectReply, body.Union()), false);
}

void AdminRequests::KeyList(uint64_t id, const wire::KeyList& req, Reply reply) {
  // A page is bounded so that its reply stays far below any frame limit
  // (1 000 keys of at most 256 bytes).
  constexpr uint32_t kMaxLimit = 1000;
  if (req.limit() > kMaxLimit) {
    reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument,
                     "KeyList limit " + std::to_string(req.limit()) + " is over 1000"),
          false);
    return;
  }
  uint32_t limit = req.limit() == 0 ? 100 : req.limit();
  auto page = engine_->ListKeys(TenantId{req.tenant()}, Str(req.prefix()), Str(req.after()), limit);
  FlatBufferBuilder b;
  Offset<wire::KeyListReply> body;
  if (!page.ok()) {
    body = wire::CreateKeyListReply(b, protocol::ToWireStatus(b, page.status()));
  } else {
    std::vector<Offset<flatbuffers::String>> keys;
    for (const std::string& k : page->keys) keys.push_back(b.CreateString(k));
    auto next = page->more ? b.CreateString(page->keys.back()) : b.CreateString("");
    body = wire::CreateKeyListReply(b, 0, b.CreateVector(keys), next);
  }
  reply(Finish(b, id, wire::Body::KeyListReply, body.Union()), false);
}

void AdminRequests::DeadLetterList(const Connection& conn, uint64_t id,
                                   const wire::DeadLetterList& req, Reply reply) {
  std::optional<TenantId> tenant;
  if (req.tenant() != 0) tenant = TenantId{req.tenant()};
  size_t limit = req.limit() == 0 ? 100 : req.limit();
  absl::StatusOr<std::vector<DeadLetter>> letters;
  if (tenant || !conn.tenants) {
    letters = dispatcher_->ListDeadLetters(tenant, limit);
  } else {
    // Every tenant of a limited token: each one's oldest, merged by age.
    letters.emplace();
    for (TenantId t : *conn.tenants) {
      auto some = dispatcher_->ListDeadLetters(t, limit);
      if (!some.ok()) {
        letters = some.status();
        break;
      }
      for (DeadLetter& d : *some) letters->push_back(std::move(d));
    }
    if (letters.ok()) {
      std::stable_sort(
          letters->begin(), letters->end(),
          [](const DeadLetter& a, const DeadLetter& b) { return a.dead_at_ms < b.dead_at_ms; });
      if (letters->size() > limit) letters->resize(limit);
    }
  }
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
    out.push_back(
        wire::CreateDeadLetter(b, rem, d.attempts, b.CreateString(d.last_detail), d.dead_at_ms));
  }
  auto body = wire::CreateDeadLetterListReply(b, b.CreateVector(out));
  reply(Finish(b, id, wire::Body::DeadLetterListReply, body.Union()), false);
}

void AdminRequests::DeadLetterReplay(const Connection& conn, uint64_t id,
                                     const wire::DeadLetterReplay& req, Reply reply) {
  const auto* replay_keys = req.keys();
  if (absl::Status st = CheckCopyBudget(CopiedBytes(replay_keys), max_frame_bytes_); !st.ok()) {
    return reply(ErrorFrame(id, wire::ErrorCode::InvalidArgument, std::string(st.message())),
                 false);
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
    // Another tenant's key is refused in its place; the others go on.
    if (absl::Status st = CheckTenant(conn, wire::Body::DeadLetterReplay, keys[i].tenant);
        !st.ok()) {
      (*results)[i] = std::move(st);
      if (--*remaining == 0) finish();
      continue;
    }
    dispatcher_->ReplayDeadLetter(keys[i], [i, results, remaining, finish](absl::Status st) {
      (*results)[i] = st;
      if (--*remaining == 0) finish();
    });
  }
}

void AdminRequests::Backup(uint64_t id, std::string dir, Reply reply) {
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
  if (!post_) {
    answer(reply, engine_->store().Backup(dir));
    return;
  }
  JoinBackup();  // the previous one has finished (its reply was sent)
  backup_running_ = true;
  Store* store = &engine_->store();
  std::weak_ptr<bool> alive = alive_;
  backup_thread_ =
      std::thread([this, store, dir = std::move(dir), alive, answer, reply = std::move(reply),
                   post = post_, hook = before_backup_]() mutable {
        if (hook) hook();
        absl::Status st = store->Backup(dir);
        post([this, alive, answer, reply = std::move(reply), st] {
          auto a = alive.lock();
          if (!a || !*a) return;  // this is gone (shutting down)
          backup_running_ = false;
          answer(reply, st);
        });
      });
}

}  // namespace rappel::server
