#include "server/plan/delivery.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/plan/audit.h"

namespace rappel::server::plan {
namespace {

const char* OutcomeName(AckOutcome o) {
  switch (o) {
    case AckOutcome::kSent: return "sent";
    case AckOutcome::kDelivered: return "delivered";
    case AckOutcome::kOpened: return "opened";
    case AckOutcome::kFailedRetryable: return "failed (will retry)";
    case AckOutcome::kFailedPermanent: return "failed";
    case AckOutcome::kExpired: return "expired";
  }
  return "?";
}

// Kinds about the visit to come: a visit status set (seen, waiting room,
// absent, excused) stops them; post-visit, recall and the practitioner's
// notice go on.
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

// Cancelled appointments still send the notices about the cancellation.
bool AfterCancellation(MessageKind k) {
  return k == MessageKind::kCancellation || k == MessageKind::kPatientCancelAck ||
         k == MessageKind::kPractitioner;
}

}  // namespace

bool Delivery::Claims(const ReminderSpec& r) {
  return r.key.size() > 3 && r.key[0] == '@' && r.key[1] == 'a' && r.key[2] == '/';
}

MessageFilter::Prepared Delivery::Prepare(const ReminderSpec& r) {
  MessageFilter::Prepared out;
  int64_t now = engine_.NowMs();
  auto drop = [&](std::string reason, const ParsedMessageKey* key, BookEntry* e,
                  DropClass cls = DropClass::kCancelled) {
    out.deliver = false;
    out.drop_reason = reason;
    if (key != nullptr && e != nullptr) {
      std::string audit;
      AppendAuditLine(&audit, now, "suppressed", key->kind, key->channel, key->occurrence, r.due_ms,
                reason);
      NoteSent(*e, key->kind, key->channel, key->occurrence, message_state::kDropped, cls, 0,
               &out.writes);
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
  BookEntry* e = log_.Find(r.tenant.value, key->appointment_id);
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
                &*key, e, DropClass::kStatus);
  }
  if ((a.status == VisitStatus::kAbsent || a.status == VisitStatus::kExcused) &&
      (key->kind == MessageKind::kPostVisit || key->kind == MessageKind::kRecall)) {
    return drop(absl::StrCat("status ", std::string(VisitStatusName(a.status))), &*key, e,
                DropClass::kStatus);
  }
  const Tenant* t = registry_.FindTenant(a.tenant);
  const Patient* patient = registry_.FindPatient(a.tenant, a.patient);
  if (t == nullptr || patient == nullptr) {
    return drop("an object the appointment refers to is gone", &*key, e, DropClass::kNoAddress);
  }
  const Patient& p = *patient;
  if (key->kind != MessageKind::kPractitioner) {
    if (!p.notifications) {
      return drop("the patient's notifications are off", &*key, e, DropClass::kOptOut);
    }
    if (t->require_consent && !p.consent) {
      return drop("no consent: the tenant requires the patient's opt-in", &*key, e,
                  DropClass::kOptOut);
    }
    if (registry_.AddressStopped(a.tenant, key->channel == Channel::kEmail ? p.email
                                 : key->channel == Channel::kPush ? p.push_token
                                                                  : p.mobile)) {
      return drop("the address replied STOP", &*key, e, DropClass::kOptOut);
    }
    if (std::string leader = households_.TakeLeader(*e, key->kind, key->channel, key->occurrence);
        !leader.empty()) {
      return drop(absl::StrCat("merged into the SMS of appointment ", leader,
                               " (same phone number, same day, same calendar)"),
                  &*key, e, DropClass::kMerged);
    }
    if (std::string capped = cap_.Over(*t, *e, *key, now); !capped.empty()) {
      return drop(std::move(capped), &*key, e, DropClass::kDailyCap);
    }
  }
  // The other appointments this SMS covers (a household's, same day):
  // named in its text, and their own SMS dropped when they fall due.
  std::vector<const BookEntry*> covered;
  if (key->channel == Channel::kSms) covered = households_.Companions(*e, key->kind, key->occurrence);
  auto rendered = renderer_.Render(*e, key->kind, key->channel, households_.Note(*e, covered),
                            *ref, now, /*text_only=*/false);
  if (!rendered.ok()) {
    return drop(std::string(rendered.status().message()), &*key, e, DropClass::kNoAddress);
  }
  if (rendered->recipient.empty()) {
    return drop("no address on this channel any more", &*key, e, DropClass::kNoAddress);
  }

  if (t->metered && IsPaid(key->channel)) {
    PlanRef* planned = FindPlanRef(*e, *key);
    uint32_t cost = MessageCost(*t, key->channel, rendered->text);
    if (planned == nullptr || !credits_.Lease(a.tenant, *planned, cost)) {
      if (t->credit_fallback_email && planned != nullptr &&
          FindPlanRef(*e, ParsedMessageKey{key->appointment_id, key->kind, Channel::kEmail,
                                           key->occurrence}) != nullptr) {
        return drop(absl::StrCat("not enough credit (", cost, " needed): the e-mail of this message goes"),
                    &*key, e, DropClass::kCredit);
      }
      out.deliver = false;
      out.hold = true;
      out.drop_reason = absl::StrCat("waiting for credit: ", cost, " needed, ",
                                     credits_.available(a.tenant), " available");
      credits_.NoteWaiting(*t);
      return out;
    }
  }
  if (t->max_reminders_per_day > 0) cap_.Count(*t, *e, *key, now);
  households_.Cover(covered, key->kind, key->occurrence, a.id);
  out.payload = std::move(rendered->payload);
  out.recipient = std::move(rendered->recipient);
  out.track_opens = rendered->track_opens;
  return out;
}

void Delivery::OnOutcome(const ReminderSpec& r, AckOutcome outcome, std::string_view detail,
                                Engine::StateWrites* writes) {
  auto key = ParseMessageKey(r.key);
  if (!key) return;
  BookEntry* e = log_.Find(r.tenant.value, key->appointment_id);
  if (e == nullptr) return;
  std::string audit;
  bool success = outcome == AckOutcome::kSent || outcome == AckOutcome::kDelivered ||
                 outcome == AckOutcome::kOpened;
  std::string what(detail);
  uint32_t spent = 0;
  if (PlanRef* ref = FindPlanRef(*e, *key); ref != nullptr && (ref->lease_cost > 0 || ref->reserved())) {
    uint32_t cost = ref->lease_cost > 0 ? ref->lease_cost : ref->credits;
    if (outcome == AckOutcome::kFailedRetryable) {
      credits_.EndLease(r.tenant.value, *ref);  // rendered (and costed) again: only its reservation stays
    } else {
      credits_.Release(r.tenant.value, *ref);
      if (success) {
        credits_.Spend(r.tenant.value, cost);
        spent = cost;
        what = what.empty() ? absl::StrCat(cost, " credit(s) spent")
                            : absl::StrCat(what, "; ", cost, " credit(s) spent");
      }
      if (const Tenant* t = registry_.FindTenant(r.tenant.value)) credits_.Write(*t, writes, nullptr);
    }
  }
  AppendAuditLine(&audit, engine_.NowMs(), OutcomeName(outcome), key->kind, key->channel,
            key->occurrence, r.due_ms, what);
  if (outcome != AckOutcome::kFailedRetryable) {
    using namespace message_state;
    uint8_t state = outcome == AckOutcome::kSent        ? kSent
                    : outcome == AckOutcome::kDelivered ? kSent | kDelivered
                    : outcome == AckOutcome::kOpened    ? kSent | kDelivered | kOpened
                    : outcome == AckOutcome::kExpired   ? kDropped
                                                        : kFailed;
    NoteSent(*e, key->kind, key->channel, key->occurrence, state,
             outcome == AckOutcome::kExpired ? DropClass::kExpired : DropClass::kNone, spent, writes);
  }
  // Done with unless it will be retried: it leaves the pending plan.
  RecordOutcome(*e, *key, std::move(audit), outcome != AckOutcome::kFailedRetryable, writes);
}

void Delivery::RecordOutcome(BookEntry& e, const ParsedMessageKey& key, std::string audit,
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
  log_.NewAudit(e, std::move(audit), writes);
  writes->push_back(AppointmentLog::Rewrite(e));
  NoteUnsettled(e, nullptr);
}

void Delivery::NoteSent(BookEntry& e, MessageKind kind, Channel channel, uint32_t occurrence,
                        uint8_t state, DropClass cls, uint32_t credits,
                        Engine::StateWrites* writes) {
  int64_t now = engine_.NowMs();
  const Tenant* t = registry_.FindTenant(e.appt.tenant);
  int64_t retention = t != nullptr ? t->audit_retention_ms : 90 * kDayMs;
  std::erase_if(e.sent, [&](const SentRef& m) { return m.at_ms < now - retention; });
  if (e.sent.size() >= kMaxSentPerAppointment) {
    e.sent.erase(e.sent.begin(), e.sent.end() - (kMaxSentPerAppointment - 1));
  }
  int64_t day = t != nullptr ? LocalDayOf(*t, now) : 0;
  e.sent.push_back(
      SentRef{kind, channel, occurrence, now, state, static_cast<uint8_t>(cls), credits, day});
  MessageSummary::Key row{e.appt.tenant, day, channel, kind};
  summary_.Note(row, 0, state, cls, credits, writes);
  NoteUnsettled(e, &row);
}

void Delivery::NoteDropped(BookEntry& e, const PlanRef& p, DropClass cls,
                           Engine::StateWrites* writes) {
  NoteSent(e, p.kind, p.channel, p.occurrence, message_state::kDropped, cls, 0, writes);
}

absl::StatusOr<bool> Delivery::ReportLate(BookEntry& e, const ParsedMessageKey& key,
                                          LateOutcome outcome, std::string_view detail,
                                          Engine::StateWrites* writes) {
  int64_t now = engine_.NowMs();
  const Tenant* t = registry_.FindTenant(e.appt.tenant);
  int64_t retention = t != nullptr ? t->audit_retention_ms : 90 * kDayMs;
  SentRef* m = nullptr;
  for (auto it = e.sent.rbegin(); it != e.sent.rend(); ++it) {  // the latest send
    if (it->kind == key.kind && it->channel == key.channel && it->occurrence == key.occurrence) {
      m = &*it;
      break;
    }
  }
  if (m == nullptr || m->at_ms < now - retention) {
    return absl::NotFoundError("no message with that id was sent (or it is past the audit retention)");
  }
  if (m->state & message_state::kDropped) {
    return absl::FailedPreconditionError("that message was dropped, never sent");
  }
  uint8_t after = ApplyLateOutcome(m->state, outcome);
  if (after == m->state) return false;
  MessageSummary::Key row{e.appt.tenant, t != nullptr ? DayOf(*t, *m) : 0, key.channel, key.kind};
  summary_.Note(row, m->state, after, DropClass::kNone, 0, writes);
  NoteUnsettled(e, &row);
  m->state = after;
  std::string audit;
  AppendAuditLine(&audit, now, LateOutcomeName(outcome), key.kind, key.channel, key.occurrence,
                  /*due_ms=*/0, detail);
  log_.NewAudit(e, std::move(audit), writes);
  return true;
}

void Delivery::NoteUnsettled(const BookEntry& e, const MessageSummary::Key* row) {
  // An outcome notes its entry twice (its row, then its record): once is
  // enough.
  bool repeat = !unsettled_.empty() && unsettled_.back().seal == next_seal_ &&
                unsettled_.back().entry == &e && (row == nullptr || !unsettled_.back().row);
  if (!repeat) {
    Unsettled& u = unsettled_.emplace_back();
    u.seal = next_seal_;
    u.entry = &e;
    u.tenant = e.appt.tenant;
    u.obj = ObjKey(e.appt.tenant, e.appt.id);
  }
  if (row != nullptr) unsettled_.back().row = *row;
}

void Delivery::Settled(uint64_t seal, const absl::Status& st) {
  if (st.ok()) {
    while (!unsettled_.empty() && unsettled_.front().seal <= seal) unsettled_.pop_front();
    return;
  }
  std::vector<std::string> objs;
  std::vector<uint32_t> tenants;
  std::vector<MessageSummary::Key> rows;
  while (!unsettled_.empty() && unsettled_.front().seal <= seal) {
    Unsettled& u = unsettled_.front();
    objs.push_back(std::move(u.obj));
    if (std::find(tenants.begin(), tenants.end(), u.tenant) == tenants.end()) {
      tenants.push_back(u.tenant);
    }
    if (u.row) rows.push_back(*u.row);
    unsettled_.pop_front();
  }
  if (objs.empty()) return;
  log_.Reload(objs);
  credits_.Reload(tenants);
  if (auto reader = engine_.store().NewReader(); reader.ok()) summary_.Reload(*reader, rows);
}

PlanRef* Delivery::FindPlanRef(BookEntry& e, const ParsedMessageKey& key) {
  for (PlanRef& p : e.plan) {
    if (p.kind == key.kind && p.channel == key.channel && p.occurrence == key.occurrence) return &p;
  }
  return nullptr;
}

}  // namespace rappel::server::plan
