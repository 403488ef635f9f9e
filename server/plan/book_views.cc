#include "server/plan/book_views.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/plan/audit.h"
#include "server/plan/objects_json.h"
#include "server/plan/credits.h"
#include "server/plan/plan_cost.h"
#include "server/plan/planner.h"
#include "server/plan/replanner.h"
#include "server/plan/state_keys.h"

namespace rappel::server::plan {

using nlohmann::json;

json BookViews::PlanJson(const BookEntry& e) const {
  json plan = json::array();
  const Tenant* t = registry_.FindTenant(e.appt.tenant);
  int64_t now = engine_.NowMs();
  for (const PlanRef& p : e.plan) {
    json m = {{"kind", std::string(KindName(p.kind))},
              {"channel", std::string(ChannelName(p.channel))},
              {"occurrence", p.occurrence},
              {"due_ms", p.due_ms},
              {"message_id", absl::StrCat(e.appt.tenant, ":",
                                          MessageKey(e.appt.id, p.kind, p.channel, p.occurrence))}};
    if (p.credits > 0 || p.reserved()) {
      m["credits"] = p.credits;
      m["reserved"] = p.reserved() != 0;
    }
    // Why it is not out yet, when it is not just its time.
    if (p.due_ms <= now && t != nullptr && t->metered && IsPaid(p.channel) &&
        !p.reserved()) {
      m["waiting"] = "for credit";
    } else if (p.flags & PlanRef::kMovedByQuietHours) {
      m["waiting"] = "for sending hours";
    }
    plan.push_back(std::move(m));
  }
  return plan;
}

absl::Status InactiveType(std::string_view type_id) {
  return absl::FailedPreconditionError(absl::StrCat(
      "appointment type \"", std::string(type_id), "\" is inactive: it cannot be booked"));
}

json BookViews::DryRunJson(const BookEntry& e, const PlanResult& plan, const MessageRef& ref,
                           int64_t now) const {
  const Tenant* t = registry_.FindTenant(e.appt.tenant);
  int64_t total = 0;
  json messages = json::array();
  for (const PlannedMessage& m : plan.messages) {
    uint32_t credits = t == nullptr ? 0
                                    : PlannedCost(*t, renderer_, households_, e, m.kind, m.channel,
                                                  m.occurrence, ref, now);
    total += credits;
    messages.push_back({{"kind", std::string(KindName(m.kind))},
                        {"channel", std::string(ChannelName(m.channel))},
                        {"occurrence", m.occurrence},
                        {"due_ms", m.due_ms},
                        {"expiry_ms", m.expiry_ms},
                        {"to", m.recipient},
                        {"credits", credits}});
  }
  json omitted = json::array();
  for (const Omission& o : plan.omitted) {
    omitted.push_back({{"kind", std::string(KindName(o.kind))},
                       {"channel", o.channel ? std::string(ChannelName(*o.channel)) : "*"},
                       {"reason", o.reason}});
  }
  return {{"messages", messages},
          {"omitted", omitted},
          {"metered", t != nullptr && t->metered},
          {"credits_total", total}};
}

namespace {

// The payload the replanner would give the messages (replanner.cc), so the
// text costed is the text reserved.
MessageRef RefFor(const Appointment& a, Event event, const BookEntry* held) {
  MessageRef ref{a.revision, static_cast<uint32_t>(std::clamp<int64_t>(a.delay_ms, 0, UINT32_MAX)),
                 Replanner::CauseOf(event, a, false)};
  if (held != nullptr && event == Event::kModified &&
      (held->appt.start_ms != a.start_ms || held->appt.end_ms != a.end_ms)) {
    ref.previous_start_ms = held->appt.start_ms;
    ref.previous_end_ms = held->appt.end_ms;
  }
  return ref;
}

json AppointmentJson(const Appointment& a) {
  return {{"tenant", a.tenant},
          {"id", a.id},
          {"calendar", a.calendar},
          {"type", a.type},
          {"patient", a.patient},
          {"start_ms", a.start_ms},
          {"end_ms", a.end_ms},
          {"location", a.location},
          {"notes", a.notes},
          {"booked_online", a.booked_online},
          {"booked_at_ms", a.booked_at_ms},
          {"channels", a.channels},
          {"version", a.version},
          {"revision", a.revision},
          {"schedule_revision", a.schedule_revision},
          {"scheduled_at_ms", a.scheduled_at_ms},
          {"lifecycle", std::string(LifecycleName(a.lifecycle))},
          {"status", std::string(VisitStatusName(a.status))},
          {"confirmed", a.confirmed},
          {"arrived", a.arrived},
          {"delay_ms", a.delay_ms}};
}

}  // namespace

absl::StatusOr<std::string> BookViews::Show(uint32_t tenant, const std::string& id) const {
  const BookEntry* e = log_.Find(tenant, id);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat("no appointment \"", id, "\" in tenant ", tenant));
  }
  json out;
  out["appointment"] = AppointmentJson(e->appt);
  out["pending"] = PlanJson(*e);
  // The audit trail, oldest first.
  json audit = json::array();
  auto reader = engine_.store().NewReader();
  if (!reader.ok()) return reader.status();
  for (uint64_t n : e->audit) {
    auto record = reader->GetState(NumberedKey("au/", n));
    if (!record.ok()) return record.status();
    if (!record->has_value()) continue;  // its commit failed
    for (const AuditEntry& a : ParseAuditRecord(**record)) {
      audit.push_back({{"at_ms", a.at_ms},
                       {"what", a.what},
                       {"kind", a.kind},
                       {"channel", a.channel},
                       {"occurrence", a.occurrence},
                       {"due_ms", a.due_ms},
                       {"reason", a.reason}});
    }
  }
  out["audit"] = std::move(audit);
  // What a re-plan now would give (the dry run of the appointment as held).
  const Tenant* t = registry_.FindTenant(tenant);
  const Calendar* cal = registry_.FindCalendar(tenant, e->appt.calendar);
  const AppointmentType* type = registry_.FindType(tenant, e->appt.type);
  const Patient* patient = registry_.FindPatient(tenant, e->appt.patient);
  if (t != nullptr && cal != nullptr && type != nullptr && patient != nullptr) {
    PlanInput in{*t, *cal, *type, *patient, e->appt, Event::kUpdated, engine_.NowMs()};
    in.stopped_channels = registry_.StoppedChannels(*patient);
    out["dry_run"] = DryRunJson(*e, Plan(in), RefFor(e->appt, Event::kUpdated, nullptr), in.now_ms);
  }
  return DumpJson(out, "appointment view");
}

