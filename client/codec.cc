#include "client/codec.h"

namespace rappel::client::codec {

using flatbuffers::Offset;

namespace {

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

Reminder FromWire(const wire::Reminder* r) {
  Reminder out;
  if (r == nullptr) return out;
  out.tenant = r->tenant();
  out.key = Str(r->key());
  out.channel = static_cast<Channel>(r->channel());
  out.recipient = Str(r->recipient());
  out.due_ms = r->due_ms();
  out.expiry_ms = r->expiry_ms();
  if (r->payload() != nullptr) {
    out.payload.assign(reinterpret_cast<const char*>(r->payload()->data()), r->payload()->size());
  }
  return out;
}

Offset<flatbuffers::Vector<Offset<wire::ReminderKey>>> Keys(FlatBufferBuilder& b,
                                                            const std::vector<Key>& keys) {
  std::vector<Offset<wire::ReminderKey>> ks;
  ks.reserve(keys.size());
  for (const Key& k : keys) ks.push_back(wire::CreateReminderKey(b, k.tenant, b.CreateString(k.key)));
  return b.CreateVector(ks);
}

std::vector<absl::Status> Statuses(const flatbuffers::Vector<Offset<wire::Status>>* v) {
  std::vector<absl::Status> out;
  if (v != nullptr) {
    out.reserve(v->size());
    for (const wire::Status* s : *v) out.push_back(protocol::FromWireStatus(s));
  }
  return out;
}

}  // namespace

void EncodeHello(FlatBufferBuilder& b, uint64_t id, const Options& options) {
  auto hello = wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString(options.token),
                                 b.CreateString(options.client_name));
  protocol::FinishFrame(b, id, wire::Body::Hello, hello.Union());
}

void EncodeSchedule(FlatBufferBuilder& b, uint64_t id, const std::vector<Reminder>& reminders) {
  std::vector<Offset<wire::Reminder>> rs;
  rs.reserve(reminders.size());
  for (const Reminder& r : reminders) {
    auto key = b.CreateString(r.key);
    auto recipient = b.CreateString(r.recipient);
    auto payload =
        b.CreateVector(reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size());
    rs.push_back(wire::CreateReminder(b, r.tenant, key, static_cast<wire::Channel>(r.channel),
                                      recipient, r.due_ms, r.expiry_ms, payload));
  }
  auto body = wire::CreateSchedule(b, b.CreateVector(rs));
  protocol::FinishFrame(b, id, wire::Body::Schedule, body.Union());
}

void EncodeCancel(FlatBufferBuilder& b, uint64_t id, const std::vector<Key>& keys) {
  auto body = wire::CreateCancel(b, Keys(b, keys));
  protocol::FinishFrame(b, id, wire::Body::Cancel, body.Union());
}

void EncodeReschedule(FlatBufferBuilder& b, uint64_t id, const Key& key, int64_t due_ms) {
  auto k = wire::CreateReminderKey(b, key.tenant, b.CreateString(key.key));
  protocol::FinishFrame(b, id, wire::Body::Reschedule, wire::CreateReschedule(b, k, due_ms).Union());
}

void EncodePing(FlatBufferBuilder& b, uint64_t id) {
  protocol::FinishFrame(b, id, wire::Body::Ping, wire::CreatePing(b).Union());
}

void EncodeSubscribe(FlatBufferBuilder& b, uint64_t id, const Subscription& s) {
  std::vector<wire::Channel> cs;
  for (Channel c : s.channels) cs.push_back(static_cast<wire::Channel>(c));
  auto body = wire::CreateSubscribe(b, b.CreateVector(cs), s.max_in_flight, s.batch_size);
  protocol::FinishFrame(b, id, wire::Body::Subscribe, body.Union());
}

void EncodeAck(FlatBufferBuilder& b, uint64_t id, const std::vector<AckItem>& items) {
  std::vector<Offset<wire::AckItem>> is;
  is.reserve(items.size());
  for (const AckItem& i : items) {
    auto detail = i.detail.empty() ? Offset<flatbuffers::String>() : b.CreateString(i.detail);
    is.push_back(
        wire::CreateAckItem(b, i.lease_id, static_cast<wire::AckOutcome>(i.outcome), detail));
  }
  protocol::FinishFrame(b, id, wire::Body::Ack, wire::CreateAck(b, b.CreateVector(is)).Union());
}

void EncodeStats(FlatBufferBuilder& b, uint64_t id, uint32_t max_tenants) {
  protocol::FinishFrame(b, id, wire::Body::Stats, wire::CreateStats(b, max_tenants).Union());
}

void EncodeCompact(FlatBufferBuilder& b, uint64_t id) {
  protocol::FinishFrame(b, id, wire::Body::Compact, wire::CreateCompact(b).Union());
}

void EncodeInspect(FlatBufferBuilder& b, uint64_t id, const Key& key) {
  auto k = wire::CreateReminderKey(b, key.tenant, b.CreateString(key.key));
  protocol::FinishFrame(b, id, wire::Body::Inspect, wire::CreateInspect(b, k).Union());
}

void EncodeDeadLetterList(FlatBufferBuilder& b, uint64_t id, uint32_t tenant, uint32_t limit) {
  protocol::FinishFrame(b, id, wire::Body::DeadLetterList,
                        wire::CreateDeadLetterList(b, tenant, limit).Union());
}

void EncodeDeadLetterReplay(FlatBufferBuilder& b, uint64_t id, const std::vector<Key>& keys) {
  auto body = wire::CreateDeadLetterReplay(b, Keys(b, keys));
  protocol::FinishFrame(b, id, wire::Body::DeadLetterReplay, body.Union());
}

