// Rendering: the message a worker receives, as one JSON document, built when
// a planned message is handed to a worker. Local dates and times are in the
// tenant's IANA time zone (Howard Hinnant's date/tz on the system tzdata);
// day and month names are ours, not the C locale's.
// Written directly, not through nlohmann::json (6x faster; valid UTF-8
// guaranteed: invalid bytes become U+FFFD). Keys appear in the order below.
//
// The document:
// {
//   "kind": "reminder", "channel": "sms", "to": "+33612345678", "locale": "fr",
//   "tenant": 7, "rendered_at_ms": ...,
//   "establishment": {"name", "phone", "website"},
//   "appointment": {"id", "calendar", "type", "start_ms", "end_ms",
//     "start_local": "2026-03-29T10:00:00+02:00", "end_local", "date": "2026-03-29",
//     "start_time": "10:00", "end_time", "time_zone", "practitioner", "service",
//     "location", "mode", "mode_text", "prerequisites", "notes", "price",
//     "duration_minutes", "status", "lifecycle", "confirmed", "revision",
//     "delay_minutes", "new_arrival_time" (these two: delay alerts only)},
//   "patient": {"id", "first_name", "last_name", "full_name", "mobile", "email"},
//   "tenant_message": "..." (empty unless the tenant's message_kinds has the kind),
//   "event": {"name": "modified", "previous_start_ms", "previous_start_local"}
//     (notices only; the previous time only when the event moved it),
//   "sender": {"name", "email", "sms"},
//   "links": {"confirm", "cancel", "arrival", "rebook"}  (only those given),
//   "subject": "..." (e-mail only), "text": "..."
// }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/plan/model.h"
#include "server/plan/templates.h"

namespace rappel::server::plan {

// Self-service links, already built by the caller (action_url + token);
// empty: none. They must outlive the RenderInput.
struct MessageLinks {
  std::string_view confirm;
  std::string_view cancel;
  std::string_view arrival;
  std::string_view rebook;
};

struct RenderInput {
  const Tenant& tenant;
  const Calendar& calendar;
  const AppointmentType& type;
  const Patient& patient;
  const Appointment& appointment;
  MessageKind kind;
  Channel channel;
  int64_t now_ms = 0;
  const Template* custom_subject = nullptr;  // null: the default (e-mail only)
  const Template* custom_body = nullptr;     // null: the default
  MessageLinks links;
  int64_t delay_ms = 0;        // kDelayAlert: the announced delay
  std::string_view recipient;  // empty: the patient's address on the channel
                               // (the calendar's e-mail for kPractitioner)
  std::string_view also;       // appended to the text on a line of its own (a
                               // household's other appointments, merged SMS)
  Cause cause = Cause::kNone;  // what happened (notices); kNone: taken from the kind
  int64_t previous_start_ms = 0;  // the time before a move; 0: it did not move
};

// What a message of `kind` tells happened ({event}): kNone for the messages
// that are not notices (reminders, pre-visit, post-visit, recall), else
// `told`, or, when not told, what the kind and the appointment imply.
Cause NoticeCause(MessageKind kind, Cause told, const Appointment& a);

// "2026-03-29T10:00:00+02:00".
std::string IsoLocal(const LocalTime& t);

// Patient's locale if set, else the tenant's, as "fr" or "en".
std::string_view MessageLocale(const Tenant& tenant, const Patient& patient);

// Every template variable's value for the input. InvalidArgument for an
// unknown time zone (or a time outside years 1-9999, which validated input
// never has). A delay is capped at a day.
absl::Status FillVariables(const RenderInput& in, VariableValues* values);

// The JSON document above. Errors as FillVariables.
// `text`, when given, gets the rendered text alone (what an SMS costs).
absl::StatusOr<std::string> RenderMessage(const RenderInput& in, std::string* text = nullptr);
// The text alone, as RenderMessage's "text" (what an SMS's cost is counted
// on), without building the document.
absl::Status RenderText(const RenderInput& in, std::string* text);

}  // namespace rappel::server::plan
