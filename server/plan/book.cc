#include "server/plan/book.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "date/tz.h"
#include "nlohmann/json.hpp"
#include "server/common/check.h"
#include "server/common/bytes.h"
#include "server/plan/audit.h"
#include "server/plan/objects_json.h"
#include "server/plan/planner.h"
#include "server/plan/render.h"
#include "server/plan/token.h"

namespace rappel::server::plan {
namespace {

using nlohmann::json;

const char* OutcomeName(AckOutcome o) {
  switch (o) {
    case AckOutcome::kSent: return "sent";
    case AckOutcome::kDelivered: return "delivered";
    case AckOutcome::kOpened: return "opened";
    case AckOutcome::kFailedRetryable: return "failed (will retry)";
    case AckOutcome::kFailedPermanent: return "failed";
  }
  return "?";
}

// Statuses that end the "upcoming" part of an appointment (seed 004).
bool StopsPreVisit(MessageKind k) {
  switch (k) {
    case MessageKind::kPostVisit:
    case MessageKind::kRecall:
    case MessageKind::kPractitioner:
      return false;
    default:
      return true;
  }
}

bool IsNotice(MessageKind k) {
  switch (k) {
    case MessageKind::kConfirmation:
    case MessageKind::kChange:
    case MessageKind::kCancellation:
    case MessageKind::kPatientCancelAck:
    case MessageKind::kConfirmAck:
    case MessageKind::kPractitioner:
    case MessageKind::kDelayAlert:
      return true;
    default:
      return false;
  }
}

// Whether a pending notice of an earlier event stays when the appointment is
// re-planned: yes, unless a newer notice of its kind replaces it (a second
// change, a second delay alert) or the appointment is now cancelled and it
// is not about the cancellation.
bool NoticeOutlivesReplan(MessageKind k, const Appointment& a, KindMask planned_kinds) {
  if (!IsNotice(k)) return false;
  if (IsCancelled(a.lifecycle)) {
    return k == MessageKind::kCancellation || k == MessageKind::kPatientCancelAck ||
           k == MessageKind::kPractitioner;
  }
  if (k == MessageKind::kChange || k == MessageKind::kDelayAlert) {
    return (planned_kinds & KindBit(k)) == 0;
  }
  return true;
}

// Cancelled appointments still send the notices about the cancellation.
bool AfterCancellation(MessageKind k) {
  return k == MessageKind::kCancellation || k == MessageKind::kPatientCancelAck ||
         k == MessageKind::kPractitioner;
}

}  // namespace

AppointmentBook::AppointmentBook(Engine* engine, BookOptions options)
    : engine_(engine),
      options_(options),
      log_(engine, {options.min_record_garbage, options.records_per_compaction},
           [this](Change change, std::function<void(absl::Status)> done) {
             Submit(std::move(change), std::move(done));
           }) {}

absl::StatusOr<std::unique_ptr<AppointmentBook>> AppointmentBook::Open(Engine* engine,
                                                                       BookOptions options) {
  std::unique_ptr<AppointmentBook> book(new AppointmentBook(engine, options));
  if (absl::Status st = book->Load(); !st.ok()) return st;
  return book;
}

absl::Status AppointmentBook::Load() {
  auto reader = engine_->store().NewReader();
  if (!reader.ok()) return reader.status();
  if (absl::Status st = registry_.Load(*reader); !st.ok()) return st;
  if (absl::Status st = credits_.Load(*reader); !st.ok()) return st;
  return log_.Load(*reader);
}

absl::Status AppointmentBook::Replan(Entry& entry, Event event, std::string_view why,
                                     Change& change) {
  Appointment& a = entry.appt;
  const Tenant* tenant = registry_.FindTenant(a.tenant);
  const Calendar* cal = registry_.FindCalendar(a.tenant, a.calendar);
  const AppointmentType* type = registry_.FindType(a.tenant, a.type);
  const Patient* patient = registry_.FindPatient(a.tenant, a.patient);
  if (tenant == nullptr || cal == nullptr || type == nullptr || patient == nullptr) {
    return absl::FailedPreconditionError("the appointment refers to an object since deleted");
  }
  PlanInput input{*tenant, *cal, *type, *patient, a, event,
                  change.now, /*omit_tenant_channels=*/false};
  input.stopped_channels = registry_.StoppedChannels(*patient);
  PlanResult plan = Plan(input);
  change.Touch(ObjKey(a.tenant, a.id));
  std::string audit;
  std::vector<PlanRef> next;
  next.reserve(plan.messages.size());
  MessageRef ref{a.revision, static_cast<uint32_t>(std::clamp<int64_t>(a.delay_ms, 0, UINT32_MAX))};
  std::string payload = EncodeMessageRef(ref);
  auto has_twin = [&](const PlannedMessage& m, Channel c) {
    for (const PlannedMessage& o : plan.messages) {
      if (o.kind == m.kind && o.channel == c && o.occurrence == m.occurrence) return true;
    }
    return false;
  };
  for (const PlannedMessage& planned : plan.messages) {
    const PlannedMessage* m = &planned;
    if (m->due_ms - change.now > options_.horizon_ms) {
      AppendAuditLine(&audit, change.now, "omitted", m->kind, m->channel, m->occurrence, m->due_ms,
                "beyond the horizon");
      continue;
    }
    PlanRef* prev = nullptr;
    for (PlanRef& old : entry.plan) {
      if (old.kind == m->kind && old.channel == m->channel && old.occurrence == m->occurrence) {
        prev = &old;
        break;
      }
    }
    // Already pending as planned (same message, same time): the engine keeps
    // it as it is, with its reservation. A status change, a confirmation or
    // an update of the notes then writes nothing but the appointment's
    // record. (Its text and address are taken when it is handed out, so
    // nothing in it is stale.)
    if (prev != nullptr && prev->due_ms == m->due_ms) {
      next.push_back(*prev);
      continue;
    }
    PlanRef out{m->kind, m->channel, m->occurrence, m->due_ms};
    if (m->moved_by_quiet_hours) out.flags |= PlanRef::kMovedByQuietHours;
    // A moved message replaces its older version: its credits go back first.
    if (prev != nullptr && credits_.Release(a.tenant, *prev)) change.LedgerChanged(a.tenant);
    std::string note(EventName(event));
    PlannedMessage fallback;
    if (tenant->metered && IsPaid(m->channel)) {
      std::string also = m->channel == Channel::kSms
                             ? households_.Note(entry, households_.Companions(entry, m->kind, m->occurrence))
                             : std::string();
      auto rendered = RenderFor(entry, m->kind, m->channel, also, ref.delay_ms, change.now,
                                /*text_only=*/true);
      out.credits = rendered.ok() ? MessageCost(*tenant, m->channel, rendered->text) : 1;
      // (Written even when nothing moved: a balance under the alert
      // threshold is noticed here.)
      change.LedgerChanged(a.tenant);
      if (credits_.Reserve(a.tenant, out, out.credits)) {
        absl::StrAppend(&note, "; ", out.credits, " credit(s) reserved");
      } else if (tenant->credit_fallback_email && has_twin(*m, Channel::kEmail)) {
        AppendAuditLine(&audit, change.now, "omitted", m->kind, m->channel, m->occurrence, m->due_ms,
                  absl::StrCat("not enough credit (", out.credits, " needed, ",
                               credits_.available(a.tenant),
                               " available): the e-mail of this message goes"));
        continue;
      } else if (tenant->credit_fallback_email && !patient->email.empty() &&
                 !has_twin(*m, Channel::kEmail) && m->kind != MessageKind::kPractitioner) {
        // Not enough credit: the same message by e-mail instead (free).
        fallback = *m;
        fallback.channel = Channel::kEmail;
        fallback.recipient = patient->email;
        AppendAuditLine(&audit, change.now, "omitted", m->kind, m->channel, m->occurrence, m->due_ms,
                  absl::StrCat("not enough credit (", out.credits, " needed, ",
                               credits_.available(a.tenant), " available): by e-mail instead"));
        m = &fallback;
        out = PlanRef{m->kind, m->channel, m->occurrence, m->due_ms};
        if (m->moved_by_quiet_hours) out.flags |= PlanRef::kMovedByQuietHours;
      } else {
        absl::StrAppend(&note, "; not enough credit yet (", out.credits, " needed, ",
                        credits_.available(a.tenant), " available)");
      }
    }
    next.push_back(out);
    AppendAuditLine(&audit, change.now, "planned", m->kind, m->channel, m->occurrence, m->due_ms, note);
    change.Schedule(ReminderSpec{TenantId{a.tenant}, MessageKey(a.id, m->kind, m->channel, m->occurrence),
                                 m->channel, m->recipient,
                                 m->due_ms, m->expiry_ms, payload});
  }
  KindMask planned_kinds = 0;
  for (const PlannedMessage& m : plan.messages) planned_kinds |= KindBit(m.kind);
  // The messages of the old plan that the new one does not keep (plans are
  // a handful of messages: a linear search beats hashing their keys).
  size_t planned = next.size();
  for (PlanRef& old : entry.plan) {
    bool kept = false;
    for (size_t i = 0; i < planned && !kept; ++i) {
      kept = next[i].kind == old.kind && next[i].channel == old.channel &&
             next[i].occurrence == old.occurrence;
    }
    if (kept) continue;
    if (NoticeOutlivesReplan(old.kind, a, planned_kinds)) {
      // Not yet sent: a later event does not take it back (a confirmation
      // still goes after a notes update); it is rendered as things are then.
      next.push_back(old);
      continue;
    }
    if (credits_.Release(a.tenant, old)) change.LedgerChanged(a.tenant);
    AppendAuditLine(&audit, change.now, "dropped", old.kind, old.channel, old.occurrence, old.due_ms,
              why);
    change.Drop(ReminderKey{TenantId{a.tenant}, MessageKey(a.id, old.kind, old.channel, old.occurrence)});
  }
  if (event != Event::kUpdated) {
    for (const Omission& o : plan.omitted) {
      AppendAuditLine(&audit, change.now, "omitted", o.kind, o.channel, 0, 0, o.reason);
    }
  }
  entry.plan = std::move(next);
  if (!audit.empty()) change.Write(log_.NewAudit(entry, std::move(audit)));
  change.Write(log_.RecordWrite(entry, change));
  return absl::OkStatus();
}

void AppointmentBook::Submit(Change change, std::function<void(absl::Status)> done) {
  for (uint32_t tenant : change.ledgers) {
    if (const Tenant* t = registry_.FindTenant(tenant)) {
      credits_.Write(*t, &change.writes, &change.schedule);
    }
  }
  std::vector<std::string> touched = std::move(change.touched);
  engine_->Mutate(std::move(change.schedule), std::move(change.drop), std::move(change.writes),
                  [this, touched = std::move(touched), ledgers = std::move(change.ledgers),
                   records = std::move(change.records), done = std::move(done)](absl::Status st) {
                    if (st.ok()) {
                      log_.Committed(records);
                    } else {
                      log_.Reload(touched);
                      credits_.Reload(ledgers);
                    }
                    done(std::move(st));
                  });
  log_.MaybeCompact();
}

template <typename T, typename Done>
void AppointmentBook::SubmitThen(Change change, T value, Done done) {
  Submit(std::move(change), [value = std::move(value), done = std::move(done)](absl::Status st) mutable {
    if (!st.ok()) return done(st);
    done(std::move(value));
  });
}

void AppointmentBook::SubmitResults(
    Change change, std::shared_ptr<std::vector<absl::StatusOr<AppointmentResult>>> results,
    ResultsDone done) {
  Submit(std::move(change), [results, done = std::move(done)](absl::Status st) {
    if (!st.ok()) {
      for (auto& r : *results) {
        if (r.ok()) r = st;
      }
    }
    done(std::move(*results));
  });
}

template <typename Done>
void AppointmentBook::Refuse(absl::Status st, Done done) {
  engine_->WriteState({}, [st = std::move(st), done = std::move(done)](absl::Status) mutable {
    done(st);
  });
}

// --- configuration objects ------------------------------------------------

void AppointmentBook::PutObject(ObjectKind kind, uint32_t tenant, std::string id,
                                std::string_view text, ObjectDone done) {
  auto put = registry_.PreparePut(kind, tenant, std::move(id), text);
  if (!put.ok()) return Refuse(put.status(), std::move(done));
  // Objects are applied once durable: nothing refers to them before.
  engine_->WriteState(std::move(put->writes),
                      [apply = std::move(put->apply), shown = std::move(put->shown),
                       done = std::move(done)](absl::Status st) mutable {
                        if (!st.ok()) return done(st);
                        apply();
                        done(std::move(shown));
                      });
}

absl::StatusOr<std::string> AppointmentBook::GetObject(ObjectKind kind, uint32_t tenant,
                                                       const std::string& id) const {
  return registry_.Get(kind, tenant, id);
}

// --- appointment events ---------------------------------------------------

absl::StatusOr<AppointmentResult> AppointmentBook::ApplyUpsert(Appointment in, Change& change) {
  if (in.id.empty() || in.id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an appointment id is 1 to ", kMaxIdBytes, " bytes"));
  }
  // Its audit lines are stored under "au/<tenant><id>\0": an id holding a
  // NUL would read (and reclaim) another appointment's trail.
  if (in.id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("an appointment id cannot hold a NUL byte");
  }
  if (registry_.FindTenant(in.tenant) == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown tenant ", in.tenant));
  }
  if (registry_.FindCalendar(in.tenant, in.calendar) == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown calendar \"", in.calendar, "\""));
  }
  const AppointmentType* type = registry_.FindType(in.tenant, in.type);
  if (type == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown appointment type \"", in.type, "\""));
  }
  if (registry_.FindPatient(in.tenant, in.patient) == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown patient \"", in.patient, "\""));
  }
  if (in.end_ms < in.start_ms) {
    return absl::InvalidArgumentError("the appointment ends before it starts");
  }
  if (in.start_ms <= 0) return absl::InvalidArgumentError("no start time");
  if (in.location.size() > 1024 || in.notes.size() > 4096) {
    return absl::InvalidArgumentError("location or notes too long (1 KiB, 4 KiB)");
  }
  Entry* found = log_.Find(in.tenant, in.id);
  Event event;
  UpsertOutcome outcome;
  if (found == nullptr) {
    if (!type->active) {
      return absl::FailedPreconditionError(absl::StrCat(
          "appointment type \"", in.type, "\" is inactive: it cannot be booked"));
    }
    Entry e;
    std::string obj = ObjKey(in.tenant, in.id);
    e.appt = std::move(in);  // numbered when its record is written (RecordWrite)
    Appointment& a = e.appt;
    if (a.booked_at_ms == 0) a.booked_at_ms = change.now;
    a.revision = 1;
    a.lifecycle = Lifecycle::kActive;
    a.status = VisitStatus::kNone;
    found = &log_.Add(obj, std::move(e));
    event = Event::kCreated;
    outcome = UpsertOutcome::kCreated;
  } else {
    Appointment& a = found->appt;
    if (in.version < a.version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "stale: version ", in.version, " is older than the version held, ", a.version));
    }
    if (in.version == a.version) {
      return AppointmentResult{UpsertOutcome::kUnchanged, a.revision,
                               static_cast<uint32_t>(found->plan.size())};
    }
    log_.Index(*found, false);
    bool rebooked = IsCancelled(a.lifecycle);
    bool moved = a.start_ms != in.start_ms || a.end_ms != in.end_ms ||
                 a.calendar != in.calendar || a.location != in.location ||
                 a.patient != in.patient ||
                 (a.type != in.type &&
                  registry_.FindType(a.tenant, a.type)->mode != type->mode);
    a.version = in.version;
    a.calendar = std::move(in.calendar);
    a.type = std::move(in.type);
    a.patient = std::move(in.patient);
    a.start_ms = in.start_ms;
    a.end_ms = in.end_ms;
    a.location = std::move(in.location);
    a.notes = std::move(in.notes);
    a.booked_online = in.booked_online;
    if (in.booked_at_ms != 0) a.booked_at_ms = in.booked_at_ms;
    a.channels = in.channels;
    ++a.revision;
    if (rebooked) {
      // A cancelled appointment booked again: a fresh start.
      a.lifecycle = Lifecycle::kActive;
      a.status = VisitStatus::kNone;
      a.confirmed = false;
      a.arrived = false;
      event = Event::kCreated;
      outcome = UpsertOutcome::kModified;
    } else if (moved) {
      a.confirmed = false;  // a confirmation was for the old time
      event = Event::kModified;
      outcome = UpsertOutcome::kModified;
    } else {
      event = Event::kUpdated;
      outcome = UpsertOutcome::kUpdated;
    }
  }
  // (A new entry is indexed here; a changed one was taken out above.)
  Entry& e = *found;
  log_.Index(e, true);
  if (absl::Status st = Replan(e, event, EventName(event), change); !st.ok()) return st;
  return AppointmentResult{outcome, e.appt.revision, static_cast<uint32_t>(e.plan.size())};
}

