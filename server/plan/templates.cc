#include "server/plan/templates.h"

#include "absl/status/status.h"
#include "server/common/check.h"

namespace rappel::server::plan {
namespace {

// A "{" whose name runs longer than this, or hits a line break or another
// "{", is reported as unclosed rather than as a page-long unknown name.
constexpr size_t kMaxNameSize = 64;

bool StartsLikeEndOfClause(char c) {
  switch (c) {
    case ' ': case '\n': case '\r': case '.': case ',': case ';': case ':': case '!': case '?':
    case ')':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool FindVariable(std::string_view name, Var* out) {
  for (int i = 0; i < kVarCount; ++i) {
    if (kVariables[i].name == name) {
      *out = static_cast<Var>(i);
      return true;
    }
  }
  return false;
}

absl::StatusOr<Template> CompileTemplate(std::string_view text) {
  using Kind = Template::PieceKind;
  if (text.size() > kMaxTemplateSize) {
    return absl::InvalidArgumentError("template longer than " + std::to_string(kMaxTemplateSize) +
                                      " bytes");
  }
  Template t;
  t.source = std::string(text);
  std::vector<size_t> open_sections;  // indexes of kSection pieces
  size_t literal_start = 0;           // into t.literals: the literal piece being built
  auto close_literal = [&] {
    if (t.literals.size() > literal_start) {
      t.pieces.push_back({Kind::kLiteral, 0, static_cast<uint32_t>(literal_start),
                          static_cast<uint32_t>(t.literals.size() - literal_start)});
    }
    literal_start = t.literals.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      t.literals.push_back('}');
      if (i + 1 < text.size() && text[i + 1] == '}') ++i;  // "}}": one brace
      continue;
    }
    if (c != '{') {
      t.literals.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {  // "{{": literal
      t.literals.push_back('{');
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && text[end] != '}' && text[end] != '{' && text[end] != '\n' &&
           end - i <= kMaxNameSize) {
      ++end;
    }
    if (end >= text.size() || text[end] != '}') {
      return absl::InvalidArgumentError("unclosed brace at offset " + std::to_string(i) +
                                        " in template");
    }
    std::string_view inner = text.substr(i + 1, end - i - 1);
    Kind kind = Kind::kVariable;
    if (!inner.empty() && (inner[0] == '?' || inner[0] == '/')) {
      kind = inner[0] == '?' ? Kind::kSection : Kind::kSectionEnd;
      inner.remove_prefix(1);
    }
    Var var;
    if (!FindVariable(inner, &var)) {
      return absl::InvalidArgumentError("unknown variable {" + std::string(inner) +
                                        "} in template");
    }
    close_literal();
    uint8_t v = static_cast<uint8_t>(var);
    if (kind == Kind::kSectionEnd) {
      if (open_sections.empty() || t.pieces[open_sections.back()].var != v) {
        return absl::InvalidArgumentError("{/" + std::string(inner) +
                                          "} closes no section in template");
      }
      t.pieces[open_sections.back()].offset = static_cast<uint32_t>(t.pieces.size());
      open_sections.pop_back();
    } else if (kind == Kind::kSection) {
      open_sections.push_back(t.pieces.size());
    }
    t.pieces.push_back({kind, v, 0, 0});
    t.uses |= uint64_t{1} << v;
    i = end;
  }
  if (!open_sections.empty()) {
    return absl::InvalidArgumentError(
        "unclosed section {?" + std::string(kVariables[t.pieces[open_sections.back()].var].name) +
        "} in template");
  }
  close_literal();
  return t;
}

void RenderTo(const Template& t, const VariableValues& values, std::string* out) {
  using Kind = Template::PieceKind;
  bool skip_newline = false;  // the previous variable was an empty line of its own
  for (size_t p = 0; p < t.pieces.size(); ++p) {
    const Template::Piece& piece = t.pieces[p];
    switch (piece.kind) {
      case Kind::kLiteral: {
        std::string_view lit(t.literals.data() + piece.offset, piece.size);
        if (skip_newline && !lit.empty() && lit.front() == '\n') lit.remove_prefix(1);
        skip_newline = false;
        out->append(lit);
        continue;
      }
      case Kind::kSection:
        if (values[piece.var].empty()) p = piece.offset;  // to its end; the loop steps past
        continue;
      case Kind::kSectionEnd:
        continue;
      case Kind::kVariable:
        break;
    }
    skip_newline = false;
    const std::string& value = values[piece.var];
    if (!value.empty()) {
      out->append(value);
      continue;
    }
    // Empty: tidy what surrounds it (see the header).
    const Template::Piece* next = p + 1 < t.pieces.size() ? &t.pieces[p + 1] : nullptr;
    bool next_literal = next != nullptr && next->kind == Kind::kLiteral;
    char next_char = next_literal ? t.literals[next->offset] : 0;
    bool at_clause_end = next == nullptr || (next_literal && StartsLikeEndOfClause(next_char));
    if (!out->empty() && out->back() == ' ' && at_clause_end) {
      out->pop_back();
    } else if ((out->empty() || out->back() == '\n') && next_char == '\n') {
      skip_newline = true;
    }
  }
}

std::string Render(const Template& t, const VariableValues& values) {
  std::string out;
  out.reserve(t.literals.size() + 64);
  RenderTo(t, values, &out);
  return out;
}

std::string_view NormalizeLocale(std::string_view locale) {
  if (locale.size() >= 2 && (locale[0] == 'e' || locale[0] == 'E') &&
      (locale[1] == 'n' || locale[1] == 'N') &&
      (locale.size() == 2 || locale[2] == '-' || locale[2] == '_')) {
    return "en";
  }
  return "fr";
}

namespace {

struct Texts {
  std::string_view subject;
  std::string_view body;
};
struct Row {
  MessageKind kind;
  Channel channel;
  Texts fr;
  Texts en;
};

using K = MessageKind;
using C = Channel;

// Links: SMS carry only the one the kind needs (reminders: confirm;
// cancellations and recalls: rebook). Appointment notes are left out of
// patient messages (clinics often write internal notes there).
constexpr Row kRows[] = {
    {K::kConfirmation, C::kSms,
     {"", "{establishment_name} : rendez-vous enregistré le {date_long} à {start_time} avec "
          "{practitioner} {mode_text}.{?prerequisites} {prerequisites}{/prerequisites}"},
     {"", "{establishment_name}: appointment booked on {date_long} at {start_time} with "
          "{practitioner} {mode_text}.{?prerequisites} {prerequisites}{/prerequisites}"}},
    {K::kConfirmation, C::kEmail,
     {"Votre rendez-vous du {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nVotre rendez-vous avec {practitioner} est enregistré "
      "pour le {date_long} à {start_time} {mode_text}.\n{?service}Prestation : {service}\n"
      "{/service}{?location}Lieu : {location}\n{/location}{prerequisites}\n"
      "{tenant_message}\n\n{?confirm_link}Confirmer votre présence : {confirm_link}\n"
      "{/confirm_link}{?cancel_link}Annuler : {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"
      "{establishment_website}\n"},
     {"Your appointment on {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nYour appointment with {practitioner} is booked for "
      "{date_long} at {start_time} {mode_text}.\n{?service}Service: {service}\n"
      "{/service}{?location}Where: {location}\n{/location}{prerequisites}\n"
      "{tenant_message}\n\n{?confirm_link}Confirm you will come: {confirm_link}\n"
      "{/confirm_link}{?cancel_link}Cancel: {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"
      "{establishment_website}\n"}},
    {K::kConfirmation, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Votre rendez-vous avec {practitioner} est "
          "enregistré le {date_long} à {start_time} {mode_text}.{?prerequisites} "
          "{prerequisites}{/prerequisites}"},
     {"", "Hello, this is {establishment_name}. Your appointment with {practitioner} is booked "
          "on {date_long} at {start_time} {mode_text}.{?prerequisites} "
          "{prerequisites}{/prerequisites}"}},
    {K::kConfirmation, C::kPush,
     {"", "Rendez-vous enregistré : {date_long} à {start_time} avec {practitioner}."},
     {"", "Appointment booked: {date_long} at {start_time} with {practitioner}."}},
    {K::kChange, C::kSms,
     {"", "{establishment_name} : votre rendez-vous {?previous_start_time}du {previous_date_long} à "
          "{previous_start_time} {/previous_start_time}est modifié : le {date_long} à {start_time} "
          "avec {practitioner} {mode_text}."},
     {"", "{establishment_name}: your appointment {?previous_start_time}on {previous_date_long} at "
          "{previous_start_time} {/previous_start_time}has changed: {date_long} at {start_time} "
          "with {practitioner} {mode_text}."}},
    {K::kChange, C::kEmail,
     {"Rendez-vous modifié : {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nVotre rendez-vous {?previous_start_time}du "
      "{previous_date_long} à {previous_start_time} {/previous_start_time}a été modifié. Il aura "
      "lieu le {date_long} à {start_time} avec {practitioner} {mode_text}.\n"
      "{?service}Prestation : {service}\n{/service}{?location}Lieu : {location}\n"
      "{/location}{prerequisites}\n{tenant_message}\n\n{?cancel_link}Annuler : {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"},
     {"Appointment changed: {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nYour appointment {?previous_start_time}on "
      "{previous_date_long} at {previous_start_time} {/previous_start_time}has changed. It is now "
      "on {date_long} at {start_time} with {practitioner} {mode_text}.\n"
      "{?service}Service: {service}\n"
      "{/service}{?location}Where: {location}\n{/location}{prerequisites}\n"
      "{tenant_message}\n\n{?cancel_link}Cancel: {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"}},
    {K::kChange, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Votre rendez-vous {?previous_start_time}du "
          "{previous_date_long} à {previous_start_time} {/previous_start_time}a été modifié : le "
          "{date_long} à {start_time} avec {practitioner}."},
     {"", "Hello, this is {establishment_name}. Your appointment {?previous_start_time}on "
          "{previous_date_long} at {previous_start_time} {/previous_start_time}has changed: "
          "{date_long} at {start_time} with {practitioner}."}},
    {K::kChange, C::kPush,
     {"", "Rendez-vous modifié : {?previous_start_time}{previous_date_long} à "
          "{previous_start_time} → {/previous_start_time}{date_long} à {start_time}."},
     {"", "Appointment changed: {?previous_start_time}{previous_date_long} at "
          "{previous_start_time} → {/previous_start_time}{date_long} at {start_time}."}},
    {K::kCancellation, C::kSms,
     {"", "{establishment_name} : votre rendez-vous du {date_long} à {start_time} est annulé "
          "{cancelled_by}.{?rebook_link} Reprendre rendez-vous : {rebook_link}{/rebook_link}"},
     {"", "{establishment_name}: your appointment on {date_long} at {start_time} is cancelled "
          "{cancelled_by}.{?rebook_link} Book again: {rebook_link}{/rebook_link}"}},
    {K::kCancellation, C::kEmail,
     {"Rendez-vous annulé : {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nNous sommes désolés : votre rendez-vous du {date_long} à "
      "{start_time} avec {practitioner} est annulé {cancelled_by}.\n{?rebook_link}Pour reprendre "
      "rendez-vous : "
      "{rebook_link}\n{/rebook_link}{tenant_message}\n\n{establishment_name}\n"
      "{establishment_phone}\n"},
     {"Appointment cancelled: {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nWe are sorry: your appointment on {date_long} at "
      "{start_time} with {practitioner} is cancelled {cancelled_by}.\n{?rebook_link}To book again: "
      "{rebook_link}\n{/rebook_link}{tenant_message}\n\n{establishment_name}\n"
      "{establishment_phone}\n"}},
    {K::kCancellation, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Votre rendez-vous du {date_long} à {start_time} "
          "avec {practitioner} est annulé {cancelled_by}. Merci de reprendre rendez-vous."},
     {"", "Hello, this is {establishment_name}. Your appointment on {date_long} at {start_time} "
          "with {practitioner} is cancelled {cancelled_by}. Please book again."}},
    {K::kCancellation, C::kPush,
     {"", "Rendez-vous du {date_long} à {start_time} annulé.{?rebook_link} Reprendre rendez-vous "
          ": {rebook_link}{/rebook_link}"},
     {"", "Appointment on {date_long} at {start_time} cancelled.{?rebook_link} Book again: "
          "{rebook_link}{/rebook_link}"}},
    {K::kPatientCancelAck, C::kSms,
     {"", "{establishment_name} : l'annulation de votre rendez-vous du {date_long} à "
          "{start_time} est enregistrée.{?rebook_link} Reprendre rendez-vous : "
          "{rebook_link}{/rebook_link}"},
     {"", "{establishment_name}: your appointment on {date_long} at {start_time} is cancelled as "
          "you asked.{?rebook_link} Book again: {rebook_link}{/rebook_link}"}},
    {K::kPatientCancelAck, C::kEmail,
     {"Annulation enregistrée : {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nNous avons bien enregistré l'annulation de votre "
      "rendez-vous du {date_long} à {start_time} avec {practitioner}.\n"
      "{?rebook_link}Pour reprendre rendez-vous : {rebook_link}\n"
      "{/rebook_link}\n{establishment_name}\n{establishment_phone}\n"},
     {"Cancellation received: {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nWe have cancelled your appointment on {date_long} at "
      "{start_time} with {practitioner}, as you asked.\n{?rebook_link}To book again: "
      "{rebook_link}\n{/rebook_link}\n{establishment_name}\n"
      "{establishment_phone}\n"}},
    {K::kPatientCancelAck, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. L'annulation de votre rendez-vous du {date_long} à "
          "{start_time} est bien enregistrée."},
     {"", "Hello, this is {establishment_name}. Your appointment on {date_long} at {start_time} "
          "is cancelled, as you asked."}},
    {K::kPatientCancelAck, C::kPush,
     {"", "Annulation enregistrée : rendez-vous du {date_long} à {start_time}."},
     {"", "Cancellation received: appointment on {date_long} at {start_time}."}},
    {K::kConfirmAck, C::kSms,
     {"", "{establishment_name} : merci, votre présence le {date_long} à {start_time} est "
          "confirmée."},
     {"", "{establishment_name}: thank you, your appointment on {date_long} at {start_time} is "
          "confirmed."}},
    {K::kConfirmAck, C::kEmail,
     {"Présence confirmée : {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nMerci, votre présence au rendez-vous du {date_long} à "
      "{start_time} avec {practitioner} {mode_text} est confirmée.\n"
      "{prerequisites}\n\n{?cancel_link}En cas d'empêchement : {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"},
     {"Appointment confirmed: {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nThank you, your appointment on {date_long} at {start_time} "
      "with {practitioner} {mode_text} is confirmed.\n{prerequisites}\n"
      "\n{?cancel_link}If you cannot come: {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"}},
    {K::kConfirmAck, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Merci, votre rendez-vous du {date_long} à "
          "{start_time} est confirmé."},
     {"", "Hello, this is {establishment_name}. Thank you, your appointment on {date_long} at "
          "{start_time} is confirmed."}},
    {K::kConfirmAck, C::kPush,
     {"", "Merci, présence confirmée : {date_long} à {start_time}."},
     {"", "Thank you, appointment confirmed: {date_long} at {start_time}."}},
    {K::kReminder, C::kSms,
     {"", "Rappel {establishment_name} : rendez-vous le {date_long} à {start_time} avec "
          "{practitioner} {mode_text}.{?prerequisites} "
          "{prerequisites}{/prerequisites}{?confirm_link} Confirmer : "
          "{confirm_link}{/confirm_link}"},
     {"", "Reminder from {establishment_name}: appointment on {date_long} at {start_time} with "
          "{practitioner} {mode_text}.{?prerequisites} "
          "{prerequisites}{/prerequisites}{?confirm_link} Confirm: {confirm_link}{/confirm_link}"}},
    {K::kReminder, C::kEmail,
     {"Rappel : rendez-vous le {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nNous vous rappelons votre rendez-vous avec "
      "{practitioner} le {date_long} à {start_time} {mode_text}.\n"
      "{?service}Prestation : {service}\n{/service}{?location}Lieu : {location}\n"
      "{/location}{prerequisites}\n{tenant_message}\n\n{?confirm_link}Confirmer votre présence : "
      "{confirm_link}\n{/confirm_link}{?cancel_link}Annuler : {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"},
     {"Reminder: appointment on {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nThis is a reminder of your appointment with {practitioner} "
      "on {date_long} at {start_time} {mode_text}.\n{?service}Service: {service}\n"
      "{/service}{?location}Where: {location}\n{/location}{prerequisites}\n"
      "{tenant_message}\n\n{?confirm_link}Confirm you will come: {confirm_link}\n"
      "{/confirm_link}{?cancel_link}Cancel: {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"}},
    {K::kReminder, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Nous vous rappelons votre rendez-vous avec "
          "{practitioner} le {date_long} à {start_time} {mode_text}.{?prerequisites} "
          "{prerequisites}{/prerequisites}"},
     {"", "Hello, this is {establishment_name}. This is a reminder of your appointment with "
          "{practitioner} on {date_long} at {start_time} {mode_text}.{?prerequisites} "
          "{prerequisites}{/prerequisites}"}},
    {K::kReminder, C::kPush,
     {"", "Rappel : rendez-vous le {date_long} à {start_time} avec {practitioner}."},
     {"", "Reminder: appointment on {date_long} at {start_time} with {practitioner}."}},
    {K::kPreVisit, C::kSms,
     {"", "{establishment_name} : votre rendez-vous du {date_long} à {start_time} {mode_text} "
          "approche. Merci de préparer votre visite.{?prerequisites} "
          "{prerequisites}{/prerequisites}"},
     {"", "{establishment_name}: your appointment on {date_long} at {start_time} {mode_text} is "
          "coming up. Please get ready for your visit.{?prerequisites} "
          "{prerequisites}{/prerequisites}"}},
    {K::kPreVisit, C::kEmail,
     {"Préparez votre rendez-vous du {date_long}",
      "Bonjour {patient_first_name},\n\nVotre rendez-vous avec {practitioner} a lieu le "
      "{date_long} à {start_time} {mode_text}.\n{?service}Prestation : {service}\n"
      "{/service}{?location}Lieu : {location}\n{/location}{prerequisites}\n"
      "{tenant_message}\n\nSi un questionnaire ou des documents vous ont été demandés, merci de "
      "les préparer avant votre visite.\n\n{establishment_name}\n"
      "{establishment_phone}\n"},
     {"Getting ready for your appointment on {date_long}",
      "Hello {patient_first_name},\n\nYour appointment with {practitioner} is on {date_long} at "
      "{start_time} {mode_text}.\n{?service}Service: {service}\n"
      "{/service}{?location}Where: {location}\n{/location}{prerequisites}\n"
      "{tenant_message}\n\nIf you were asked to fill in a questionnaire or bring documents, "
      "please do so before your visit.\n\n{establishment_name}\n"
      "{establishment_phone}\n"}},
    {K::kPreVisit, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Votre rendez-vous du {date_long} à {start_time} "
          "approche.{?prerequisites} {prerequisites}{/prerequisites}"},
     {"", "Hello, this is {establishment_name}. Your appointment on {date_long} at {start_time} "
          "is coming up.{?prerequisites} {prerequisites}{/prerequisites}"}},
    {K::kPreVisit, C::kPush,
     {"", "Préparez votre rendez-vous du {date_long} à {start_time}."},
     {"", "Get ready for your appointment on {date_long} at {start_time}."}},
    {K::kSecondReminder, C::kSms,
     {"", "{establishment_name} : n'oubliez pas votre rendez-vous le {date_long} à {start_time} "
          "avec {practitioner}.{?confirm_link} Confirmer : {confirm_link}{/confirm_link}"},
     {"", "{establishment_name}: don't forget your appointment on {date_long} at {start_time} "
          "with {practitioner}.{?confirm_link} Confirm: {confirm_link}{/confirm_link}"}},
    {K::kSecondReminder, C::kEmail,
     {"N'oubliez pas votre rendez-vous du {date_long} à {start_time}",
      "Bonjour {patient_first_name},\n\nN'oubliez pas votre rendez-vous avec {practitioner} le "
      "{date_long} à {start_time} {mode_text}.\n{?location}Lieu : {location}\n"
      "{/location}{prerequisites}\n\n{?confirm_link}Confirmer votre présence : {confirm_link}\n"
      "{/confirm_link}{?cancel_link}Annuler : {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"},
     {"Don't forget your appointment on {date_long} at {start_time}",
      "Hello {patient_first_name},\n\nDon't forget your appointment with {practitioner} on "
      "{date_long} at {start_time} {mode_text}.\n{?location}Where: {location}\n"
      "{/location}{prerequisites}\n\n{?confirm_link}Confirm you will come: {confirm_link}\n"
      "{/confirm_link}{?cancel_link}Cancel: {cancel_link}\n"
      "{/cancel_link}\n{establishment_name}\n{establishment_phone}\n"}},
    {K::kSecondReminder, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. N'oubliez pas votre rendez-vous avec "
          "{practitioner} le {date_long} à {start_time}."},
     {"", "Hello, this is {establishment_name}. Don't forget your appointment with "
          "{practitioner} on {date_long} at {start_time}."}},
    {K::kSecondReminder, C::kPush,
     {"", "N'oubliez pas : rendez-vous le {date_long} à {start_time}."},
     {"", "Don't forget: appointment on {date_long} at {start_time}."}},
    {K::kPostVisit, C::kSms,
     {"", "{establishment_name} : merci de votre visite, {patient_first_name}. À bientôt."},
     {"", "{establishment_name}: thank you for your visit, {patient_first_name}. See you soon."}},
    {K::kPostVisit, C::kEmail,
     {"Merci de votre visite",
      "Bonjour {patient_first_name},\n\nMerci de votre visite du {date_long} avec "
      "{practitioner}.\n{tenant_message}\n\n{establishment_name}\n"
      "{establishment_website}\n"},
     {"Thank you for your visit",
      "Hello {patient_first_name},\n\nThank you for your visit on {date_long} with "
      "{practitioner}.\n{tenant_message}\n\n{establishment_name}\n"
      "{establishment_website}\n"}},
    {K::kPostVisit, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Merci de votre visite. À bientôt."},
     {"", "Hello, this is {establishment_name}. Thank you for your visit. See you soon."}},
    {K::kPostVisit, C::kPush,
     {"", "Merci de votre visite chez {establishment_name}."},
     {"", "Thank you for your visit to {establishment_name}."}},
    {K::kRecall, C::kSms,
     {"", "{establishment_name} : il est temps de prendre votre prochain rendez-vous avec "
          "{practitioner}.{?rebook_link} {rebook_link}{/rebook_link}"},
     {"", "{establishment_name}: it is time to book your next appointment with "
          "{practitioner}.{?rebook_link} {rebook_link}{/rebook_link}"}},
    {K::kRecall, C::kEmail,
     {"Il est temps de reprendre rendez-vous",
      "Bonjour {patient_first_name},\n\nVotre dernier rendez-vous avec {practitioner} date du "
      "{date}. Il est temps de prendre le prochain.\n{?rebook_link}{rebook_link}\n"
      "{/rebook_link}\n{establishment_name}\n{establishment_phone}\n"},
     {"Time to book your next appointment",
      "Hello {patient_first_name},\n\nYour last appointment with {practitioner} was on {date}. "
      "It is time to book the next one.\n{?rebook_link}{rebook_link}\n"
      "{/rebook_link}\n{establishment_name}\n{establishment_phone}\n"}},
    {K::kRecall, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. Il est temps de prendre votre prochain rendez-vous "
          "avec {practitioner}."},
     {"", "Hello, this is {establishment_name}. It is time to book your next appointment with "
          "{practitioner}."}},
    {K::kRecall, C::kPush,
     {"", "Il est temps de prendre votre prochain rendez-vous avec {practitioner}."},
     {"", "It is time to book your next appointment with {practitioner}."}},
    {K::kPractitioner, C::kSms,
     {"", "{event_text} {cancelled_by} : le {date_long} à {start_time}{?previous_start_time} "
          "(au lieu du {previous_date_long} à {previous_start_time}){/previous_start_time}, "
          "{patient_full_name} {mode_text}.{?service} {service}{/service}"},
     {"", "{event_text} {cancelled_by}: {date_long} at {start_time}{?previous_start_time} "
          "(was {previous_date_long} at {previous_start_time}){/previous_start_time}, "
          "{patient_full_name} {mode_text}.{?service} {service}{/service}"}},
    {K::kPractitioner, C::kEmail,
     {"{event_text} : {patient_full_name}, {date_long} à {start_time}",
      "{event_text} {cancelled_by} : rendez-vous du {date_long} de {start_time} à {end_time} "
      "{mode_text}.\n{?previous_start_time}Ancien horaire : {previous_date_long} à "
      "{previous_start_time}\n{/previous_start_time}"
      "Patient : {patient_full_name}\n{?patient_mobile}Mobile : {patient_mobile}\n"
      "{/patient_mobile}{?service}Prestation : {service}\n"
      "{/service}{?location}Lieu : {location}\n{/location}{?notes}Notes : {notes}\n"
      "{/notes}"},
     {"{event_text}: {patient_full_name}, {date_long} at {start_time}",
      "{event_text} {cancelled_by}: appointment on {date_long} from {start_time} to {end_time} "
      "{mode_text}.\n{?previous_start_time}Previously: {previous_date_long} at "
      "{previous_start_time}\n{/previous_start_time}"
      "Patient: {patient_full_name}\n{?patient_mobile}Mobile: {patient_mobile}\n"
      "{/patient_mobile}{?service}Service: {service}\n{/service}{?location}Where: {location}\n"
      "{/location}{?notes}Notes: {notes}\n{/notes}"}},
    {K::kPractitioner, C::kVoice,
     {"", "{event_text} {cancelled_by} : rendez-vous du {date_long} à {start_time} avec "
          "{patient_full_name}."},
     {"", "{event_text} {cancelled_by}: appointment on {date_long} at {start_time} with "
          "{patient_full_name}."}},
    {K::kPractitioner, C::kPush,
     {"", "{event_text} : {patient_full_name}, {date_long} à {start_time}."},
     {"", "{event_text}: {patient_full_name}, {date_long} at {start_time}."}},
    {K::kDelayAlert, C::kSms,
     {"", "{establishment_name} : {practitioner} a du retard. Merci de vous présenter à "
          "{new_arrival_time} au lieu de {start_time}."},
     {"", "{establishment_name}: {practitioner} is running late. Please come at "
          "{new_arrival_time} instead of {start_time}."}},
    {K::kDelayAlert, C::kEmail,
     {"Retard : nouvelle heure d'arrivée {new_arrival_time}",
      "Bonjour {patient_first_name},\n\n{practitioner} a du retard aujourd'hui. Pour votre "
      "rendez-vous de {start_time}, merci de vous présenter à {new_arrival_time}.\n"
      "\n{establishment_name}\n{establishment_phone}\n"},
     {"Running late: new arrival time {new_arrival_time}",
      "Hello {patient_first_name},\n\n{practitioner} is running late today. For your "
      "{start_time} appointment, please come at {new_arrival_time}.\n"
      "\n{establishment_name}\n{establishment_phone}\n"}},
    {K::kDelayAlert, C::kVoice,
     {"", "Bonjour, ici {establishment_name}. {practitioner} a du retard. Merci de vous "
          "présenter à {new_arrival_time} au lieu de {start_time}."},
     {"", "Hello, this is {establishment_name}. {practitioner} is running late. Please come at "
          "{new_arrival_time} instead of {start_time}."}},
    {K::kDelayAlert, C::kPush,
     {"", "Retard : présentez-vous à {new_arrival_time} au lieu de {start_time}."},
     {"", "Running late: please come at {new_arrival_time} instead of {start_time}."}},
};