void EncodeBackup(FlatBufferBuilder& b, uint64_t id, const std::string& dir) {
  protocol::FinishFrame(b, id, wire::Body::Backup,
                        wire::CreateBackup(b, b.CreateString(dir)).Union());
}

std::vector<absl::StatusOr<ScheduleOutcome>> DecodeScheduleReply(const wire::Frame* f) {
  std::vector<absl::StatusOr<ScheduleOutcome>> out;
  if (const auto* results = f->body_as_ScheduleReply()->results()) {
    out.reserve(results->size());
    for (const wire::ScheduleResult* r : *results) {
      absl::Status st = protocol::FromWireStatus(r->status());
      if (st.ok()) {
        out.push_back(static_cast<ScheduleOutcome>(r->outcome()));
      } else {
        out.push_back(std::move(st));
      }
    }
  }
  return out;
}

std::vector<absl::Status> DecodeItemStatuses(const wire::Frame* f) {
  switch (f->body_type()) {
    case wire::Body::CancelReply:
      return Statuses(f->body_as_CancelReply()->results());
    case wire::Body::AckReply:
      return Statuses(f->body_as_AckReply()->results());
    case wire::Body::DeadLetterReplayReply:
      return Statuses(f->body_as_DeadLetterReplayReply()->results());
    default:
      return {};
  }
}

absl::Status DecodeStatusReply(const wire::Frame* f) {
  switch (f->body_type()) {
    case wire::Body::RescheduleReply:
      return protocol::FromWireStatus(f->body_as_RescheduleReply()->status());
    case wire::Body::SubscribeReply:
      return protocol::FromWireStatus(f->body_as_SubscribeReply()->status());
    case wire::Body::BackupReply:
      return protocol::FromWireStatus(f->body_as_BackupReply()->status());
    default:
      return absl::OkStatus();
  }
}

ServerStats DecodeStatsReply(const wire::Frame* f) {
  const wire::StatsReply& r = *f->body_as_StatsReply();
  ServerStats out;
  out.pending = r.pending();
  out.leased = r.leased();
  out.dead_letters = r.dead_letters();
  out.log_records = r.log_records();
  out.store_used_bytes = r.store_used_bytes();
  out.commits = r.commits();
  out.fatal_error = Str(r.fatal_error());
  auto channels = [](const flatbuffers::Vector<Offset<wire::ChannelCount>>* v, uint64_t* counts) {
    if (v == nullptr) return;
    for (const wire::ChannelCount* c : *v) {
      auto i = static_cast<size_t>(c->channel());
      if (i < 5) counts[i] = c->pending();
    }
  };
  channels(r.by_channel(), out.ready_by_channel);
  channels(r.live_by_channel(), out.live_by_channel);
  if (r.by_tenant() != nullptr) {
    for (const wire::TenantCount* t : *r.by_tenant()) {
      out.by_tenant.push_back({t->tenant(), t->live(), t->dead_letters()});
    }
  }
  out.tenants = r.tenants();
  out.due_next_hour = r.due_next_hour();
  out.due_next_day = r.due_next_day();
  out.live_records = r.live_records();
  out.live_bytes = r.live_bytes();
  out.log_bytes = r.log_bytes();
  out.store_map_bytes = r.store_map_bytes();
  out.records_appended = r.records_appended();
  out.batches_committed = r.batches_committed();
  out.max_records_per_commit = r.max_records_per_commit();
  out.max_batches_per_commit = r.max_batches_per_commit();
  out.retrying = r.retrying();
  out.dead_letters_dropped = r.dead_letters_dropped();
  out.compaction_steps = r.compaction_steps();
  return out;
}

absl::StatusOr<CompactResult> DecodeCompactReply(const wire::Frame* f) {
  const wire::CompactReply& r = *f->body_as_CompactReply();
  if (absl::Status st = protocol::FromWireStatus(r.status()); !st.ok()) return st;
  return CompactResult{r.log_records_before(), r.log_bytes_before(), r.log_records_after(),
                       r.log_bytes_after(),    r.live_records(),     r.relocated(),
                       r.store_used_bytes()};
}

absl::StatusOr<ReminderState> DecodeInspectReply(const wire::Frame* f) {
  const wire::InspectReply* r = f->body_as_InspectReply();
  if (absl::Status st = protocol::FromWireStatus(r->status()); !st.ok()) return st;
  return ReminderState{FromWire(r->reminder()), r->version(), r->leased()};
}

std::vector<DeadLetter> DecodeDeadLetterListReply(const wire::Frame* f) {
  std::vector<DeadLetter> out;
  if (const auto* letters = f->body_as_DeadLetterListReply()->letters()) {
    for (const wire::DeadLetter* d : *letters) {
      out.push_back(DeadLetter{FromWire(d->reminder()), d->attempts(), Str(d->last_detail()),
                               d->dead_at_ms()});
    }
  }
  return out;
}

std::vector<Message> DecodeDelivery(const wire::Frame* f) {
  std::vector<Message> out;
  if (const auto* messages = f->body_as_Delivery()->messages()) {
    out.reserve(messages->size());
    for (const wire::Message* m : *messages) {
      out.push_back(Message{Str(m->message_id()), m->lease_id(), m->attempt(),
                            m->lease_deadline_ms(), FromWire(m->reminder())});
    }
  }
  return out;
}

}  // namespace rappel::client::codec