void AppointmentBook::Upsert(std::vector<Appointment> items, ResultsDone done) {
  Change change;
  change.now = engine_->NowMs();
  auto results = std::make_shared<std::vector<absl::StatusOr<AppointmentResult>>>();
  results->reserve(items.size());
  for (Appointment& a : items) results->push_back(ApplyUpsert(std::move(a), change));
  SubmitResults(std::move(change), std::move(results), std::move(done));
}

absl::StatusOr<AppointmentResult> AppointmentBook::ApplyCommand(Entry& e,
                                                                const AppointmentCommand& c,
                                                                Change& change) {
  Appointment& a = e.appt;
  if (c.version != 0 && c.version < a.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "stale: version ", c.version, " is older than the version held, ", a.version));
  }
  if (IsCancelled(a.lifecycle) && c.action != AppointmentAction::kSetStatus) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the appointment is already cancelled (", std::string(LifecycleName(a.lifecycle)), ")"));
  }
  Event event = Event::kStatusChanged;
  switch (c.action) {
    case AppointmentAction::kCancelByPractitioner:
      a.lifecycle = Lifecycle::kCancelledByPractitioner;
      event = Event::kCancelled;
      break;
    case AppointmentAction::kToReschedule:
      a.lifecycle = Lifecycle::kToReschedule;
      event = Event::kCancelled;
      break;
    case AppointmentAction::kCancelByPatient:
      a.lifecycle = Lifecycle::kCancelledByPatient;
      event = Event::kPatientCancelled;
      break;
    case AppointmentAction::kConfirm:
      if (a.confirmed) {
        return AppointmentResult{UpsertOutcome::kUnchanged, a.revision,
                                 static_cast<uint32_t>(e.plan.size())};
      }
      a.confirmed = true;
      event = Event::kConfirmed;
      break;
    case AppointmentAction::kArrived:
      a.arrived = true;
      [[fallthrough]];
    case AppointmentAction::kSetStatus: {
      VisitStatus next = c.action == AppointmentAction::kArrived ? VisitStatus::kWaitingRoom : c.status;
      if (next == a.status) {
        return AppointmentResult{UpsertOutcome::kUnchanged, a.revision,
                                 static_cast<uint32_t>(e.plan.size())};
      }
      // Attendance, kept from the statuses rappel is told: a visit counts
      // once it is seen or absent; an absence is a no-show (excused is not).
      auto counts = [](VisitStatus s) {
        return std::pair<int, int>{s == VisitStatus::kSeen || s == VisitStatus::kAbsent,
                                   s == VisitStatus::kAbsent};
      };
      auto [old_visits, old_noshows] = counts(a.status);
      auto [new_visits, new_noshows] = counts(next);
      if (old_visits != new_visits || old_noshows != new_noshows) {
        if (Patient* p = registry_.FindPatient(a.tenant, a.patient)) {
          Patient& pt = *p;
          pt.appointments = static_cast<uint32_t>(
              std::max<int64_t>(0, int64_t{pt.appointments} - old_visits + new_visits));
          pt.no_shows = static_cast<uint32_t>(
              std::max<int64_t>(0, int64_t{pt.no_shows} - old_noshows + new_noshows));
          change.Write(ObjectRegistry::AttendanceRecord(pt), /*may_repeat=*/true);
        }
      }
      a.status = next;
      event = Event::kStatusChanged;
      break;
    }
  }
  if (c.version > a.version) a.version = c.version;
  ++a.revision;
  if (absl::Status st = Replan(e, event, EventName(event), change); !st.ok()) return st;
  return AppointmentResult{UpsertOutcome::kModified, a.revision,
                           static_cast<uint32_t>(e.plan.size())};
}

