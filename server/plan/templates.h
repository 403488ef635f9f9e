// Message templates: text with named variables in braces,
//   "Bonjour {patient_first_name}, rendez-vous le {date_long} à {start_time}."
// compiled once into literal and variable pieces so that rendering (once per
// message handed to a worker) is a single pass with no parsing.
//
// Syntax: "{name}" is a variable from kVariables; "{{" is a literal "{" and
// "}}" a literal "}"; a lone "}" is kept as is. "{?name}...{/name}" is a
// section, kept only when the variable is not empty (a link line when there
// is a link); sections nest. An unknown name, a "{" that is not closed on the
// same line, or an unbalanced section is an error.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/plan/model.h"

namespace rappel::server::plan {

enum class Var : uint8_t {
  kEstablishmentName,
  kEstablishmentPhone,
  kEstablishmentWebsite,
  kPatientFirstName,
  kPatientLastName,
  kPatientFullName,
  kPatientMobile,
  kPractitioner,
  kDate,
  kDateShort,
  kDateLong,
  kMonth,
  kWeekday,
  kDay,
  kStartTime,
  kEndTime,
  kNewArrivalTime,
  kService,
  kPrice,
  kDuration,
  kNotes,
  kPrerequisites,
  kLocation,
  kModeText,
  kTenantMessage,
  kConfirmLink,
  kCancelLink,
  kArrivalLink,
  kRebookLink,
  kEvent,
  kEventText,
  kCancelledBy,
  kPreviousDate,
  kPreviousDateLong,
  kPreviousStartTime,
  kStatus,
};
inline constexpr int kVarCount = 36;
static_assert(static_cast<int>(Var::kStatus) + 1 == kVarCount);
static_assert(kVarCount <= 64, "Template::uses is a 64-bit mask");

struct VariableInfo {
  std::string_view name;
  std::string_view description;
};

// Indexed by Var. The names are the template syntax: keep them stable.
inline constexpr std::array<VariableInfo, kVarCount> kVariables = {{
    {"establishment_name", "the establishment's name, as patients see it"},
    {"establishment_phone", "the establishment's phone number"},
    {"establishment_website", "the establishment's website"},
    {"patient_first_name", "the patient's first name"},
    {"patient_last_name", "the patient's last name"},
    {"patient_full_name", "first and last name"},
    {"patient_mobile", "the patient's mobile number"},
    {"practitioner", "the calendar's name: practitioner or resource"},
    {"date", "appointment date, dd/mm/yyyy"},
    {"date_short", "appointment date, dd/mm"},
    {"date_long", "weekday, day and month: \"lundi 3 juin\" / \"Monday 3 June\""},
    {"month", "month name: \"juin\" / \"June\""},
    {"weekday", "weekday name: \"lundi\" / \"Monday\""},
    {"day", "day of the month, no leading zero: \"3\""},
    {"start_time", "start time, HH:MM (24 h), in the tenant's time zone"},
    {"end_time", "end time, HH:MM (24 h)"},
    {"new_arrival_time", "start time plus the announced delay, HH:MM (delay alerts)"},
    {"service", "the appointment type's name"},
    {"price", "the appointment type's price, as entered"},
    {"duration", "duration in minutes"},
    {"notes", "the appointment's notes"},
    {"prerequisites", "the appointment type's prerequisites (\"fast 12 hours before\")"},
    {"location", "where the appointment takes place"},
    {"mode_text", "how the visit happens: \"sur place\" / \"by video\" / \"by phone\" / empty"},
    {"tenant_message", "the establishment's message to patients, in the patient's language"},
    {"confirm_link", "self-service link to confirm"},
    {"cancel_link", "self-service link to cancel"},
    {"arrival_link", "self-service link to announce arrival"},
    {"rebook_link", "link to book again"},
    {"event", "what happened (notices only): created, modified, cancelled_by_practitioner, "
              "to_reschedule, absence, cancelled_by_patient, confirmed, delay; empty otherwise"},
    {"event_text", "the same, as a heading: \"Rendez-vous annulé\" / \"Appointment cancelled\""},
    {"cancelled_by", "cancellations only: \"par le praticien\" / \"by the practitioner\", "
                     "\"by the patient\", \"because the practitioner is absent\""},
    {"previous_date", "before a move: the old date, dd/mm/yyyy (empty if the time did not move)"},
    {"previous_date_long", "before a move: the old weekday, day and month"},
    {"previous_start_time", "before a move: the old start time, HH:MM"},
    {"status", "the visit status: \"vu\" / \"seen\", \"in the waiting room\", \"absent\", "
               "\"excused\"; empty when none"},
}};

// Var by name, or false.
bool FindVariable(std::string_view name, Var* out);

struct Template {
  enum class PieceKind : uint8_t { kLiteral, kVariable, kSection, kSectionEnd };
  struct Piece {
    PieceKind kind = PieceKind::kLiteral;
    uint8_t var = 0;      // kVariable, kSection
    uint32_t offset = 0;  // kLiteral: into `literals`; kSection: index of its kSectionEnd
    uint32_t size = 0;    // kLiteral
  };
  std::string source;    // the text it was compiled from
  std::string literals;  // literal text, braces unescaped
  std::vector<Piece> pieces;
  uint64_t uses = 0;  // bit (1 << Var) for every variable it contains

  bool Uses(Var v) const { return (uses >> static_cast<int>(v)) & 1; }
  bool empty() const { return pieces.empty(); }
};

using VariableValues = std::array<std::string, kVarCount>;
inline std::string& At(VariableValues& v, Var var) { return v[static_cast<size_t>(var)]; }
inline const std::string& At(const VariableValues& v, Var var) {
  return v[static_cast<size_t>(var)];
}

// Longest template text CompileTemplate accepts (custom templates come from
// the platform; an SMS or an e-mail body is far shorter).
inline constexpr size_t kMaxTemplateSize = 64 * 1024;

// InvalidArgument naming the problem: "unknown variable {foo} in template",
// "unclosed brace at offset 12 in template", "unclosed section {?foo} in
// template", "{/foo} closes no section in template".
absl::StatusOr<Template> CompileTemplate(std::string_view text);

// Substitutes the values. Where a variable is empty, the space before it is
// dropped when a space, punctuation or the end follows ("à 10:00 {mode_text}."
// gives "à 10:00."), and so is the line break after it when it stood on a line
// of its own, so that optional fields leave no gaps.
std::string Render(const Template& t, const VariableValues& values);
void RenderTo(const Template& t, const VariableValues& values, std::string* out);

// The built-in texts, for every kind, channel and locale. Only e-mail has a
// subject (empty elsewhere). SMS are one or two sentences carrying at most the
// one link the kind needs; voice is a spoken sentence; push is short.
struct DefaultTemplate {
  std::string_view subject_text;
  std::string_view body_text;
  Template subject;  // compiled from the texts above
  Template body;
};

// locale: "en" (or "en-..."/"en_...") for English, anything else French.
// kind and channel must be valid enumerators (a broken invariant aborts).
const DefaultTemplate& DefaultTemplateFor(MessageKind kind, Channel channel,
                                          std::string_view locale);
// The language a locale string selects: "en" or "fr".
std::string_view NormalizeLocale(std::string_view locale);

}  // namespace rappel::server::plan
