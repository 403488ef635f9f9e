#include "server/plan/planner.h"

#include <functional>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/plan/plan_world.h"

namespace rappel::server::plan {
namespace {

using K = MessageKind;
constexpr Channel kSms = Channel::kSms;
constexpr Channel kEmail = Channel::kEmail;
constexpr Channel kVoice = Channel::kVoice;
constexpr Channel kPush = Channel::kPush;

constexpr int64_t kNow = PlanWorld::kNow;
constexpr int64_t kStart = kNow + 3 * kDayMs;
constexpr int64_t kEnd = kStart + 30 * kMinuteMs;

// The defaults (plan_world.h) on a tenant on sms + e-mail with one reminder
// 24 h before and a 12 h lead time.
struct World : PlanWorld {
  World() {
    appointment.revision = 3;
    // Every kind on every channel: these cases are about the rules, not
    // the kind channels (kind_channels_test.cc).
    tenant.kind_channels.fill(kAllChannels);
  }
};

struct Want {
  MessageKind kind;
  Channel channel;
  int64_t due;
};

struct WantOmission {
  MessageKind kind;
  std::string reason;                     // a substring of the reason
  std::optional<Channel> channel = std::nullopt;  // nullopt: any
};

struct Case {
  std::string name;
  std::function<void(World&)> setup;
  Event event;
  std::vector<Want> messages;  // exactly these, in this order
  std::vector<WantOmission> omitted;  // at least these
};

std::string Describe(MessageKind k, Channel c, int64_t due) {
  int64_t rel = due - kNow;
  std::string when = rel % kMinuteMs == 0 ? std::to_string(rel / kMinuteMs) + "min"
                                          : std::to_string(rel) + "ms";
  return std::string(KindName(k)) + "/" + std::string(ChannelName(c)) + "@now+" + when;
}

std::string Describe(const Omission& o) {
  return std::string(KindName(o.kind)) + "/" +
         (o.channel ? std::string(ChannelName(*o.channel)) : std::string("*")) + ": " + o.reason;
}

std::vector<std::string> Describe(const PlanResult& r) {
  std::vector<std::string> out;
  for (const auto& m : r.messages) out.push_back(Describe(m.kind, m.channel, m.due_ms));
  return out;
}

std::string AllOmissions(const PlanResult& r) {
  std::string out;
  for (const auto& o : r.omitted) out += "\n  " + Describe(o);
  return out;
}

// Shorthands for expectations.
std::vector<Want> Both(MessageKind k, int64_t due) { return {{k, kSms, due}, {k, kEmail, due}}; }
std::vector<Want> Cat(std::initializer_list<std::vector<Want>> parts) {
  std::vector<Want> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
const std::vector<Want> kReminder24 = Both(K::kReminder, kStart - 24 * kHourMs);

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      // §6.1 modes.
      {"mode_on_site", [](World&) {}, Event::kCreated,
       Cat({Both(K::kConfirmation, kNow), kReminder24}),
       {{K::kConfirmation, "switched off for the tenant", kVoice},
        {K::kConfirmation, "switched off for the tenant", kPush},
        {K::kReminder, "switched off for the tenant", kVoice}}},
      {"mode_on_site_pre_visit",
       [](World& w) { w.tenant.pre_visit_offset_ms = 36 * kHourMs; }, Event::kCreated,
       Cat({Both(K::kConfirmation, kNow), Both(K::kPreVisit, kStart - 36 * kHourMs), kReminder24}),
       {}},
      {"mode_telemedicine_no_pre_visit",
       [](World& w) {
         w.type.mode = Mode::kTelemedicine;
         w.tenant.pre_visit_offset_ms = 36 * kHourMs;
       },
       Event::kCreated, Cat({Both(K::kConfirmation, kNow), kReminder24}),
       {{K::kPreVisit, "pre-visit questionnaire only for on-site appointments"}}},
      {"mode_phone_no_pre_visit",
       [](World& w) {
         w.type.mode = Mode::kPhone;
         w.tenant.pre_visit_offset_ms = 36 * kHourMs;
       },
       Event::kCreated, Cat({Both(K::kConfirmation, kNow), kReminder24}),
       {{K::kPreVisit, "only for on-site"}}},
      {"mode_unspecified", [](World& w) { w.type.mode = Mode::kUnspecified; }, Event::kCreated,
       Cat({Both(K::kConfirmation, kNow), kReminder24}), {}},
      {"mode_no_automated", [](World& w) { w.type.mode = Mode::kNoAutomated; }, Event::kCreated,
       {},
       {{K::kConfirmation, "appointment type mode no_automated sends nothing automated"},
        {K::kReminder, "appointment type mode no_automated sends nothing automated"}}},
      {"mode_no_communication", [](World& w) { w.type.mode = Mode::kNoCommunication; },
       Event::kCreated, {},
       {{K::kConfirmation, "mode no_communication sends nothing automated"},
        {K::kReminder, "no_communication"}}},
      {"mode_hidden", [](World& w) { w.type.mode = Mode::kHidden; }, Event::kModified, {},
       {{K::kChange, "mode hidden sends nothing automated"}, {K::kReminder, "hidden"}}},

      // §6.2 events.
      {"event_modified", [](World&) {}, Event::kModified,
       Cat({Both(K::kChange, kNow), kReminder24}), {}},
      {"event_updated_no_notice", [](World&) {}, Event::kUpdated, kReminder24, {}},
      {"event_status_changed_no_notice",
       [](World& w) { w.appointment.status = VisitStatus::kSeen; }, Event::kStatusChanged,
       kReminder24, {}},
      {"event_cancelled_by_practitioner",
       [](World& w) { w.appointment.lifecycle = Lifecycle::kCancelledByPractitioner; },
       Event::kCancelled, Both(K::kCancellation, kNow), {}},
      {"event_to_reschedule",
       [](World& w) {
         w.appointment.lifecycle = Lifecycle::kToReschedule;
         w.tenant.post_visit_delay_ms = kHourMs;
         w.type.recall_interval_ms = 180 * kDayMs;
       },
       Event::kCancelled, Both(K::kCancellation, kNow), {}},
      {"event_patient_cancelled",
       [](World& w) { w.appointment.lifecycle = Lifecycle::kCancelledByPatient; },
       Event::kPatientCancelled, Both(K::kPatientCancelAck, kNow), {}},
      {"event_confirmed",
       [](World& w) { w.appointment.confirmed = true; }, Event::kConfirmed,
       Cat({Both(K::kConfirmAck, kNow), kReminder24}), {}},
      {"event_delay_alert",
       [](World& w) {
         w.appointment.start_ms = kNow + 2 * kHourMs;
         w.appointment.end_ms = kNow + 3 * kHourMs;
         w.appointment.delay_ms = 20 * kMinuteMs;
       },
       Event::kDelayAlert, Both(K::kDelayAlert, kNow),
       {{K::kReminder, "due time has passed"}}},
      {"event_delay_alert_status_set",
       [](World& w) {
         w.appointment.start_ms = kNow + 2 * kHourMs;
         w.appointment.end_ms = kNow + 3 * kHourMs;
         w.appointment.status = VisitStatus::kWaitingRoom;
       },
       Event::kDelayAlert, {}, {{K::kDelayAlert, "visit status is waiting_room"}}},
      {"event_delay_alert_started",
       [](World& w) {
         w.appointment.start_ms = kNow - kMinuteMs;
         w.appointment.end_ms = kNow + kHourMs;
       },
       Event::kDelayAlert, {}, {{K::kDelayAlert, "already started"}}},
      {"event_created_after_start",
       [](World& w) {
         w.appointment.start_ms = kNow - kHourMs;
         w.appointment.end_ms = kNow - 30 * kMinuteMs;
       },
       Event::kCreated, {},
       {{K::kConfirmation, "appointment has already started"},
        {K::kReminder, "due time has passed"}}},
      {"event_cancelled_during_visit",
       [](World& w) {
         w.appointment.start_ms = kNow - 10 * kMinuteMs;
         w.appointment.end_ms = kNow + 20 * kMinuteMs;
         w.appointment.lifecycle = Lifecycle::kCancelledByPractitioner;
       },
       Event::kCancelled, Both(K::kCancellation, kNow), {}},
      {"event_cancelled_after_end",
       [](World& w) {
         w.appointment.start_ms = kNow - kHourMs;
         w.appointment.end_ms = kNow - 30 * kMinuteMs;
         w.appointment.lifecycle = Lifecycle::kToReschedule;
       },
       Event::kCancelled, {}, {{K::kCancellation, "appointment is over"}}},

      {"event_modified_on_cancelled_appointment",
       [](World& w) { w.appointment.lifecycle = Lifecycle::kCancelledByPractitioner; },
       Event::kModified, {}, {{K::kChange, "appointment is cancelled"}}},

      // Lead time (§6.2: booked 4 h before with a 12 h minimum: no reminder).
      {"lead_time_4h_under_12h",
       [](World& w) {
         w.appointment.booked_at_ms = kNow;
         w.appointment.start_ms = kNow + 4 * kHourMs;
         w.appointment.end_ms = kNow + 5 * kHourMs;
         w.tenant.reminder_offsets_ms = {2 * kHourMs};
       },
       Event::kCreated, Both(K::kConfirmation, kNow),
       {{K::kReminder, "booked 4 h before the start, under the 12 h minimum lead time"}}},
      {"lead_time_booked_at_zero_is_now",
       [](World& w) {
         w.appointment.booked_at_ms = 0;
         w.appointment.start_ms = kNow + 11 * kHourMs;
         w.appointment.end_ms = kNow + 12 * kHourMs;
         w.tenant.reminder_offsets_ms = {2 * kHourMs};
       },
       Event::kCreated, Both(K::kConfirmation, kNow), {{K::kReminder, "booked 11 h before"}}},
      {"lead_time_exactly_minimum",
       [](World& w) {
         w.appointment.booked_at_ms = 0;
         w.appointment.start_ms = kNow + 12 * kHourMs;
         w.appointment.end_ms = kNow + 13 * kHourMs;
         w.tenant.reminder_offsets_ms = {2 * kHourMs};
       },
       Event::kCreated,
       Cat({Both(K::kConfirmation, kNow), Both(K::kReminder, kNow + 10 * kHourMs)}), {}},
      {"lead_time_pre_visit_and_second_reminder",
       [](World& w) {
         w.appointment.booked_at_ms = kNow;
         w.appointment.start_ms = kNow + 6 * kHourMs;
         w.appointment.end_ms = kNow + 7 * kHourMs;
         w.tenant.pre_visit_offset_ms = 3 * kHourMs;
         w.tenant.second_reminder = SecondReminderPolicy::kEverybody;
       },
       Event::kUpdated, {},
       {{K::kPreVisit, "minimum lead time"}, {K::kSecondReminder, "minimum lead time"}}},

      // Reminder offsets, the type's over the tenant's; the past ones left out.
      {"reminders_type_override_past_left_out",
       [](World& w) {
         w.type.reminder_offsets_ms = std::vector<int64_t>{72 * kHourMs, 48 * kHourMs, 24 * kHourMs};
         w.appointment.start_ms = kNow + 50 * kHourMs;
         w.appointment.end_ms = kNow + 51 * kHourMs;
         w.appointment.booked_at_ms = kNow - 10 * kDayMs;
       },
       Event::kUpdated,
       Cat({Both(K::kReminder, kNow + 2 * kHourMs), Both(K::kReminder, kNow + 26 * kHourMs)}),
       {{K::kReminder, "due time has passed (72 h before the start)"}}},
      {"reminders_empty_type_override_means_none",
       [](World& w) { w.type.reminder_offsets_ms = std::vector<int64_t>{}; }, Event::kUpdated,
       {}, {}},
      {"reminder_due_exactly_now_is_past",
       [](World& w) {
         w.appointment.start_ms = kNow + 24 * kHourMs;
         w.appointment.end_ms = kNow + 25 * kHourMs;
       },
       Event::kUpdated, {}, {{K::kReminder, "due time has passed (24 h before the start)"}}},
      {"reminders_repeated_offset_once",
       [](World& w) { w.tenant.reminder_offsets_ms = {24 * kHourMs, 24 * kHourMs}; },
       Event::kUpdated, kReminder24, {}},
      {"reminders_offsets_seconds_apart_are_two_messages",
       [](World& w) { w.tenant.reminder_offsets_ms = {8'000, 4'000}; }, Event::kUpdated,
       Cat({Both(K::kReminder, kStart - 8'000), Both(K::kReminder, kStart - 4'000)}), {}},
      {"reminders_non_positive_offset",
       [](World& w) { w.tenant.reminder_offsets_ms = {-kHourMs, 24 * kHourMs}; }, Event::kUpdated,
       kReminder24, {{K::kReminder, "offset -1 h is not before the start"}}},

      // Second reminder: SMS only, by policy, never once confirmed.
      {"second_reminder_off", [](World&) {}, Event::kUpdated, kReminder24, {}},
      {"second_reminder_everybody",
       [](World& w) { w.tenant.second_reminder = SecondReminderPolicy::kEverybody; },
       Event::kUpdated,
       Cat({kReminder24, {{K::kSecondReminder, kSms, kStart - 2 * kHourMs}}}), {}},
      {"second_reminder_unreliable_at_threshold",
       [](World& w) {
         w.tenant.second_reminder = SecondReminderPolicy::kUnreliable;
         w.patient.appointments = 10;
         w.patient.no_shows = 3;
       },
       Event::kUpdated,
       Cat({kReminder24, {{K::kSecondReminder, kSms, kStart - 2 * kHourMs}}}), {}},
      {"second_reminder_unreliable_reliable_patient",
       [](World& w) {
         w.tenant.second_reminder = SecondReminderPolicy::kUnreliable;
         w.patient.appointments = 10;
         w.patient.no_shows = 2;
       },
       Event::kUpdated, kReminder24,
       {{K::kSecondReminder, "no-show rate under the threshold"}}},
      {"second_reminder_unreliable_no_history",
       [](World& w) { w.tenant.second_reminder = SecondReminderPolicy::kUnreliable; },
       Event::kUpdated, kReminder24, {{K::kSecondReminder, "no attendance history"}}},
      {"second_reminder_not_once_confirmed",
       [](World& w) {
         w.tenant.second_reminder = SecondReminderPolicy::kEverybody;
         w.appointment.confirmed = true;
       },
       Event::kConfirmed, Cat({Both(K::kConfirmAck, kNow), kReminder24}),
       {{K::kSecondReminder, "confirmed by the patient"}}},
      {"second_reminder_sms_switched_off",
       [](World& w) {
         w.tenant.second_reminder = SecondReminderPolicy::kEverybody;
         w.patient.channels = ChannelBit(kEmail);
       },
       Event::kUpdated, {{K::kReminder, kEmail, kStart - 24 * kHourMs}},
       {{K::kSecondReminder, "switched off for the patient", kSms}}},

      // After the visit: post-visit message and recall.
      {"post_visit_and_recall",
       [](World& w) {
         w.tenant.post_visit_delay_ms = 2 * kHourMs;
         w.type.recall_interval_ms = 180 * kDayMs;
       },
       Event::kUpdated,
       Cat({kReminder24, Both(K::kPostVisit, kEnd + 2 * kHourMs),
            Both(K::kRecall, kEnd + 180 * kDayMs)}),
       {}},
      {"post_visit_and_recall_status_seen",
       [](World& w) {
         w.tenant.post_visit_delay_ms = 2 * kHourMs;
         w.type.recall_interval_ms = 180 * kDayMs;
         w.appointment.status = VisitStatus::kSeen;
       },
       Event::kStatusChanged,
       Cat({kReminder24, Both(K::kPostVisit, kEnd + 2 * kHourMs),
            Both(K::kRecall, kEnd + 180 * kDayMs)}),
       {}},
      {"post_visit_and_recall_status_absent",
       [](World& w) {
         w.tenant.post_visit_delay_ms = 2 * kHourMs;
         w.type.recall_interval_ms = 180 * kDayMs;
         w.appointment.status = VisitStatus::kAbsent;
       },
       Event::kStatusChanged, kReminder24,
       {{K::kPostVisit, "visit status is absent"}, {K::kRecall, "visit status is absent"}}},
      {"post_visit_and_recall_status_excused",
       [](World& w) {
         w.tenant.post_visit_delay_ms = 2 * kHourMs;
         w.type.recall_interval_ms = 180 * kDayMs;
         w.appointment.status = VisitStatus::kExcused;
       },
       Event::kStatusChanged, kReminder24,
       {{K::kPostVisit, "visit status is excused"}, {K::kRecall, "visit status is excused"}}},
      {"post_visit_due_passed",
       [](World& w) {
         w.tenant.post_visit_delay_ms = kHourMs;
         w.type.recall_interval_ms = 180 * kDayMs;
         w.appointment.start_ms = kNow - 3 * kHourMs;
         w.appointment.end_ms = kNow - 2 * kHourMs;
         w.appointment.status = VisitStatus::kSeen;
       },
       Event::kStatusChanged, Both(K::kRecall, kNow - 2 * kHourMs + 180 * kDayMs),
       {{K::kPostVisit, "due time has passed"}, {K::kReminder, "due time has passed"}}},

      {"post_visit_due_exactly_now_is_past",
       [](World& w) {
         w.tenant.post_visit_delay_ms = kHourMs;
         w.appointment.start_ms = kNow - 2 * kHourMs;
         w.appointment.end_ms = kNow - kHourMs;
       },
       Event::kStatusChanged, {}, {{K::kPostVisit, "due time has passed"}}},

      // online_only.
      {"online_only_not_booked_online",
       [](World& w) { w.tenant.online_only = KindBit(K::kConfirmation); }, Event::kCreated,
       kReminder24, {{K::kConfirmation, "only for appointments booked online"}}},
      {"online_only_booked_online",
       [](World& w) {
         w.tenant.online_only = KindBit(K::kConfirmation);
         w.appointment.booked_online = true;
       },
       Event::kCreated, Cat({Both(K::kConfirmation, kNow), kReminder24}), {}},
      {"online_only_reminder",
       [](World& w) { w.tenant.online_only = KindBit(K::kReminder); }, Event::kCreated,
       Both(K::kConfirmation, kNow), {{K::kReminder, "only for appointments booked online"}}},

      // Channel switches at each of the five levels, and addresses.
      {"channel_tenant",
       [](World& w) { w.tenant.channels = ChannelBit(kSms); }, Event::kCreated,
       {{K::kConfirmation, kSms, kNow}, {K::kReminder, kSms, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "switched off for the tenant", kEmail},
        {K::kReminder, "switched off for the tenant", kEmail}}},
      {"channel_calendar",
       [](World& w) { w.calendar.channels = ChannelBit(kSms); }, Event::kCreated,
       {{K::kConfirmation, kSms, kNow}, {K::kReminder, kSms, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "switched off for the calendar", kEmail}}},
      {"channel_type",
       [](World& w) { w.type.channels = ChannelBit(kEmail); }, Event::kCreated,
       {{K::kConfirmation, kEmail, kNow}, {K::kReminder, kEmail, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "switched off for the appointment type", kSms}}},
      {"channel_patient",
       [](World& w) { w.patient.channels = ChannelBit(kEmail); }, Event::kCreated,
       {{K::kConfirmation, kEmail, kNow}, {K::kReminder, kEmail, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "switched off for the patient", kSms}}},
      {"channel_appointment",
       [](World& w) { w.appointment.channels = ChannelBit(kSms); }, Event::kCreated,
       {{K::kConfirmation, kSms, kNow}, {K::kReminder, kSms, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "switched off for the appointment", kEmail}}},
      {"channel_tenant_named_before_calendar",
       [](World& w) {
         w.tenant.channels = ChannelBit(kSms);
         w.calendar.channels = ChannelBit(kSms);
       },
       Event::kCreated,
       {{K::kConfirmation, kSms, kNow}, {K::kReminder, kSms, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "switched off for the tenant", kEmail}}},
      {"channel_all_four",
       [](World& w) {
         w.tenant.channels = kAllChannels;
         w.patient.push_token = "tok";
       },
       Event::kCreated,
       {{K::kConfirmation, kSms, kNow},
        {K::kConfirmation, kEmail, kNow},
        {K::kConfirmation, kVoice, kNow},
        {K::kConfirmation, kPush, kNow},
        {K::kReminder, kSms, kStart - 24 * kHourMs},
        {K::kReminder, kEmail, kStart - 24 * kHourMs},
        {K::kReminder, kVoice, kStart - 24 * kHourMs},
        {K::kReminder, kPush, kStart - 24 * kHourMs}},
       {}},
      {"address_missing",
       [](World& w) {
         w.tenant.channels = kAllChannels;
         w.patient.mobile.clear();
       },
       Event::kCreated,
       {{K::kConfirmation, kEmail, kNow}, {K::kReminder, kEmail, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "no mobile number", kSms},
        {K::kConfirmation, "no mobile number", kVoice},
        {K::kConfirmation, "no push token", kPush},
        {K::kReminder, "no mobile number", kSms}}},
      {"address_missing_email",
       [](World& w) { w.patient.email.clear(); }, Event::kCreated,
       {{K::kConfirmation, kSms, kNow}, {K::kReminder, kSms, kStart - 24 * kHourMs}},
       {{K::kConfirmation, "no e-mail address", kEmail}}},

      // Master switch, patient switch.
      {"tenant_switched_off",
       [](World& w) {
         w.tenant.enabled = false;
         w.tenant.notify_practitioner = true;
       },
       Event::kCreated, {},
       {{K::kConfirmation, "tenant switched off"},
        {K::kReminder, "tenant switched off"},
        {K::kPractitioner, "tenant switched off"}}},
      {"patient_notifications_off",
       [](World& w) { w.patient.notifications = false; }, Event::kCreated, {},
       {{K::kConfirmation, "patient has notifications switched off"},
        {K::kReminder, "patient has notifications switched off"}}},

      // Practitioner notification.
      {"practitioner_created",
       [](World& w) { w.tenant.notify_practitioner = true; }, Event::kCreated,
       Cat({Both(K::kConfirmation, kNow), {{K::kPractitioner, kEmail, kNow}}, kReminder24}), {}},
      {"practitioner_modified",
       [](World& w) { w.tenant.notify_practitioner = true; }, Event::kModified,
       Cat({Both(K::kChange, kNow), {{K::kPractitioner, kEmail, kNow}}, kReminder24}), {}},
      {"practitioner_cancelled",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.appointment.lifecycle = Lifecycle::kCancelledByPractitioner;
       },
       Event::kCancelled,
       Cat({Both(K::kCancellation, kNow), {{K::kPractitioner, kEmail, kNow}}}), {}},
      {"practitioner_patient_cancelled",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.appointment.lifecycle = Lifecycle::kCancelledByPatient;
       },
       Event::kPatientCancelled,
       Cat({Both(K::kPatientCancelAck, kNow), {{K::kPractitioner, kEmail, kNow}}}), {}},
      {"practitioner_not_for_confirmed",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.appointment.confirmed = true;
       },
       Event::kConfirmed, Cat({Both(K::kConfirmAck, kNow), kReminder24}), {}},
      {"practitioner_off", [](World&) {}, Event::kCreated,
       Cat({Both(K::kConfirmation, kNow), kReminder24}), {}},
      {"practitioner_ignores_patient_switches",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.patient.notifications = false;
         w.calendar.channels = 0;
       },
       Event::kCreated, {{K::kPractitioner, kEmail, kNow}},
       {{K::kConfirmation, "patient has notifications switched off"}}},
      {"practitioner_ignores_type_mode",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.type.mode = Mode::kNoAutomated;
       },
       Event::kCreated, {{K::kPractitioner, kEmail, kNow}},
       {{K::kConfirmation, "sends nothing automated"}}},
      {"practitioner_no_calendar_email",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.calendar.email.clear();
       },
       Event::kCreated, Cat({Both(K::kConfirmation, kNow), kReminder24}),
       {{K::kPractitioner, "calendar has no e-mail address", kEmail}}},
      {"practitioner_tenant_email_off",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.tenant.channels = ChannelBit(kSms);
       },
       Event::kCreated,
       {{K::kConfirmation, kSms, kNow}, {K::kReminder, kSms, kStart - 24 * kHourMs}},
       {{K::kPractitioner, "switched off for the tenant", kEmail}}},
      {"practitioner_online_only",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.tenant.online_only = KindBit(K::kPractitioner);
       },
       Event::kCreated, Cat({Both(K::kConfirmation, kNow), kReminder24}),
       {{K::kPractitioner, "only for appointments booked online"}}},
      {"practitioner_not_after_start",
       [](World& w) {
         w.tenant.notify_practitioner = true;
         w.appointment.start_ms = kNow - kHourMs;
         w.appointment.end_ms = kNow - 30 * kMinuteMs;
       },
       Event::kModified, {}, {{K::kPractitioner, "already started"}}},
  };
  return cases;
}