void AppointmentBook::Commands(std::vector<AppointmentCommand> items, ResultsDone done) {
  Change change;
  change.now = engine_->NowMs();
  auto results = std::make_shared<std::vector<absl::StatusOr<AppointmentResult>>>();
  results->reserve(items.size());
  for (const AppointmentCommand& c : items) {
    Entry* e = log_.Find(c.tenant, c.id);
    if (e == nullptr) {
      results->push_back(absl::NotFoundError(
          absl::StrCat("no appointment \"", c.id, "\" in tenant ", c.tenant)));
      continue;
    }
    results->push_back(ApplyCommand(*e, c, change));
  }
  SubmitResults(std::move(change), std::move(results), std::move(done));
}

void AppointmentBook::Absence(uint32_t tenant, const std::string& calendar, int64_t from_ms,
                              int64_t to_ms, CountDone done) {
  auto fail = [&](absl::Status st) { Refuse(std::move(st), std::move(done)); };
  if (registry_.FindTenant(tenant) == nullptr) {
    return fail(absl::NotFoundError(absl::StrCat("unknown tenant ", tenant)));
  }
  if (registry_.FindCalendar(tenant, calendar) == nullptr) {
    return fail(absl::NotFoundError(absl::StrCat("unknown calendar \"", calendar, "\"")));
  }
  if (to_ms <= from_ms) return fail(absl::InvalidArgumentError("the absence ends before it starts"));
  Change change;
  change.now = engine_->NowMs();
  uint32_t cancelled = 0;
  for (Entry* e : log_.OfCalendar(tenant, calendar, from_ms, to_ms)) {
    if (IsCancelled(e->appt.lifecycle)) continue;
    AppointmentCommand c{tenant, e->appt.id, AppointmentAction::kCancelByPractitioner, VisitStatus::kNone, 0};
    if (ApplyCommand(*e, c, change).ok()) ++cancelled;
  }
  SubmitThen(std::move(change), cancelled, std::move(done));
}

