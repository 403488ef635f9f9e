#include "client/codec.h"

#include "absl/strings/str_cat.h"

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

Offset<wire::Appointment> ToWire(FlatBufferBuilder& b, const AppointmentInput& a) {
  auto id = b.CreateString(a.id);
  auto calendar = b.CreateString(a.calendar);
  auto type = b.CreateString(a.type);
  auto patient = b.CreateString(a.patient);
  auto location = b.CreateString(a.location);
  auto notes = b.CreateString(a.notes);
  return wire::CreateAppointment(b, a.tenant, id, calendar, type, patient, a.start_ms, a.end_ms,
                                 location, notes, a.booked_online, a.booked_at_ms, a.channels,
                                 a.version);
}

absl::StatusOr<AppointmentResult> FromWire(const wire::AppointmentResult* r) {
  if (r == nullptr) return absl::DataLossError("rappeld sent an empty appointment result");
  if (absl::Status st = protocol::FromWireStatus(r->status()); !st.ok()) return st;
  return AppointmentResult{static_cast<UpsertOutcome>(r->outcome()), r->revision(), r->planned()};
}

const flatbuffers::Vector<Offset<wire::AppointmentResult>>* AppointmentResults(
    const wire::Frame* f) {
  switch (f->body_type()) {
    case wire::Body::AppointmentUpsertReply:
      return f->body_as_AppointmentUpsertReply()->results();
    case wire::Body::AppointmentCommandsReply:
      return f->body_as_AppointmentCommandsReply()->results();
    default:
      return nullptr;
  }
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

void EncodeKeyList(FlatBufferBuilder& b, uint64_t id, const KeyListQuery& q) {
  auto prefix = b.CreateString(q.prefix);
  auto after = b.CreateString(q.after);
  protocol::FinishFrame(b, id, wire::Body::KeyList,
                        wire::CreateKeyList(b, q.tenant, prefix, after, q.limit).Union());
}

void EncodeDeadLetterList(FlatBufferBuilder& b, uint64_t id, uint32_t tenant, uint32_t limit) {
  protocol::FinishFrame(b, id, wire::Body::DeadLetterList,
                        wire::CreateDeadLetterList(b, tenant, limit).Union());
}

void EncodeRateLimitSet(FlatBufferBuilder& b, uint64_t id, const std::vector<RateLimit>& limits) {
  std::vector<Offset<wire::RateLimit>> ls;
  ls.reserve(limits.size());
  for (const RateLimit& l : limits) {
    ls.push_back(wire::CreateRateLimit(b, static_cast<wire::Channel>(l.channel), l.tenant,
                                       l.all_tenants, l.count, l.period_ms, l.burst));
  }
  auto body = wire::CreateRateLimitSet(b, b.CreateVector(ls));
  protocol::FinishFrame(b, id, wire::Body::RateLimitSet, body.Union());
}

void EncodeRateList(FlatBufferBuilder& b, uint64_t id, uint32_t max_rows) {
  protocol::FinishFrame(b, id, wire::Body::RateList, wire::CreateRateList(b, max_rows).Union());
}

void EncodeDeadLetterReplay(FlatBufferBuilder& b, uint64_t id, const std::vector<Key>& keys) {
  auto body = wire::CreateDeadLetterReplay(b, Keys(b, keys));
  protocol::FinishFrame(b, id, wire::Body::DeadLetterReplay, body.Union());
}

void EncodeBackup(FlatBufferBuilder& b, uint64_t id, const std::string& dir) {
  protocol::FinishFrame(b, id, wire::Body::Backup,
                        wire::CreateBackup(b, b.CreateString(dir)).Union());
}

void EncodeObjectPut(FlatBufferBuilder& b, uint64_t id, ObjectKind kind, uint32_t tenant,
                     const std::string& object_id, const std::string& json) {
  auto oid = b.CreateString(object_id);
  auto doc = b.CreateString(json);
  auto body = wire::CreateObjectPut(b, static_cast<wire::ObjectKind>(kind), tenant, oid, doc);
  protocol::FinishFrame(b, id, wire::Body::ObjectPut, body.Union());
}

void EncodeObjectGet(FlatBufferBuilder& b, uint64_t id, ObjectKind kind, uint32_t tenant,
                     const std::string& object_id) {
  auto oid = b.CreateString(object_id);
  auto body = wire::CreateObjectGet(b, static_cast<wire::ObjectKind>(kind), tenant, oid);
  protocol::FinishFrame(b, id, wire::Body::ObjectGet, body.Union());
}

void EncodeAppointmentUpsert(FlatBufferBuilder& b, uint64_t id,
                             const std::vector<AppointmentInput>& items) {
  std::vector<Offset<wire::Appointment>> as;
  as.reserve(items.size());
  for (const AppointmentInput& a : items) as.push_back(ToWire(b, a));
  auto body = wire::CreateAppointmentUpsert(b, b.CreateVector(as));
  protocol::FinishFrame(b, id, wire::Body::AppointmentUpsert, body.Union());
}

void EncodeAppointmentCommands(FlatBufferBuilder& b, uint64_t id,
                               const std::vector<AppointmentCommand>& items) {
  std::vector<Offset<wire::AppointmentCommand>> cs;
  cs.reserve(items.size());
  for (const AppointmentCommand& c : items) {
    cs.push_back(wire::CreateAppointmentCommand(
        b, c.tenant, b.CreateString(c.id), static_cast<wire::AppointmentAction>(c.action),
        static_cast<wire::VisitStatus>(c.status), c.version,
        c.kind.empty() ? 0 : b.CreateString(c.kind)));
  }
  auto body = wire::CreateAppointmentCommands(b, b.CreateVector(cs));
  protocol::FinishFrame(b, id, wire::Body::AppointmentCommands, body.Union());
}

void EncodeCalendarAbsence(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                           const std::string& calendar, int64_t from_ms, int64_t to_ms) {
  auto body = wire::CreateCalendarAbsence(b, tenant, b.CreateString(calendar), from_ms, to_ms);
  protocol::FinishFrame(b, id, wire::Body::CalendarAbsence, body.Union());
}

void EncodeDelayAlert(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                      const std::string& calendar, int64_t delay_ms) {
  auto body = wire::CreateDelayAlert(b, tenant, b.CreateString(calendar), delay_ms);
  protocol::FinishFrame(b, id, wire::Body::DelayAlert, body.Union());
}

void EncodePatientReply(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                        const std::string& patient, const std::string& appointment,
                        PatientReplyKind kind) {
  auto p = b.CreateString(patient);
  auto a = b.CreateString(appointment);
  auto body =
      wire::CreatePatientReply(b, tenant, p, a, static_cast<wire::PatientReplyKind>(kind));
  protocol::FinishFrame(b, id, wire::Body::PatientReply, body.Union());
}

void EncodeTokenRedeem(FlatBufferBuilder& b, uint64_t id, const std::string& token) {
  auto body = wire::CreateTokenRedeem(b, b.CreateString(token));
  protocol::FinishFrame(b, id, wire::Body::TokenRedeem, body.Union());
}

void EncodeAppointmentShow(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                           const std::string& appointment, const AppointmentInput* hypothetical) {
  auto a = b.CreateString(appointment);
  auto h = hypothetical != nullptr ? ToWire(b, *hypothetical) : Offset<wire::Appointment>();
  auto body = wire::CreateAppointmentShow(b, tenant, a, h);
  protocol::FinishFrame(b, id, wire::Body::AppointmentShow, body.Union());
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
    case wire::Body::RateLimitSetReply:
      return protocol::FromWireStatus(f->body_as_RateLimitSetReply()->status());
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
  out.rate_waiting = r.rate_waiting();
  channels(r.rate_waiting_by_channel(), out.rate_waiting_by_channel);
  if (const wire::ReplicationState* rs = r.replication()) {
    ReplicationState& o = out.replication;
    // An unknown role (a newer server) reads as Single.
    o.role = rs->shard_role() <= wire::ShardRole::MAX ? static_cast<ShardRole>(rs->shard_role())
                                                      : ShardRole::kSingle;
    o.leader = Str(rs->leader());
    o.term = rs->term();
    o.index = rs->index();
    o.commit_ms = rs->commit_ms();
    o.streaming = rs->streaming();
    o.last_error = Str(rs->last_error());
    if (rs->standbys() != nullptr) {
      for (const wire::StandbyPosition* sp : *rs->standbys()) {
        o.standbys.push_back({Str(sp->node()), sp->term(), sp->index()});
      }
    }
  }
  out.rate_late = r.rate_late();
  out.rate_expired = r.rate_expired();
  return out;
}

RateList DecodeRateListReply(const wire::Frame* f) {
  const wire::RateListReply& r = *f->body_as_RateListReply();
  RateList out;
  out.truncated = r.truncated();
  if (r.rows() != nullptr) {
    out.rows.reserve(r.rows()->size());
    for (const wire::RateRow* row : *r.rows()) {
      RateState s;
      if (const wire::RateLimit* l = row->limit()) {
        s.limit = RateLimit{static_cast<Channel>(l->channel()), l->all_tenants(), l->tenant(),
                            l->count(), l->period_ms(), l->burst()};
      }
      s.tokens = row->tokens();
      s.waiting = row->waiting();
      s.late = row->late();
      s.expired = row->expired();
      out.rows.push_back(s);
    }
  }
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

absl::StatusOr<KeyPage> DecodeKeyListReply(const wire::Frame* f) {
  const wire::KeyListReply* r = f->body_as_KeyListReply();
  if (absl::Status st = protocol::FromWireStatus(r->status()); !st.ok()) return st;
  KeyPage page;
  if (r->keys() != nullptr) {
    for (const flatbuffers::String* k : *r->keys()) page.keys.push_back(Str(k));
  }
  page.next_cursor = Str(r->next_cursor());
  return page;
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
                            m->lease_deadline_ms(), FromWire(m->reminder()), m->track_opens()});
    }
  }
  return out;
}

