#include "server/plan/replanner.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/plan/audit.h"
#include "server/plan/plan_cost.h"
#include "server/plan/planner.h"

namespace rappel::server::plan {
namespace {

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

constexpr size_t kMaxPendingForSendNow = 256;

// Sends on request per appointment per tenant-local day. A clinic resends a
// message a patient says they did not get, a few times at most; a producer
// looping SendNow with a worker that acks would otherwise grow the
// appointment's sent list and audit (and each ack's record rewrite) without
// end.
constexpr size_t kMaxSendNowPerDay = 20;

// The day of `at_ms` in the tenant's zone (UTC days if it has none).
int64_t DayOf(const Tenant& t, int64_t at_ms) {
  return t.zone.ok() ? t.zone.LocalDay(at_ms) : at_ms / kDayMs;
}

// How many sends on request `entry` has on `day`, up to `limit`: each is
// one occurrence (kSendNowOccurrence set) on one or more channels, counted
// while pending and once out of the plan (acked or dropped) on that day.
// A send requested on `day` is one of those until the day ends, so no more
// than `limit` are accepted in a day. Derived from the record as it is: no
// count to store.
size_t SendNowsOn(const BookEntry& entry, const Tenant& t, int64_t day, size_t limit) {
  std::vector<uint32_t> seen;
  auto count = [&](uint32_t occurrence) {
    if ((occurrence & kSendNowOccurrence) == 0) return;
    if (std::find(seen.begin(), seen.end(), occurrence) == seen.end()) seen.push_back(occurrence);
  };
  for (const PlanRef& p : entry.plan) {
    count(p.occurrence);
    if (seen.size() >= limit) return seen.size();
  }
  // Newest first (the list is in the order messages left the plan): stop at
  // an earlier day.
  for (auto it = entry.sent.rbegin(); it != entry.sent.rend() && seen.size() < limit; ++it) {
    if (DayOf(t, it->at_ms) < day) break;
    count(it->occurrence);
  }
  return seen.size();
}

// A message sent now on request stays through a re-plan while it still fits
// the appointment (the rules of PlanSendNow, planner.h).
bool SentNowOutlivesReplan(MessageKind k, uint32_t occurrence, const Appointment& a) {
  if ((occurrence & kSendNowOccurrence) == 0) return false;
  if (k == MessageKind::kPractitioner) return true;
  bool about_cancellation =
      k == MessageKind::kCancellation || k == MessageKind::kPatientCancelAck;
  return about_cancellation == IsCancelled(a.lifecycle);
}

}  // namespace

Cause Replanner::CauseOf(Event event, const Appointment& a, bool absence) {
  switch (event) {
    case Event::kCreated: return Cause::kCreated;
    case Event::kModified: return Cause::kModified;
    case Event::kUpdated: return Cause::kUpdated;
    case Event::kCancelled:
      if (absence) return Cause::kAbsence;
      return a.lifecycle == Lifecycle::kToReschedule ? Cause::kToReschedule
                                                     : Cause::kCancelledByPractitioner;
    case Event::kPatientCancelled: return Cause::kCancelledByPatient;
    case Event::kConfirmed: return Cause::kConfirmed;
    case Event::kStatusChanged: return Cause::kStatusChanged;
    case Event::kDelayAlert: return Cause::kDelay;
  }
  return Cause::kNone;
}

absl::StatusOr<PlanInput> Replanner::InputFor(const Appointment& a, Event event,
                                               int64_t now_ms) const {
  const Tenant* tenant = registry_.FindTenant(a.tenant);
  const Calendar* cal = registry_.FindCalendar(a.tenant, a.calendar);
  const AppointmentType* type = registry_.FindType(a.tenant, a.type);
  const Patient* patient = registry_.FindPatient(a.tenant, a.patient);
  if (tenant == nullptr || cal == nullptr || type == nullptr || patient == nullptr) {
    return absl::FailedPreconditionError("the appointment refers to an object since deleted");
  }
  PlanInput input{*tenant, *cal, *type, *patient, a, event, now_ms,
                  /*omit_tenant_channels=*/false};
  input.stopped_channels = registry_.StoppedChannels(*patient);
  return input;
}

absl::Status Replanner::Replan(BookEntry& entry, Event event, std::string_view why,
                               Change& change, const Told& told) {
  Appointment& a = entry.appt;
  absl::StatusOr<PlanInput> input = InputFor(a, event, change.now);
  if (!input.ok()) return input.status();
  const Tenant* tenant = &input->tenant;
  const Patient* patient = &input->patient;
  PlanResult plan = Plan(*input);
  change.Touch(ObjKey(a.tenant, a.id));
  std::string audit;
  std::vector<PlanRef> next;
  next.reserve(plan.messages.size());
  MessageRef ref{a.revision, static_cast<uint32_t>(std::clamp<int64_t>(a.delay_ms, 0, UINT32_MAX)),
                 CauseOf(event, a, told.absence), told.previous_start_ms, told.previous_end_ms};
  // What happened is told only to notices: the other messages keep the
  // short payload (every byte is in the engine's log).
  std::string notice_payload = EncodeMessageRef(ref);
  std::string payload = EncodeMessageRef(MessageRef{ref.revision, ref.delay_ms});
  auto has_twin = [&](const PlannedMessage& m, Channel c) {
    for (const PlannedMessage& o : plan.messages) {
      if (o.kind == m.kind && o.channel == c && o.occurrence == m.occurrence) return true;
    }
    return false;
  };
  for (const PlannedMessage& planned : plan.messages) {
    const PlannedMessage* m = &planned;
    if (m->due_ms - change.now > horizon_ms_) {
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
      out.credits = PlannedCost(*tenant, renderer_, households_, entry, m->kind, m->channel,
                                m->occurrence, ref, change.now);
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
                                 m->due_ms, m->expiry_ms,
                                 IsNotice(m->kind) ? notice_payload : payload});
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
    if (NoticeOutlivesReplan(old.kind, a, planned_kinds) ||
        SentNowOutlivesReplan(old.kind, old.occurrence, a)) {
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
  if (!audit.empty()) log_.NewAudit(entry, std::move(audit), &change.writes);
  change.Write(log_.RecordWrite(entry, change));
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Replanner::SendNow(BookEntry& entry, MessageKind kind,
                                            Change& change) {
  Appointment& a = entry.appt;
  absl::StatusOr<PlanInput> input = InputFor(a, Event::kUpdated, change.now);
  if (!input.ok()) return input.status();
  const Tenant* tenant = &input->tenant;
  if (SendNowsOn(entry, *tenant, DayOf(*tenant, change.now), kMaxSendNowPerDay) >=
      kMaxSendNowPerDay) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot send ", std::string(KindName(kind)), " now: the appointment already had ",
        kMaxSendNowPerDay, " sends on request today (at most ", kMaxSendNowPerDay,
        " per appointment per day, in the tenant's time zone)"));
  }
  // Each send-now writes an audit record, whose number (they only grow)
  // names this one apart from every earlier send.
  auto occurrence =
      static_cast<uint32_t>(kSendNowOccurrence | (log_.next_audit_number() & ~kSendNowOccurrence));
  PlanResult plan = PlanSendNow(*input, kind, occurrence);
  if (plan.messages.empty()) {
    std::string why;
    for (const Omission& o : plan.omitted) {
      absl::StrAppend(&why, why.empty() ? "" : "; ",
                      o.channel ? absl::StrCat(std::string(ChannelName(*o.channel)), ": ") : std::string(),
                      o.reason);
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot send ", std::string(KindName(kind)), " now: ", why.empty() ? "no channel" : why));
  }
  // A record holds at most 1024 plan entries (appointment_record.h); sends
  // nobody takes must not grow it there.
  if (entry.plan.size() + plan.messages.size() > kMaxPendingForSendNow) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot send ", std::string(KindName(kind)), " now: ", entry.plan.size(),
        " messages already pending for the appointment (at most ", kMaxPendingForSendNow, ")"));
  }
  change.Touch(ObjKey(a.tenant, a.id));
  std::string audit;
  MessageRef ref{a.revision, static_cast<uint32_t>(std::clamp<int64_t>(a.delay_ms, 0, UINT32_MAX))};
  std::string payload = EncodeMessageRef(ref);
  for (const PlannedMessage& m : plan.messages) {
    PlanRef out{m.kind, m.channel, m.occurrence, m.due_ms};
    if (m.moved_by_quiet_hours) out.flags |= PlanRef::kMovedByQuietHours;
    std::string note = "sent now on request";
    if (tenant->metered && IsPaid(m.channel)) {
      out.credits = PlannedCost(*tenant, renderer_, households_, entry, m.kind, m.channel,
                                m.occurrence, ref, change.now);
      change.LedgerChanged(a.tenant);
      if (credits_.Reserve(a.tenant, out, out.credits)) {
        absl::StrAppend(&note, "; ", out.credits, " credit(s) reserved");
      } else {
        absl::StrAppend(&note, "; not enough credit yet (", out.credits, " needed, ",
                        credits_.available(a.tenant), " available)");
      }
    }
    entry.plan.push_back(out);
    AppendAuditLine(&audit, change.now, "planned", m.kind, m.channel, m.occurrence, m.due_ms, note);
    change.Schedule(ReminderSpec{TenantId{a.tenant}, MessageKey(a.id, m.kind, m.channel, m.occurrence),
                                 m.channel, m.recipient, m.due_ms, m.expiry_ms, payload});
  }
  for (const Omission& o : plan.omitted) {
    AppendAuditLine(&audit, change.now, "omitted", o.kind, o.channel, occurrence, 0, o.reason);
  }
  log_.NewAudit(entry, std::move(audit), &change.writes);
  change.Write(log_.RecordWrite(entry, change));
  return static_cast<uint32_t>(plan.messages.size());
}

}  // namespace rappel::server::plan