void AppointmentBook::DelayAlert(uint32_t tenant, const std::string& calendar, int64_t delay_ms,
                                 CountDone done) {
  auto fail = [&](absl::Status st) { Refuse(std::move(st), std::move(done)); };
  const Tenant* t = registry_.FindTenant(tenant);
  if (t == nullptr) return fail(absl::NotFoundError(absl::StrCat("unknown tenant ", tenant)));
  if (registry_.FindCalendar(tenant, calendar) == nullptr) {
    return fail(absl::NotFoundError(absl::StrCat("unknown calendar \"", calendar, "\"")));
  }
  if (delay_ms <= 0 || delay_ms > kDayMs) {
    return fail(absl::InvalidArgumentError("a delay is between 1 minute and 24 hours"));
  }
  Change change;
  change.now = engine_->NowMs();
  if (!t->zone.ok()) return fail(t->zone.status());
  const int64_t day_end = t->zone.EndOfLocalDay(change.now);
  uint32_t alerted = 0;
  for (Entry* e : log_.OfCalendar(tenant, calendar, change.now, day_end)) {
    if (IsCancelled(e->appt.lifecycle) || e->appt.status != VisitStatus::kNone) {
      continue;
    }
    e->appt.delay_ms = delay_ms;
    ++e->appt.revision;
    if (Replan(*e, Event::kDelayAlert, "delay alert", change).ok()) ++alerted;
  }
  SubmitThen(std::move(change), alerted, std::move(done));
}

