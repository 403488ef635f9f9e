// The appointment model: the configuration objects a platform sets (tenant,
// calendar, appointment type, patient), the appointment itself, and the
// messages the planner derives from them.
// Plain values; the AppointmentBook (book.h) owns the live ones.
//
// Durations are milliseconds, instants unix milliseconds (UTC); local
// calendar times are computed only when a message is rendered, in the
// tenant's IANA time zone (render.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/engine/reminder.h"
#include "server/plan/quiet_hours.h"
#include "server/plan/tenant_zone.h"

namespace rappel::server::plan {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;

// What a message is about: the event that causes it, and when it goes (the
// planner's rules, planner.h).
enum class MessageKind : uint8_t {
  kConfirmation = 1,      // created: at once
  kChange = 2,            // modified (time, date, calendar, mode): at once
  kCancellation = 3,      // cancelled by the practitioner / to reschedule / absence: with a rebook link
  kPatientCancelAck = 4,  // cancelled by the patient
  kConfirmAck = 5,        // confirmed by the patient
  kReminder = 6,          // at each reminder offset before the start
  kPreVisit = 7,          // pre-visit reminder (questionnaire when on site)
  kSecondReminder = 8,    // second SMS reminder, by policy, not once confirmed
  kPostVisit = 9,         // thanks / survey, a delay after the end
  kRecall = 10,           // "time to book your next appointment"
  kPractitioner = 11,     // to the calendar's practitioner
  kDelayAlert = 12,       // the calendar runs late: new arrival time
};
inline constexpr int kMessageKindCount = 12;
std::string_view KindName(MessageKind k);
std::optional<MessageKind> ParseKind(std::string_view name);
using KindMask = uint16_t;  // bit (1 << kind)
inline constexpr KindMask KindBit(MessageKind k) { return KindMask(1u << static_cast<int>(k)); }

// Communication mode of an appointment type: what may be sent about its
// appointments, and how the message says the visit happens.
enum class Mode : uint8_t {
  kOnSite = 1,           // pre-visit questionnaire may be sent
  kTelemedicine = 2,
  kPhone = 3,            // no questionnaire; the message says it is by phone
  kUnspecified = 4,      // the message just says there is an appointment
  kNoAutomated = 5,      // no automated communication
  kNoCommunication = 6,  // no automated nor manual communication
  kHidden = 7,           // no communication, hidden from the patient portal (tasks)
};
std::string_view ModeName(Mode m);
std::optional<Mode> ParseMode(std::string_view name);
// The last three modes send nothing automated.
inline bool SendsAutomated(Mode m) { return m <= Mode::kUnspecified; }

// What the clinic recorded about the visit. Any status but kNone means the
// appointment is no longer "upcoming": nothing more goes before the visit
// (seed 004); clearing it lets later messages go again.
enum class VisitStatus : uint8_t { kNone = 0, kSeen = 1, kWaitingRoom = 2, kAbsent = 3, kExcused = 4 };
std::string_view VisitStatusName(VisitStatus s);
std::optional<VisitStatus> ParseVisitStatus(std::string_view name);

enum class Lifecycle : uint8_t {
  kActive = 0,
  kCancelledByPractitioner = 1,
  kCancelledByPatient = 2,
  kToReschedule = 3,  // "à reporter, à prévenir": cancelled, patient told to rebook
};
std::string_view LifecycleName(Lifecycle l);
inline bool IsCancelled(Lifecycle l) { return l != Lifecycle::kActive; }

enum class SecondReminderPolicy : uint8_t { kOff = 0, kEverybody = 1, kUnreliable = 2 };
std::string_view PolicyName(SecondReminderPolicy p);
std::optional<SecondReminderPolicy> ParsePolicy(std::string_view name);

// Channels a switch allows: bit (1 << Channel).
using ChannelMask = uint8_t;
inline constexpr ChannelMask ChannelBit(Channel c) { return ChannelMask(1u << static_cast<int>(c)); }
inline constexpr ChannelMask kAllChannels = 0b11110;
inline constexpr ChannelMask kDefaultChannels = (1u << 1) | (1u << 2);  // sms, email

// The channels each message kind goes by, before the five switches narrow
// them; indexed by MessageKind (index 0 unused).
using KindChannels = std::array<ChannelMask, kMessageKindCount + 1>;
// The default grid: notices by e-mail, the cancellation (urgent, with its
// rebook link) by SMS and e-mail, reminders by SMS, what comes after the
// visit by e-mail, the delay alert by SMS; push with the urgent ones. With
// the tenant's channel_fallback a kind none of whose channels reaches the
// patient goes on another (planner.h), so nobody reachable loses a message.
inline constexpr KindChannels kDefaultKindChannels = [] {
  constexpr ChannelMask sms = 1u << 1, email = 1u << 2, push = 1u << 4;
  KindChannels g{};
  g[1] = email;                 // confirmation
  g[2] = email;                 // change
  g[3] = sms | email | push;    // cancellation
  g[4] = email;                 // patient_cancel_ack
  g[5] = email;                 // confirm_ack
  g[6] = sms | push;            // reminder
  g[7] = email;                 // pre_visit
  g[8] = sms;                   // second_reminder (SMS only)
  g[9] = email;                 // post_visit
  g[10] = email;                // recall
  g[11] = email;                // practitioner (e-mail only)
  g[12] = sms | push;           // delay_alert
  return g;
}();
// The kinds that carry the tenant's message to patients by default.
inline constexpr KindMask kDefaultMessageKinds =
    (1u << 1) | (1u << 2) | (1u << 6) | (1u << 7) | (1u << 8);

struct Tenant {
  uint32_t id = 0;
  std::string name;        // establishment name, as patients see it
  std::string phone;       // establishment phone
  std::string website;
  std::string time_zone = "Europe/Paris";  // IANA name
  TenantZone zone{"Europe/Paris"};         // time_zone, resolved (FromJson)
  std::string locale = "fr";               // "fr" or "en"
  bool enabled = true;                     // master switch
  ChannelMask channels = kDefaultChannels;
  // The channels of each kind (overridable per appointment type); the
  // switches then narrow them.
  KindChannels kind_channels = kDefaultKindChannels;
  // A kind none of whose channels can reach the patient (switched off, no
  // address) goes on the first that can of sms, email, push (planner.h).
  bool channel_fallback = true;
  std::vector<int64_t> reminder_offsets_ms = {24 * kHourMs};
  int64_t pre_visit_offset_ms = 0;       // 0: no pre-visit reminder
  int64_t min_lead_ms = 12 * kHourMs;    // booked later than this before the start: no reminder
  SecondReminderPolicy second_reminder = SecondReminderPolicy::kOff;
  int64_t second_reminder_offset_ms = 2 * kHourMs;
  double no_show_threshold = 0.30;       // unreliable: no-shows / appointments at or above
  int64_t post_visit_delay_ms = 0;       // 0: no post-visit message
  // Patient self-service windows (the links of token.h), before the start.
  int64_t confirm_window_ms = 48 * kHourMs;
  bool patient_cancel_allowed = true;
  int64_t cancel_until_ms = 24 * kHourMs;  // cancel allowed until this long before
  bool arrival_allowed = false;
  int64_t arrival_window_ms = 30 * kMinuteMs;
  KindMask online_only = 0;  // kinds sent only for appointments booked online
  bool notify_practitioner = false;
  std::string message_fr;    // the tenant's message to patients
  std::string message_en;
  KindMask message_kinds = kDefaultMessageKinds;  // the kinds it goes in ({tenant_message})
  std::string sender_name;   // sender identity
  std::string sender_email;
  std::string sender_sms;    // SMS sender id
  std::string action_url;    // base of self-service links: <action_url>?token=...
  std::string rebook_url;
  int64_t audit_retention_ms = 90 * kDayMs;
  // Allowed sending hours per local weekday and closed dates (quiet_hours.h);
  // disabled: any time. Applied when messages are planned.
  QuietHours quiet_hours;
  // Credits (credits.h). Not metered: nothing is counted or
  // held back for credit.
  bool metered = false;
  uint32_t voice_credits = 1;        // per voice message
  int64_t credit_alert_below = 0;    // alert the administrators when available credit falls below
  bool credit_fallback_email = false;  // an SMS that cannot be paid goes by e-mail instead
  std::string admin_email;           // where alerts go
  // Consent and caps.
  bool require_consent = false;      // opt-in: nothing automated without the patient's consent
  uint32_t max_reminders_per_day = 0;  // per patient, in the tenant's local day; 0: no cap
  bool merge_household_sms = false;  // one SMS for same-day appointments of one phone number
  std::string secret;        // HMAC key of action tokens; generated, never sent out
  // Which timing offsets were given in whole days ("2d", objects_json.h):
  // those keep the local time of day across a daylight-saving change; the
  // others are exact durations. Bit i: reminder_offsets_ms[i].
  uint32_t reminder_offsets_in_days = 0;
  bool pre_visit_offset_in_days = false;
  bool second_reminder_offset_in_days = false;
  bool post_visit_delay_in_days = false;
};

// The tenant's local day holding the instant (0 when its zone is unknown).
inline int64_t LocalDayOf(const Tenant& t, int64_t at_ms) {
  return t.zone.ok() ? t.zone.LocalDay(at_ms) : 0;
}

struct Calendar {
  uint32_t tenant = 0;
  std::string id;
  std::string name;   // practitioner or resource, as patients see it
  std::string email;  // practitioner notifications
  ChannelMask channels = kAllChannels;
};

struct AppointmentType {
  uint32_t tenant = 0;
  std::string id;
  std::string name;
  Mode mode = Mode::kNoAutomated;  // the seeds' default: no automated communication
  bool active = true;              // inactive types cannot be booked
  ChannelMask channels = kAllChannels;
  // Overrides the tenant's kind_channels for the kinds in kind_channels_set.
  KindChannels kind_channels{};
  KindMask kind_channels_set = 0;
  std::optional<std::vector<int64_t>> reminder_offsets_ms;  // overrides the tenant's
  int64_t recall_interval_ms = 0;                            // 0: no recall
  std::string prerequisites;                                 // "fast 12 hours before"
  std::string price;
  int64_t duration_ms = 0;
  // As the tenant's (bit i: (*reminder_offsets_ms)[i] was given in days).
  uint32_t reminder_offsets_in_days = 0;
  bool recall_interval_in_days = false;
};

struct Patient {
  uint32_t tenant = 0;
  std::string id;
  std::string first_name;
  std::string last_name;
  std::string email;
  std::string mobile;      // E.164
  std::string push_token;
  std::string locale;      // empty: the tenant's
  bool notifications = true;
  bool consent = false;    // opt-in given
  std::string household;   // people who share contact details share this
  ChannelMask channels = kAllChannels;
  uint32_t appointments = 0;  // attendance: visits with a final status
  uint32_t no_shows = 0;
};

struct Appointment {
  uint32_t tenant = 0;
  std::string id;
  std::string calendar;
  std::string type;
  std::string patient;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string location;
  std::string notes;
  bool booked_online = false;
  int64_t booked_at_ms = 0;    // 0: when rappel first heard of it
  ChannelMask channels = kAllChannels;
  uint64_t version = 0;        // the platform's; an older one is refused as stale
  // rappel's own, bumped by every change (including self-service): planned
  // messages carry it.
  uint32_t revision = 0;
  // Bumped only when what a self-service link acts on changes: created, time,
  // calendar, location, patient or mode moved, or booked again after a
  // cancellation. Action tokens carry it, so confirming or telling arrival
  // leaves the other links of the same message good.
  uint32_t schedule_revision = 0;
  // Bit (1 << Action) per self-service action redeemed at schedule_revision:
  // each token is good once for its own action. Cleared with a new
  // schedule_revision.
  uint8_t links_used = 0;
  // When schedule_revision last changed (booked, moved, booked again): a
  // reminder already due then is left out, whatever the sending hours say.
  // 0: unknown (the planner takes its now).
  int64_t scheduled_at_ms = 0;
  Lifecycle lifecycle = Lifecycle::kActive;
  VisitStatus status = VisitStatus::kNone;
  bool confirmed = false;
  bool arrived = false;
  int64_t delay_ms = 0;        // the calendar's running delay, from the last delay alert
};

// Whether `after` moves `before`: a new start or end, calendar, location,
// patient, or mode of its type (`before_mode`, `after_mode`: the modes of
// their types). A move takes a new schedule_revision and scheduled_at_ms
// and is told by a change notice; anything else is a plain update. The
// upsert and its dry run decide by this one test, so the dry run plans
// what the upsert will.
bool IsScheduleChange(const Appointment& before, Mode before_mode, const Appointment& after,
                      Mode after_mode);

// What happened to an appointment: the planner's input event.
enum class Event : uint8_t {
  kCreated,
  kModified,           // time, date, calendar, type/mode, location changed
  kUpdated,            // other fields changed: re-plan, no change notice
  kCancelled,          // by the practitioner, to reschedule, or absence
  kPatientCancelled,
  kConfirmed,
  kStatusChanged,
  kDelayAlert,
};
// "created", "cancelled by the patient"...: as the audit and dry run say it.
std::string_view EventName(Event e);

// The reminders proper (the daily cap and household SMS apply to them).
inline bool IsReminderKind(MessageKind k) {
  return k == MessageKind::kReminder || k == MessageKind::kSecondReminder ||
         k == MessageKind::kPreVisit;
}

// The channels `kind` goes by for an appointment of `type`: the type's
// override if it has one for the kind (*from_type set), else the tenant's.
inline ChannelMask KindChannelsOf(const Tenant& t, const AppointmentType& type, MessageKind kind,
                                  bool* from_type = nullptr) {
  auto k = static_cast<size_t>(kind);
  bool own = (type.kind_channels_set & KindBit(kind)) != 0;
  if (from_type != nullptr) *from_type = own;
  return own ? type.kind_channels[k] : t.kind_channels[k];
}

// Everything the planner reads. References stay valid during Plan().
struct PlanInput {
  const Tenant& tenant;
  const Calendar& calendar;
  const AppointmentType& type;
  const Patient& patient;
  const Appointment& appointment;  // as it is after the event
  Event event;
  int64_t now_ms;
  // Whether channels the tenant does not use at all are listed as omitted
  // (the dry run shows them; the audit and the hot path do without).
  bool omit_tenant_channels = true;
  // Channels whose address (the patient's) replied STOP and has not opted in
  // again since.
  ChannelMask stopped_channels = 0;
};

// One message to schedule. Its key (MessageKey) is its stable message id.
struct PlannedMessage {
  MessageKind kind;
  Channel channel;
  uint32_t occurrence = 0;  // distinguishes sends of one kind: see MessageKey
  int64_t due_ms = 0;
  int64_t expiry_ms = 0;    // 0: none; a message due after it is dropped
  std::string recipient;    // address on that channel
  bool moved_by_quiet_hours = false;  // due_ms is the sending hours' choice, not the rule's
};

// A message the rules left out, and why (for the dry run and the audit).
struct Omission {
  MessageKind kind;
  std::optional<Channel> channel;  // nullopt: every channel
  std::string reason;
};

struct PlanResult {
  std::vector<PlannedMessage> messages;
  std::vector<Omission> omitted;
};

// Keys of planned messages in the engine: "@a/<appointment>/<kind>/<channel>/<occurrence>",
// unique within the tenant. The "@" prefix is reserved: clients cannot
// schedule raw reminders under it.
inline constexpr std::string_view kReservedKeyPrefix = "@";
// The occurrence bit of a message sent now on an operator's request
// (AppointmentCommands SendNow), so it never shares a key with a planned
// one: kSendNowOccurrence | the number of the audit record it writes (those
// only grow: each send's id is new, however many records the appointment
// keeps).
inline constexpr uint32_t kSendNowOccurrence = 1u << 31;
std::string MessageKey(std::string_view appointment_id, MessageKind kind, Channel channel,
                       uint32_t occurrence);
struct ParsedMessageKey {
  std::string_view appointment_id;
  MessageKind kind;
  Channel channel;
  uint32_t occurrence;
};
std::optional<ParsedMessageKey> ParseMessageKey(std::string_view key);

// What happened, as a notice tells it (the {event} template variables,
// render.h): the planner's Event, with who cancelled and the absence told
// apart.
enum class Cause : uint8_t {
  kNone = 0,  // not told (a payload of an older version): taken from the kind
  kCreated = 1,
  kModified = 2,
  kCancelledByPractitioner = 3,
  kToReschedule = 4,
  kAbsence = 5,  // cancelled by the practitioner's absence
  kCancelledByPatient = 6,
  kConfirmed = 7,
  kDelay = 8,
  kUpdated = 9,
  kStatusChanged = 10,
};
inline constexpr int kMaxCause = 10;
// "created", "modified", "cancelled_by_practitioner", "to_reschedule",
// "absence", "cancelled_by_patient", "confirmed", "delay", "updated",
// "status_changed"; "" for kNone.
std::string_view CauseName(Cause c);

// The payload of a planned message in the engine: small, so ingest stays
// cheap; the text is rendered when the message is handed to a worker.
// "r<revision>;d<delay>", then ";c<cause>" when told, then
// ";p<previous start>;q<previous end>" when the event moved the time.
struct MessageRef {
  uint32_t revision = 0;  // the appointment revision it was planned for
  uint32_t delay_ms = 0;  // kDelayAlert: the announced delay
  Cause cause = Cause::kNone;
  int64_t previous_start_ms = 0;  // 0: the time did not move
  int64_t previous_end_ms = 0;
};
std::string EncodeMessageRef(const MessageRef& ref);
std::optional<MessageRef> DecodeMessageRef(std::string_view payload);

}  // namespace rappel::server::plan