// gtest prints a failing parameter with this, not as bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PlannerTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(PlannerTableTest, Plans) {
  const Case& c = GetParam();
  World w;
  c.setup(w);
  PlanResult r = w.Run(c.event);

  std::vector<std::string> want;
  for (const auto& m : c.messages) want.push_back(Describe(m.kind, m.channel, m.due));
  EXPECT_EQ(Describe(r), want) << "omissions:" << AllOmissions(r);

  for (const auto& o : c.omitted) {
    bool found = false;
    for (const auto& got : r.omitted) {
      found |= got.kind == o.kind && (!o.channel || got.channel == o.channel) &&
               got.reason.find(o.reason) != std::string::npos;
    }
    EXPECT_TRUE(found) << "no omission " << KindName(o.kind) << "/"
                       << (o.channel ? ChannelName(*o.channel) : "*") << " \"" << o.reason
                       << "\"; got:" << AllOmissions(r);
  }
  // Every omission tells users something.
  for (const auto& got : r.omitted) EXPECT_FALSE(got.reason.empty()) << KindName(got.kind);
  // Nothing is both planned and left out on the same channel.
  for (const auto& m : r.messages) {
    for (const auto& got : r.omitted) {
      EXPECT_FALSE(got.kind == m.kind && got.channel == m.channel)
          << Describe(got);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, PlannerTableTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// The fields the table does not look at: recipients, occurrences, expiries.
TEST(PlannerTest, RecipientsOccurrencesAndExpiries) {
  World w;
  w.tenant.notify_practitioner = true;
  w.tenant.channels = kAllChannels;
  w.patient.push_token = "tok";
  PlanResult r = w.Run(Event::kCreated);
  ASSERT_EQ(r.messages.size(), 9u);
  for (const auto& m : r.messages) {
    SCOPED_TRACE(Describe(m.kind, m.channel, m.due_ms));
    switch (m.channel) {
      case kSms:
      case kVoice: EXPECT_EQ(m.recipient, "+33600000001"); break;
      case kEmail:
        EXPECT_EQ(m.recipient,
                  m.kind == K::kPractitioner ? "dr@example.org" : "pat@example.org");
        break;
      case kPush: EXPECT_EQ(m.recipient, "tok"); break;
    }
    EXPECT_EQ(m.expiry_ms, kStart);
    uint32_t want_occurrence = m.kind == K::kReminder       ? 24u * 3600u
                               : m.kind == K::kPractitioner ? 3u
                                                            : 0u;
    EXPECT_EQ(m.occurrence, want_occurrence);
  }
}

TEST(PlannerTest, NoticeOccurrenceIsTheRevision) {
  World w;
  w.appointment.revision = 7;
  PlanResult r = w.Run(Event::kModified);
  ASSERT_FALSE(r.messages.empty());
  EXPECT_EQ(r.messages[0].kind, K::kChange);
  EXPECT_EQ(r.messages[0].occurrence, 7u);
  EXPECT_EQ(r.messages[0].due_ms, kNow);
}

TEST(PlannerTest, CancellationExpiresAtTheEnd) {
  World w;
  w.appointment.lifecycle = Lifecycle::kCancelledByPractitioner;
  PlanResult r = w.Run(Event::kCancelled);
  ASSERT_EQ(r.messages.size(), 2u);
  for (const auto& m : r.messages) EXPECT_EQ(m.expiry_ms, kEnd);
}

TEST(PlannerTest, DelayAlertExpiresAtTheNewArrivalTime) {
  World w;
  w.appointment.start_ms = kNow + kHourMs;
  w.appointment.end_ms = kNow + 2 * kHourMs;
  w.appointment.delay_ms = 25 * kMinuteMs;
  w.appointment.revision = 9;
  PlanResult r = w.Run(Event::kDelayAlert);
  ASSERT_EQ(r.messages.size(), 2u);
  for (const auto& m : r.messages) {
    EXPECT_EQ(m.kind, K::kDelayAlert);
    EXPECT_EQ(m.expiry_ms, kNow + kHourMs + 25 * kMinuteMs);
    EXPECT_EQ(m.occurrence, 9u);
  }
}

TEST(PlannerTest, AfterVisitMessagesHaveNoExpiry) {
  World w;
  w.tenant.post_visit_delay_ms = kHourMs;
  w.type.recall_interval_ms = 30 * kDayMs;
  PlanResult r = w.Run(Event::kUpdated);
  int seen = 0;
  for (const auto& m : r.messages) {
    if (m.kind == K::kPostVisit || m.kind == K::kRecall) {
      ++seen;
      EXPECT_EQ(m.expiry_ms, 0);
      EXPECT_EQ(m.occurrence, 0u);
    } else {
      EXPECT_EQ(m.expiry_ms, kStart) << Describe(m.kind, m.channel, m.due_ms);
    }
  }
  EXPECT_EQ(seen, 4);
}

TEST(PlannerTest, CancelledAppointmentSchedulesNothing) {
  World w;
  w.appointment.lifecycle = Lifecycle::kCancelledByPatient;
  w.tenant.pre_visit_offset_ms = 36 * kHourMs;
  w.tenant.second_reminder = SecondReminderPolicy::kEverybody;
  w.tenant.post_visit_delay_ms = kHourMs;
  w.type.recall_interval_ms = 30 * kDayMs;
  EXPECT_TRUE(w.Run(Event::kUpdated).messages.empty());
  EXPECT_TRUE(w.Run(Event::kStatusChanged).messages.empty());
}

// Everything switched on: sorted by (due, kind, channel), keys unique, and
// the same input plans the same output.
TEST(PlannerTest, SortedUniqueDeterministic) {
  World w;
  w.tenant.channels = kAllChannels;
  w.tenant.notify_practitioner = true;
  w.tenant.pre_visit_offset_ms = 24 * kHourMs;  // same due as the 24 h reminder
  w.tenant.second_reminder = SecondReminderPolicy::kEverybody;
  w.tenant.post_visit_delay_ms = kHourMs;
  w.type.reminder_offsets_ms = std::vector<int64_t>{24 * kHourMs, 72 * kHourMs - kMinuteMs,
                                                    2 * kHourMs, 24 * kHourMs};
  w.type.recall_interval_ms = 30 * kDayMs;
  w.patient.push_token = "tok";
  PlanResult r = w.Run(Event::kCreated);
  // 4 confirmations + practitioner + 3 reminders x 4 + pre-visit x 4 +
  // second reminder (sms) + post-visit x 4 + recall x 4.
  EXPECT_EQ(r.messages.size(), 4u + 1u + 12u + 4u + 1u + 4u + 4u);
  std::set<std::string> keys;
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const auto& m = r.messages[i];
    EXPECT_TRUE(keys.insert(MessageKey("apt", m.kind, m.channel, m.occurrence)).second)
        << Describe(m.kind, m.channel, m.due_ms);
    if (i > 0) {
      const auto& p = r.messages[i - 1];
      EXPECT_TRUE(std::tie(p.due_ms, p.kind, p.channel) < std::tie(m.due_ms, m.kind, m.channel))
          << Describe(p.kind, p.channel, p.due_ms) << " before "
          << Describe(m.kind, m.channel, m.due_ms);
    }
  }
  PlanResult again = w.Run(Event::kCreated);
  EXPECT_EQ(Describe(again), Describe(r));
}

}  // namespace
}  // namespace rappel::server::plan