void AppointmentBook::PatientReply(uint32_t tenant, const std::string& patient,
                                   const std::string& appointment, PatientReplyKind kind,
                                   std::function<void(absl::StatusOr<AppointmentResult>)> done) {
  auto fail = [&](absl::Status st) { Refuse(std::move(st), std::move(done)); };
  Patient* p = registry_.FindPatient(tenant, patient);
  if (p == nullptr) {
    return fail(absl::NotFoundError(absl::StrCat("unknown patient \"", patient, "\"")));
  }
  Change change;
  change.now = engine_->NowMs();
  if (kind == PatientReplyKind::kStop || kind == PatientReplyKind::kStart) {
    // STOP (an SMS reply): nothing more to that number, for every patient
    // who shares it, until consent is given again (START). Without a
    // mobile number, the patient's notifications go off instead.
    bool stop = kind == PatientReplyKind::kStop;
    std::string address = p->mobile;
    std::vector<Patient*> sharing;
    if (address.empty()) {
      p->notifications = !stop;
      sharing.push_back(p);
    } else {
      change.Write(registry_.SetStopped(tenant, address, stop), /*may_repeat=*/true);
      for (const std::string& id : registry_.PatientsWithMobile(tenant, address)) {
        if (Patient* other = registry_.FindPatient(tenant, id)) sharing.push_back(other);
      }
    }
    if (!stop) p->notifications = true;
    p->consent = !stop;
    change.Write(ObjectRegistry::PatientRecord(*p), /*may_repeat=*/true);
    uint32_t replanned = 0;
    for (Patient* who : sharing) {
      for (Entry* e : log_.OfPatient(tenant, who->id, INT64_MIN, INT64_MAX)) {
        if (IsCancelled(e->appt.lifecycle) && e->plan.empty()) continue;
        if (e->appt.end_ms < change.now && e->plan.empty()) continue;
        ++e->appt.revision;
        if (Replan(*e, Event::kUpdated,
                   stop ? "the address replied STOP" : "the patient opted in again", change)
                .ok()) {
          ++replanned;
        }
      }
    }
    return SubmitThen(std::move(change), AppointmentResult{UpsertOutcome::kModified, 0, replanned},
                      std::move(done));
  }
  Entry* e = nullptr;
  if (!appointment.empty()) {
    e = log_.Find(tenant, appointment);
    if (e == nullptr || e->appt.patient != patient) {
      return fail(absl::NotFoundError(absl::StrCat("no appointment \"", appointment,
                                                   "\" of patient \"", patient, "\"")));
    }
  } else {
    for (Entry* cand : log_.OfPatient(tenant, patient, change.now, INT64_MAX)) {
      if (!IsCancelled(cand->appt.lifecycle)) {
        e = cand;
        break;
      }
    }
    if (e == nullptr) {
      return fail(absl::NotFoundError(
          absl::StrCat("patient \"", patient, "\" has no upcoming appointment")));
    }
  }
  const Tenant& t = *registry_.FindTenant(tenant);
  if (kind == PatientReplyKind::kCancel &&
      (!t.patient_cancel_allowed || change.now > e->appt.start_ms - t.cancel_until_ms)) {
    return fail(absl::FailedPreconditionError(
        "the site does not allow patients to cancel this late; please call the clinic"));
  }
  AppointmentCommand c{tenant, e->appt.id,
                       kind == PatientReplyKind::kConfirm ? AppointmentAction::kConfirm
                                                          : AppointmentAction::kCancelByPatient,
                       VisitStatus::kNone, 0};
  auto r = ApplyCommand(*e, c, change);
  if (!r.ok()) return fail(r.status());
  SubmitThen(std::move(change), *r, std::move(done));
}