absl::StatusOr<std::string> BookViews::DryRun(const Appointment& in) const {
  const Tenant* t = registry_.FindTenant(in.tenant);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat("unknown tenant ", in.tenant));
  const Calendar* cal = registry_.FindCalendar(in.tenant, in.calendar);
  if (cal == nullptr) return absl::NotFoundError(absl::StrCat("unknown calendar \"", in.calendar, "\""));
  const AppointmentType* type = registry_.FindType(in.tenant, in.type);
  if (type == nullptr) return absl::NotFoundError(absl::StrCat("unknown appointment type \"", in.type, "\""));
  const Patient* patient = registry_.FindPatient(in.tenant, in.patient);
  if (patient == nullptr) return absl::NotFoundError(absl::StrCat("unknown patient \"", in.patient, "\""));
  if (in.end_ms < in.start_ms) return absl::InvalidArgumentError("the appointment ends before it starts");
  Appointment a = in;
  int64_t now = engine_.NowMs();
  if (a.booked_at_ms == 0) a.booked_at_ms = now;
  const BookEntry* held = in.id.empty() ? nullptr : log_.Find(in.tenant, in.id);
  if (held == nullptr && !type->active) return InactiveType(in.type);
  // (As booking numbers it: a new appointment's first revision is 1.)
  a.revision = held == nullptr ? 1 : held->appt.revision + 1;
  // As an upsert would (book.cc): new, or booked again after a
  // cancellation, is a creation; a move is scheduled now; anything else
  // keeps the instant it was scheduled (its passed reminders stay out).
  Event event = Event::kCreated;
  a.scheduled_at_ms = 0;
  if (held != nullptr && !IsCancelled(held->appt.lifecycle)) {
    const AppointmentType* held_type = registry_.FindType(in.tenant, held->appt.type);
    bool moved = IsScheduleChange(held->appt, held_type != nullptr ? held_type->mode : type->mode,
                                  a, type->mode);
    event = moved ? Event::kModified : Event::kUpdated;
    if (!moved) a.scheduled_at_ms = held->appt.scheduled_at_ms;
  }
  json out;
  out["appointment"] = AppointmentJson(a);
  out["event"] = std::string(EventName(event));
  PlanInput input{*t, *cal, *type, *patient, a, event, now};
  input.stopped_channels = registry_.StoppedChannels(*patient);
  BookEntry entry;
  entry.appt = a;
  out["dry_run"] = DryRunJson(entry, Plan(input), RefFor(a, event, held), now);
  return DumpJson(out, "dry run");
}

absl::StatusOr<std::string> BookViews::Credits(uint32_t tenant, uint64_t waiting_for_credit) const {
  const Tenant* t = registry_.FindTenant(tenant);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat("unknown tenant ", tenant));
  CreditAccounts::Account l = credits_.Find(tenant);
  int64_t now = engine_.NowMs();
  const int64_t horizons[3] = {kDayMs, 7 * kDayMs, 30 * kDayMs};
  int64_t forecast[3] = {0, 0, 0};
  int64_t reserved_by_plans = 0;
  uint64_t unreserved = 0, quiet = 0, pending_paid = 0;
  for (const auto& [obj, e] : log_.entries()) {
    if (e.appt.tenant != tenant) continue;
    for (const PlanRef& p : e.plan) {
      if (p.flags & PlanRef::kMovedByQuietHours) ++quiet;
      if (p.reserved()) reserved_by_plans += p.credits;
      if (!IsPaid(p.channel) || !t->metered) continue;
      ++pending_paid;
      if (!p.reserved()) ++unreserved;
      for (int h = 0; h < 3; ++h) {
        if (p.due_ms <= now + horizons[h]) forecast[h] += p.credits;
      }
    }
  }
  nlohmann::json j = {
      {"tenant", tenant},
      {"metered", t->metered},
      {"balance", l.durable.balance},
      {"reserved", l.durable.reserved},
      {"reserved_by_plans", reserved_by_plans},
      {"available", l.available()},
      {"added", l.durable.added},
      {"spent", l.durable.spent},
      {"leased_extra", l.lease_extra},
      {"pending_paid_messages", pending_paid},
      {"unreserved_messages", unreserved},
      {"waiting_for_credit", waiting_for_credit},
      {"waiting_for_sending_hours", quiet},
      {"alert_below", t->credit_alert_below},
      {"forecast", {{"day", forecast[0]}, {"week", forecast[1]}, {"month", forecast[2]}}},
  };
  return DumpJson(j, "credits view");
}

}  // namespace rappel::server::plan