constexpr size_t kTableSize = 2 * kMessageKindCount * kChannelCount;

size_t Slot(MessageKind kind, Channel channel, int locale) {
  return (static_cast<size_t>(locale) * kMessageKindCount + (static_cast<size_t>(kind) - 1)) *
             kChannelCount +
         (static_cast<size_t>(channel) - 1);
}

Template MustCompile(std::string_view text) {
  absl::StatusOr<Template> t = CompileTemplate(text);
  RAPPEL_CHECK(t.ok());  // built-in texts: templates_test compiles them all
  return *std::move(t);
}

const std::array<DefaultTemplate, kTableSize>& Defaults() {
  static const std::array<DefaultTemplate, kTableSize>* table = [] {
    auto* t = new std::array<DefaultTemplate, kTableSize>();
    std::array<bool, kTableSize> filled{};
    for (const Row& row : kRows) {
      for (int locale = 0; locale < 2; ++locale) {
        const Texts& texts = locale == 0 ? row.fr : row.en;
        size_t slot = Slot(row.kind, row.channel, locale);
        RAPPEL_CHECK(!filled[slot]);
        filled[slot] = true;
        (*t)[slot] = DefaultTemplate{texts.subject, texts.body, MustCompile(texts.subject),
                                     MustCompile(texts.body)};
      }
    }
    for (bool f : filled) RAPPEL_CHECK(f);  // every kind x channel has its texts
    return t;
  }();
  return *table;
}

}  // namespace

const DefaultTemplate& DefaultTemplateFor(MessageKind kind, Channel channel,
                                          std::string_view locale) {
  int k = static_cast<int>(kind);
  int c = static_cast<int>(channel);
  RAPPEL_CHECK(k >= 1 && k <= kMessageKindCount && c >= 1 && c <= kChannelCount);
  return Defaults()[Slot(kind, channel, NormalizeLocale(locale) == "en" ? 1 : 0)];
}

}  // namespace rappel::server::plan