void AppointmentBook::Redeem(std::string_view token,
                             std::function<void(absl::StatusOr<Redeemed>)> done) {
  auto fail = [&](absl::Status st) { Refuse(std::move(st), std::move(done)); };
  auto tenant_id = TokenTenant(token);
  if (!tenant_id.ok()) return fail(tenant_id.status());
  const Tenant* t = registry_.FindTenant(*tenant_id);
  if (t == nullptr) return fail(absl::PermissionDeniedError("token signature does not match"));
  auto claims = VerifyToken(token, t->secret);
  if (!claims.ok()) return fail(claims.status());
  Change change;
  change.now = engine_->NowMs();
  if (change.now >= claims->expires_ms) {
    return fail(absl::FailedPreconditionError("the link has expired"));
  }
  Entry* e = log_.Find(claims->tenant, claims->appointment_id);
  if (e == nullptr) return fail(absl::NotFoundError("the appointment no longer exists"));
  Appointment& a = e->appt;
  if (a.revision != claims->revision) {
    return fail(absl::FailedPreconditionError(
        "the link was already used, or the appointment has changed since it was sent"));
  }
  if (IsCancelled(a.lifecycle)) return fail(absl::FailedPreconditionError("the appointment is cancelled"));
  AppointmentCommand c{a.tenant, a.id, AppointmentAction::kConfirm, VisitStatus::kNone, 0};
  std::string action;
  int64_t until_start = a.start_ms - change.now;
  switch (claims->action) {
    case Action::kConfirm:
      action = "confirm";
      if (until_start <= 0 || until_start > t->confirm_window_ms) {
        return fail(absl::FailedPreconditionError(absl::StrCat(
            "confirmation is open only in the ", FormatDurationMs(t->confirm_window_ms),
            " before the appointment")));
      }
      break;
    case Action::kCancel:
      action = "cancel";
      c.action = AppointmentAction::kCancelByPatient;
      if (!t->patient_cancel_allowed || until_start < t->cancel_until_ms) {
        return fail(absl::FailedPreconditionError(absl::StrCat(
            "online cancellation closes ", FormatDurationMs(t->cancel_until_ms),
            " before the appointment; please call the clinic")));
      }
      break;
    case Action::kArrival:
      action = "arrival";
      c.action = AppointmentAction::kArrived;
      if (!t->arrival_allowed || until_start < 0 || until_start > t->arrival_window_ms) {
        return fail(absl::FailedPreconditionError(absl::StrCat(
            "arrival can be told only in the ", FormatDurationMs(t->arrival_window_ms),
            " before the appointment")));
      }
      break;
  }
  auto r = ApplyCommand(*e, c, change);
  if (!r.ok()) return fail(r.status());
  Redeemed out{a.tenant, a.id, action};
  SubmitThen(std::move(change), std::move(out), std::move(done));
}

// --- views ----------------------------------------------------------------

absl::StatusOr<std::string> AppointmentBook::Show(uint32_t tenant, const std::string& id) const {
  return views_.Show(tenant, id);
}

absl::StatusOr<std::string> AppointmentBook::DryRun(const Appointment& in) const {
  return views_.DryRun(in);
}

absl::StatusOr<std::string> AppointmentBook::CreditsJson(uint32_t tenant) const {
  return views_.Credits(tenant, held() != nullptr ? held()->held_of(TenantId{tenant}) : 0);
}

// --- reclaim ----------------------------------------------------------------

size_t AppointmentBook::SweepGone(size_t limit) {
  // A message leaves the engine without the book hearing of it when it is
  // found past its expiry as it falls due (rappeld was down across the
  // appointment, or it waited for a rate token too long): its plan entry and
  // its reservation would stay forever. One due over an hour ago and no
  // longer live in the engine is such a message.
  int64_t now = engine_->NowMs();
  Change change;
  change.now = now;
  size_t gone = 0;
  for (auto& [obj, e] : log_.entries()) {
    if (gone >= limit) break;
    std::string audit;
    for (PlanRef& p : e.plan) {
      if (p.due_ms > now - kHourMs) continue;
      std::string key = MessageKey(e.appt.id, p.kind, p.channel, p.occurrence);
      if (engine_->IsLive(HashKey(TenantId{e.appt.tenant}, key))) continue;
      if (credits_.Release(e.appt.tenant, p)) change.LedgerChanged(e.appt.tenant);
      AppendAuditLine(&audit, now, "expired", p.kind, p.channel, p.occurrence, p.due_ms,
                "not sent before its expiry");
      p.occurrence = UINT32_MAX;  // marked: removed below
      ++gone;
    }
    if (audit.empty()) continue;
    std::erase_if(e.plan, [](const PlanRef& p) { return p.occurrence == UINT32_MAX; });
    change.Touch(obj);
    change.Write(log_.NewAudit(e, std::move(audit)));
    change.Write(log_.RecordWrite(e, change));
  }
  if (gone > 0) Submit(std::move(change), [](absl::Status) {});
  return gone;
}

size_t AppointmentBook::Reclaim(size_t limit) {
  SweepGone(limit);
  int64_t now = engine_->NowMs();
  std::vector<std::string> expired;
  for (const auto& [obj, e] : log_.entries()) {
    if (expired.size() >= limit) break;
    const Tenant* t = registry_.FindTenant(e.appt.tenant);
    int64_t retention = t != nullptr ? t->audit_retention_ms : 90 * kDayMs;
    if (e.plan.empty() && e.appt.end_ms + retention < now) expired.push_back(obj);
  }
  if (expired.empty()) return 0;
  Engine::StateWrites writes;
  log_.Purge(expired, &writes);
  engine_->WriteState(std::move(writes), [](absl::Status) {});
  return expired.size();
}

// --- the fire path (MessageFilter) -----------------------------------------

bool AppointmentBook::Claims(const ReminderSpec& r) const {
  return r.key.size() > 3 && r.key[0] == '@' && r.key[1] == 'a' && r.key[2] == '/';
}