void EncodeCredits(FlatBufferBuilder& b, uint64_t id, uint32_t tenant, int64_t add) {
  protocol::FinishFrame(b, id, wire::Body::Credits, wire::CreateCredits(b, tenant, add).Union());
}

void EncodeOutcomeReport(FlatBufferBuilder& b, uint64_t id, const std::vector<OutcomeItem>& items) {
  std::vector<Offset<wire::OutcomeItem>> is;
  is.reserve(items.size());
  for (const OutcomeItem& i : items) {
    auto mid = b.CreateString(i.message_id);
    auto detail = b.CreateString(i.detail);
    is.push_back(wire::CreateOutcomeItem(b, mid, static_cast<wire::LateOutcome>(i.outcome), detail));
  }
  protocol::FinishFrame(b, id, wire::Body::OutcomeReport,
                        wire::CreateOutcomeReport(b, b.CreateVector(is)).Union());
}

std::vector<absl::StatusOr<bool>> DecodeOutcomeReportReply(const wire::Frame* f) {
  std::vector<absl::StatusOr<bool>> out;
  if (const auto* results = f->body_as_OutcomeReportReply()->results()) {
    out.reserve(results->size());
    for (const wire::OutcomeResult* r : *results) {
      absl::Status st = protocol::FromWireStatus(r->status());
      if (st.ok()) {
        out.push_back(r->changed());
      } else {
        out.push_back(std::move(st));
      }
    }
  }
  return out;
}