namespace rappel::server::plan {
namespace {

TEST(PlannerOmissionsTest, ChannelsTheTenantDoesNotUseAreLeftOutOfTheListOnRequest) {
  Tenant tenant;
  tenant.channels = ChannelBit(Channel::kSms) | ChannelBit(Channel::kEmail);
  tenant.kind_channels.fill(kAllChannels);
  Calendar calendar;
  AppointmentType type;
  type.mode = Mode::kOnSite;
  Patient patient;
  patient.mobile = "+33600000000";  // no e-mail
  Appointment a;
  a.start_ms = 10 * kDayMs;
  a.end_ms = a.start_ms + kHourMs;
  a.booked_at_ms = 0;
  auto reasons = [&](bool omit_tenant_channels) {
    std::vector<std::string> out;
    PlanInput in{tenant, calendar, type, patient, a, Event::kCreated, kDayMs, omit_tenant_channels};
    for (const Omission& o : Plan(in).omitted) out.push_back(o.reason);
    return out;
  };
  auto all = reasons(true);
  auto lean = reasons(false);
  EXPECT_NE(std::find(all.begin(), all.end(), "switched off for the tenant"), all.end());
  EXPECT_EQ(std::find(lean.begin(), lean.end(), "switched off for the tenant"), lean.end());
  // What is news stays: the missing e-mail address.
  EXPECT_NE(std::find(lean.begin(), lean.end(), "no e-mail address"), lean.end());
  EXPECT_EQ(Plan(PlanInput{tenant, calendar, type, patient, a, Event::kCreated, kDayMs, false})
                .messages.size(),
            Plan(PlanInput{tenant, calendar, type, patient, a, Event::kCreated, kDayMs, true})
                .messages.size());
}

}  // namespace
}  // namespace rappel::server::plan