absl::StatusOr<AppointmentBook::Rendered> AppointmentBook::RenderFor(const Entry& e,
                                                                     MessageKind kind,
                                                                     Channel channel,
                                                                     std::string_view also,
                                                                     int64_t delay_ms,
                                                                     int64_t now,
                                                                     bool text_only) const {
  const Appointment& a = e.appt;
  const Tenant* t = registry_.FindTenant(a.tenant);
  const Calendar* cal = registry_.FindCalendar(a.tenant, a.calendar);
  const AppointmentType* type = registry_.FindType(a.tenant, a.type);
  const Patient* patient = registry_.FindPatient(a.tenant, a.patient);
  if (t == nullptr || cal == nullptr || type == nullptr || patient == nullptr) {
    return absl::FailedPreconditionError("an object the appointment refers to is gone");
  }
  const Patient& p = *patient;
  Rendered out;
  if (kind == MessageKind::kPractitioner) {
    out.recipient = cal->email;
  } else {
    switch (channel) {
      case Channel::kSms:
      case Channel::kVoice: out.recipient = p.mobile; break;
      case Channel::kEmail: out.recipient = p.email; break;
      case Channel::kPush: out.recipient = p.push_token; break;
    }
  }
  if (out.recipient.empty()) return out;
  // Self-service links, signed with the revision they were issued for. The
  // messages of one plan share them: the last ones are kept (a plan's
  // messages are costed one after the other, and three HMACs per message
  // were most of that cost).
  std::string links_key;
  if (!t->action_url.empty() && kind != MessageKind::kPractitioner && !IsCancelled(a.lifecycle)) {
    links_key = absl::StrCat(a.tenant, "/", a.id, "/", a.revision, "/", a.confirmed, "/", now);
  }
  if (links_key != links_cache_.key) {
    links_cache_ = LinksCache{links_key};
    if (!links_key.empty()) {
      auto link = [&](Action action, int64_t expires) {
        std::string token = IssueToken(TokenClaims{a.tenant, a.id, a.revision, action, expires}, t->secret);
        return absl::StrCat(t->action_url, "?token=", token);
      };
      if (!a.confirmed && a.start_ms > now) links_cache_.confirm = link(Action::kConfirm, a.start_ms);
      if (t->patient_cancel_allowed && a.start_ms - t->cancel_until_ms > now) {
        links_cache_.cancel = link(Action::kCancel, a.start_ms - t->cancel_until_ms);
      }
      if (t->arrival_allowed && a.start_ms > now) {
        links_cache_.arrival = link(Action::kArrival, a.start_ms);
      }
    }
  }
  const std::string& confirm = links_cache_.confirm;
  const std::string& cancel = links_cache_.cancel;
  const std::string& arrival = links_cache_.arrival;
  const ObjectRegistry::TemplatePair* custom =
      registry_.FindTemplate(a.tenant, kind, channel, MessageLocale(*t, p));
  RenderInput in{*t, *cal, *type, p, a, kind, channel, now,
                 custom != nullptr ? &custom->subject : nullptr,
                 custom != nullptr ? &custom->body : nullptr,
                 MessageLinks{confirm, cancel, arrival, t->rebook_url},
                 delay_ms, out.recipient, also};
  if (text_only) {
    if (absl::Status st = RenderText(in, &out.text); !st.ok()) return st;
    return out;
  }
  auto payload = RenderMessage(in, &out.text);
  if (!payload.ok()) return payload.status();
  out.payload = std::move(*payload);
  return out;
}

MessageFilter::Prepared AppointmentBook::Prepare(const ReminderSpec& r) {
  Prepared out;
  int64_t now = engine_->NowMs();
  auto drop = [&](std::string reason, const ParsedMessageKey* key, Entry* e) {
    out.deliver = false;
    out.drop_reason = reason;
    if (key != nullptr && e != nullptr) {
      std::string audit;
      AppendAuditLine(&audit, now, "suppressed", key->kind, key->channel, key->occurrence, r.due_ms,
                reason);
      RecordOutcome(*e, *key, std::move(audit), /*leaves_plan=*/true, &out.writes);
    }
    return out;
  };
  auto key = ParseMessageKey(r.key);
  auto ref = DecodeMessageRef(r.payload);
  if (!key || !ref) {
    // A replayed dead letter already holds its rendered text.
    out.payload = r.payload;
    out.recipient = r.recipient;
    return out;
  }
  Entry* e = log_.Find(r.tenant.value, key->appointment_id);
  if (e == nullptr) return drop("the appointment no longer exists", nullptr, nullptr);
  const Appointment& a = e->appt;
  // (No revision check here: a message replaced or dropped by a later
  // change is never leased (Dispatcher checks Engine::IsCurrent), and one a
  // re-plan kept as it was (Replan) is as good at any later revision.)
  if (IsCancelled(a.lifecycle) && !AfterCancellation(key->kind)) {
    return drop("the appointment is cancelled", &*key, e);
  }
  if (a.status != VisitStatus::kNone && StopsPreVisit(key->kind)) {
    return drop(absl::StrCat("status ", std::string(VisitStatusName(a.status)),
                             ": no further messages before the visit"),
                &*key, e);
  }
  if ((a.status == VisitStatus::kAbsent || a.status == VisitStatus::kExcused) &&
      (key->kind == MessageKind::kPostVisit || key->kind == MessageKind::kRecall)) {
    return drop(absl::StrCat("status ", std::string(VisitStatusName(a.status))), &*key, e);
  }
  const Tenant* t = registry_.FindTenant(a.tenant);
  const Patient* patient = registry_.FindPatient(a.tenant, a.patient);
  if (t == nullptr || patient == nullptr) {
    return drop("an object the appointment refers to is gone", &*key, e);
  }
  const Patient& p = *patient;
  if (key->kind != MessageKind::kPractitioner) {
    if (!p.notifications) return drop("the patient's notifications are off", &*key, e);
    if (t->require_consent && !p.consent) {
      return drop("no consent: the tenant requires the patient's opt-in", &*key, e);
    }
    if (registry_.AddressStopped(a.tenant, key->channel == Channel::kEmail ? p.email
                                 : key->channel == Channel::kPush ? p.push_token
                                                                  : p.mobile)) {
      return drop("the address replied STOP", &*key, e);
    }
    if (std::string leader = households_.TakeLeader(*e, key->kind, key->channel, key->occurrence);
        !leader.empty()) {
      return drop(absl::StrCat("merged into the SMS of appointment ", leader,
                               " (same phone number, same day, same calendar)"),
                  &*key, e);
    }
    if (std::string capped = reminder_cap_.Over(*t, *e, *key, now); !capped.empty()) {
      return drop(std::move(capped), &*key, e);
    }
  }
  // The other appointments this SMS covers (a household's, same day):
  // named in its text, and their own SMS dropped when they fall due.
  std::vector<const Entry*> covered;
  if (key->channel == Channel::kSms) covered = households_.Companions(*e, key->kind, key->occurrence);
  auto rendered = RenderFor(*e, key->kind, key->channel, households_.Note(*e, covered),
                            static_cast<int64_t>(ref->delay_ms), now, /*text_only=*/false);
  if (!rendered.ok()) return drop(std::string(rendered.status().message()), &*key, e);
  if (rendered->recipient.empty()) return drop("no address on this channel any more", &*key, e);

  if (t->metered && IsPaid(key->channel)) {
    PlanRef* planned = FindPlanRef(*e, *key);
    uint32_t cost = MessageCost(*t, key->channel, rendered->text);
    if (planned == nullptr || !credits_.Lease(a.tenant, *planned, cost)) {
      if (t->credit_fallback_email && planned != nullptr &&
          FindPlanRef(*e, ParsedMessageKey{key->appointment_id, key->kind, Channel::kEmail,
                                           key->occurrence}) != nullptr) {
        return drop(absl::StrCat("not enough credit (", cost, " needed): the e-mail of this message goes"),
                    &*key, e);
      }
      out.deliver = false;
      out.hold = true;
      out.drop_reason = absl::StrCat("waiting for credit: ", cost, " needed, ",
                                     credits_.available(a.tenant), " available");
      credits_.NoteWaiting(*t);
      return out;
    }
  }
  if (t->max_reminders_per_day > 0) reminder_cap_.Count(*t, *e, *key, now);
  households_.Cover(covered, key->kind, key->occurrence, a.id);
  out.payload = std::move(rendered->payload);
  out.recipient = std::move(rendered->recipient);
  return out;
}