void EncodeMessageSummary(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                          const std::string& from_day, const std::string& to_day) {
  auto from = b.CreateString(from_day);
  auto to = b.CreateString(to_day);
  protocol::FinishFrame(b, id, wire::Body::MessageSummary,
                        wire::CreateMessageSummary(b, tenant, from, to).Union());
}

void EncodeMessageList(FlatBufferBuilder& b, uint64_t id, const MessageListQuery& q) {
  auto day = b.CreateString(q.day);
  auto patient = b.CreateString(q.patient);
  auto appointment = b.CreateString(q.appointment);
  auto kind = b.CreateString(q.kind);
  auto status = b.CreateString(q.status);
  auto cursor = b.CreateString(q.cursor);
  protocol::FinishFrame(
      b, id, wire::Body::MessageList,
      wire::CreateMessageList(b, q.tenant, day, patient, appointment,
                              static_cast<wire::Channel>(q.channel), kind, status, q.limit, cursor)
          .Union());
}

absl::StatusOr<std::string> DecodeJsonReply(const wire::Frame* f) {
  const wire::Status* status = nullptr;
  const flatbuffers::String* json = nullptr;
  switch (f->body_type()) {
    case wire::Body::ObjectReply:
      status = f->body_as_ObjectReply()->status();
      json = f->body_as_ObjectReply()->json();
      break;
    case wire::Body::AppointmentShowReply:
      status = f->body_as_AppointmentShowReply()->status();
      json = f->body_as_AppointmentShowReply()->json();
      break;
    default:
      return absl::DataLossError("rappeld answered with the wrong reply type");
  }
  if (absl::Status st = protocol::FromWireStatus(status); !st.ok()) return st;
  return Str(json);
}

std::vector<absl::StatusOr<AppointmentResult>> DecodeAppointmentResults(const wire::Frame* f) {
  std::vector<absl::StatusOr<AppointmentResult>> out;
  if (const auto* results = AppointmentResults(f)) {
    out.reserve(results->size());
    for (const wire::AppointmentResult* r : *results) out.push_back(FromWire(r));
  }
  return out;
}

absl::StatusOr<AppointmentResult> DecodeSingleAppointmentResult(const wire::Frame* f) {
  const auto* results = AppointmentResults(f);
  size_t n = results != nullptr ? results->size() : 0;
  if (n != 1) {
    return absl::DataLossError(
        absl::StrCat("rappeld answered with ", n, " appointment results instead of one"));
  }
  return FromWire(results->Get(0));
}

absl::StatusOr<uint32_t> DecodeCalendarReply(const wire::Frame* f) {
  const wire::CalendarReply* r = f->body_as_CalendarReply();
  if (r == nullptr) return absl::DataLossError("rappeld answered with the wrong reply type");
  if (absl::Status st = protocol::FromWireStatus(r->status()); !st.ok()) return st;
  return r->affected();
}

absl::StatusOr<TokenRedeemResult> DecodeTokenRedeemReply(const wire::Frame* f) {
  const wire::TokenRedeemReply* r = f->body_as_TokenRedeemReply();
  if (r == nullptr) return absl::DataLossError("rappeld answered with the wrong reply type");
  if (absl::Status st = protocol::FromWireStatus(r->status()); !st.ok()) return st;
  return TokenRedeemResult{r->tenant(), Str(r->appointment()), Str(r->action())};
}

}  // namespace rappel::client::codec
