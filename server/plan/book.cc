#include "server/plan/book.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/plan/audit.h"
#include "server/plan/objects_json.h"
#include "server/plan/token.h"

namespace rappel::server::plan {

AppointmentBook::AppointmentBook(Engine* engine, BookOptions options)
    : engine_(engine),
      options_(options),
      log_(engine, {options.min_record_garbage, options.records_per_compaction},
           [this](Change change, std::function<void(absl::Status)> done) {
             Submit(std::move(change), std::move(done));
           }),
      replanner_(registry_, log_, credits_, households_, renderer_, options.horizon_ms) {}

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
  if (absl::Status st = summary_.Load(*reader); !st.ok()) return st;
  return log_.Load(*reader);
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
                   records = std::move(change.records), done = std::move(done),
                   seal = delivery_.Seal()](absl::Status st) {
                    delivery_.Settled(seal, st);
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
  Replanner::Told told;
  if (found == nullptr) {
    if (!type->active) {
      return InactiveType(in.type);
    }
    Entry e;
    std::string obj = ObjKey(in.tenant, in.id);
    e.appt = std::move(in);  // numbered when its record is written (RecordWrite)
    Appointment& a = e.appt;
    if (a.booked_at_ms == 0) a.booked_at_ms = change.now;
    a.revision = 1;
    a.schedule_revision = 1;
    a.links_used = 0;
    a.scheduled_at_ms = change.now;
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
    if (a.start_ms != in.start_ms || a.end_ms != in.end_ms) {
      told = Replanner::Told{false, a.start_ms, a.end_ms};  // the notice says from when
    }
    bool rebooked = IsCancelled(a.lifecycle);
    const AppointmentType* held_type = registry_.FindType(a.tenant, a.type);
    bool moved = IsScheduleChange(a, held_type != nullptr ? held_type->mode : type->mode, in,
                                  type->mode);
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
    if (rebooked || moved) {
      // The links sent so far were for the old time and place.
      ++a.schedule_revision;
      a.links_used = 0;
      a.scheduled_at_ms = change.now;
    }
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
  if (event != Event::kModified) told = {};  // (a rebooking is told as new)
  if (absl::Status st = replanner_.Replan(e, event, EventName(event), change, told); !st.ok()) {
    return st;
  }
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
  if (c.action == AppointmentAction::kSendNow) {
    auto sent = replanner_.SendNow(e, c.kind, change);
    if (!sent.ok()) return sent.status();
    return AppointmentResult{UpsertOutcome::kUpdated, a.revision,
                             static_cast<uint32_t>(e.plan.size())};
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
    case AppointmentAction::kSendNow:
      break;  // answered above
  }
  if (c.version > a.version) a.version = c.version;
  ++a.revision;
  Replanner::Told told;
  told.absence = c.absence;
  if (absl::Status st = replanner_.Replan(e, event, EventName(event), change, told); !st.ok()) {
    return st;
  }
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
    AppointmentCommand c{tenant, e->appt.id, AppointmentAction::kCancelByPractitioner,
                         VisitStatus::kNone, 0, MessageKind::kReminder,
                         /*absence=*/true};
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
    if (replanner_.Replan(*e, Event::kDelayAlert, "delay alert", change).ok()) ++alerted;
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
        if (replanner_.Replan(*e, Event::kUpdated,
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
  if (a.schedule_revision != claims->revision) {
    return fail(absl::FailedPreconditionError(
        "the appointment has changed since the link was sent (time, place or calendar)"));
  }
  if (IsCancelled(a.lifecycle)) return fail(absl::FailedPreconditionError("the appointment is cancelled"));
  const auto used_bit = static_cast<uint8_t>(1u << static_cast<unsigned>(claims->action));
  if ((a.links_used & used_bit) != 0) {
    return fail(absl::FailedPreconditionError("the link was already used"));
  }
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
  // Marked before the command so that the record it writes carries the mark.
  a.links_used |= used_bit;
  auto r = ApplyCommand(*e, c, change);
  if (!r.ok()) {
    a.links_used &= static_cast<uint8_t>(~used_bit);
    return fail(r.status());
  }
  if (r->outcome == UpsertOutcome::kUnchanged) {
    // Nothing re-planned (confirmed already by another way): the mark alone.
    change.Touch(ObjKey(a.tenant, a.id));
    change.Write(log_.RecordWrite(*e, change));
  }
  Redeemed out{a.tenant, a.id, action};
  SubmitThen(std::move(change), std::move(out), std::move(done));
}

// --- late outcomes ----------------------------------------------------------

void AppointmentBook::ReportOutcomes(std::vector<OutcomeReport> items, OutcomesDone done) {
  Change change;
  change.now = engine_->NowMs();
  auto results = std::make_shared<std::vector<absl::StatusOr<bool>>>();
  results->reserve(items.size());
  std::vector<Entry*> rewrite;
  for (const OutcomeReport& item : items) {
    auto key = ParseMessageKey(item.key);
    Entry* e = key ? log_.Find(item.tenant, key->appointment_id) : nullptr;
    if (e == nullptr) {
      results->push_back(absl::NotFoundError(
          absl::StrCat("no message \"", item.tenant, ":", item.key, "\"")));
      continue;
    }
    auto changed = delivery_.ReportLate(*e, *key, item.outcome, item.detail, &change.writes);
    if (changed.ok() && *changed && std::find(rewrite.begin(), rewrite.end(), e) == rewrite.end()) {
      rewrite.push_back(e);
    }
    results->push_back(std::move(changed));
  }
  // Each changed record once, after all its items (a batch may report many
  // messages of one appointment).
  for (Entry* e : rewrite) {
    change.Touch(ObjKey(e->appt.tenant, e->appt.id));
    change.Write(log_.RecordWrite(*e, change));
  }
  Submit(std::move(change), [results, done = std::move(done)](absl::Status st) {
    if (!st.ok()) {
      for (auto& r : *results) {
        if (r.ok()) r = st;
      }
    }
    done(std::move(*results));
  });
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
      delivery_.NoteDropped(e, p, DropClass::kExpired, &change.writes);
      p.occurrence = UINT32_MAX;  // marked: removed below
      ++gone;
    }
    if (audit.empty()) continue;
    std::erase_if(e.plan, [](const PlanRef& p) { return p.occurrence == UINT32_MAX; });
    change.Touch(obj);
    log_.NewAudit(e, std::move(audit), &change.writes);
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

// --- credits ------------------------------------------------------------

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