void AppointmentBook::OnOutcome(const ReminderSpec& r, AckOutcome outcome, std::string_view detail,
                                Engine::StateWrites* writes) {
  auto key = ParseMessageKey(r.key);
  if (!key) return;
  Entry* e = log_.Find(r.tenant.value, key->appointment_id);
  if (e == nullptr) return;
  std::string audit;
  bool success = outcome == AckOutcome::kSent || outcome == AckOutcome::kDelivered ||
                 outcome == AckOutcome::kOpened;
  std::string what(detail);
  if (PlanRef* ref = FindPlanRef(*e, *key); ref != nullptr && (ref->lease_cost > 0 || ref->reserved())) {
    uint32_t cost = ref->lease_cost > 0 ? ref->lease_cost : ref->credits;
    if (outcome == AckOutcome::kFailedRetryable) {
      credits_.EndLease(r.tenant.value, *ref);  // rendered (and costed) again: only its reservation stays
    } else {
      credits_.Release(r.tenant.value, *ref);
      if (success) {
        credits_.Spend(r.tenant.value, cost);
        what = what.empty() ? absl::StrCat(cost, " credit(s) spent")
                            : absl::StrCat(what, "; ", cost, " credit(s) spent");
      }
      if (const Tenant* t = registry_.FindTenant(r.tenant.value)) credits_.Write(*t, writes, nullptr);
    }
  }
  AppendAuditLine(&audit, engine_->NowMs(), OutcomeName(outcome), key->kind, key->channel,
            key->occurrence, r.due_ms, what);
  // Done with unless it will be retried: it leaves the pending plan.
  RecordOutcome(*e, *key, std::move(audit), outcome != AckOutcome::kFailedRetryable, writes);
}

void AppointmentBook::RecordOutcome(Entry& e, const ParsedMessageKey& key, std::string audit,
                                    bool leaves_plan, Engine::StateWrites* writes) {
  if (leaves_plan) {
    auto& plan = e.plan;
    bool ledger = false;
    for (PlanRef& p : plan) {
      if (p.kind == key.kind && p.channel == key.channel && p.occurrence == key.occurrence) {
        ledger |= credits_.Release(e.appt.tenant, p);
      }
    }
    if (ledger) {
      if (const Tenant* t = registry_.FindTenant(e.appt.tenant)) credits_.Write(*t, writes, nullptr);
    }
    plan.erase(std::remove_if(plan.begin(), plan.end(),
                              [&](const PlanRef& p) {
                                return p.kind == key.kind && p.channel == key.channel &&
                                       p.occurrence == key.occurrence;
                              }),
               plan.end());
  }
  writes->push_back(log_.NewAudit(e, std::move(audit)));
  writes->push_back(AppointmentLog::Rewrite(e));
}

// --- credits ------------------------------------------------------------

PlanRef* AppointmentBook::FindPlanRef(Entry& e, const ParsedMessageKey& key) {
  for (PlanRef& p : e.plan) {
    if (p.kind == key.kind && p.channel == key.channel && p.occurrence == key.occurrence) return &p;
  }
  return nullptr;
}

void AppointmentBook::AddCredits(uint32_t tenant, int64_t amount, ObjectDone done) {
  const Tenant* t = registry_.FindTenant(tenant);
  if (t == nullptr) return Refuse(absl::NotFoundError(absl::StrCat("unknown tenant ", tenant)), std::move(done));
  if (amount <= 0 || amount > int64_t{1'000'000'000'000}) {
    return Refuse(absl::InvalidArgumentError("credits to add: a whole number from 1 to 10^12"),
                  std::move(done));
  }
  credits_.Add(tenant, amount);
  Change change;
  change.now = engine_->NowMs();
  change.LedgerChanged(tenant);
  Submit(std::move(change), [this, tenant, done = std::move(done)](absl::Status st) {
    if (!st.ok()) return done(st);
    if (held() != nullptr) held()->Release(TenantId{tenant});
    done(CreditsJson(tenant));
  });
}

}  // namespace rappel::server::plan
