#include "server/plan/render.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <exception>

#include "server/common/utf8.h"

namespace rappel::server::plan {
namespace {


// Indexed by weekday (0 = Sunday) and month - 1.
constexpr std::array<std::string_view, 7> kWeekdaysFr = {
    "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"};
constexpr std::array<std::string_view, 7> kWeekdaysEn = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthsFr = {
    "janvier", "février", "mars",      "avril",   "mai",      "juin",
    "juillet", "août",    "septembre", "octobre", "novembre", "décembre"};
constexpr std::array<std::string_view, 12> kMonthsEn = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

std::string Format(const char* fmt, int a, int b, int c = 0) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return std::string(buf, static_cast<size_t>(n));
}

std::string HourMinute(const LocalTime& t) { return Format("%02d:%02d", t.hour, t.minute); }
std::string IsoDate(const LocalTime& t) { return Format("%04d-%02d-%02d", t.year, t.month, t.day); }

std::string ModeText(Mode mode, bool en) {
  switch (mode) {
    case Mode::kOnSite:
      return en ? "in person" : "sur place";
    case Mode::kTelemedicine:
      return en ? "by video call" : "en téléconsultation";
    case Mode::kPhone:
      return en ? "by phone" : "par téléphone";
    default:
      return "";  // unspecified: the message just says there is an appointment
  }
}

std::string FullName(const Patient& p) {
  if (p.first_name.empty()) return p.last_name;
  if (p.last_name.empty()) return p.first_name;
  return p.first_name + " " + p.last_name;
}

std::string_view TenantMessage(const Tenant& t, MessageKind kind, bool en) {
  if ((t.message_kinds & KindBit(kind)) == 0) return {};
  // A clinic that wrote only one message still gets it sent.
  const std::string& mine = en ? t.message_en : t.message_fr;
  const std::string& other = en ? t.message_fr : t.message_en;
  return mine.empty() ? other : mine;
}

int64_t DurationMinutes(const RenderInput& in) {
  int64_t ms = in.type.duration_ms > 0 ? in.type.duration_ms
                                       : in.appointment.end_ms - in.appointment.start_ms;
  return ms > 0 ? ms / kMinuteMs : 0;
}

std::string Recipient(const RenderInput& in) {
  if (!in.recipient.empty()) return std::string(in.recipient);
  if (in.kind == MessageKind::kPractitioner) {
    return in.channel == Channel::kEmail ? in.calendar.email : std::string();
  }
  switch (in.channel) {
    case Channel::kSms:
    case Channel::kVoice:
      return in.patient.mobile;
    case Channel::kEmail:
      return in.patient.email;
    case Channel::kPush:
      return in.patient.push_token;
  }
  return "";
}

struct Times {
  LocalTime start;
  LocalTime end;
  LocalTime arrival;   // start + delay
  LocalTime previous;  // the start before a move (when RenderInput has one)
};

absl::StatusOr<Times> LocalTimes(const RenderInput& in) {
  const TenantZone& zone = in.tenant.zone;
  if (!zone.ok()) return zone.status();
  // Start first: the arrival time adds to it.
  auto start = zone.ToLocal(in.appointment.start_ms);
  if (!start.ok()) return start.status();
  auto end = zone.ToLocal(in.appointment.end_ms);
  if (!end.ok()) return end.status();
  // A delay is minutes to hours; capped at a day.
  int64_t arrival_ms = in.appointment.start_ms + std::clamp<int64_t>(in.delay_ms, 0, kDayMs);
  auto arrival = arrival_ms == in.appointment.start_ms ? start : zone.ToLocal(arrival_ms);
  if (!arrival.ok()) return arrival.status();
  Times times{*start, *end, *arrival, {}};
  if (in.previous_start_ms != 0) {
    auto previous = zone.ToLocal(in.previous_start_ms);
    if (!previous.ok()) return previous.status();
    times.previous = *previous;
  }
  return times;
}

std::string_view EventText(Cause c, bool en) {
  switch (c) {
    case Cause::kCreated: return en ? "New appointment" : "Nouveau rendez-vous";
    case Cause::kModified: return en ? "Appointment changed" : "Rendez-vous modifié";
    case Cause::kCancelledByPractitioner:
    case Cause::kAbsence:
    case Cause::kCancelledByPatient: return en ? "Appointment cancelled" : "Rendez-vous annulé";
    case Cause::kToReschedule:
      return en ? "Appointment cancelled, to be rescheduled" : "Rendez-vous annulé, à reporter";
    case Cause::kConfirmed: return en ? "Appointment confirmed" : "Rendez-vous confirmé";
    case Cause::kDelay: return en ? "Running late" : "Retard";
    case Cause::kUpdated: return en ? "Appointment updated" : "Rendez-vous mis à jour";
    case Cause::kStatusChanged: return en ? "Visit status" : "Statut de la visite";
    case Cause::kNone: return "";
  }
  return "";
}

std::string_view CancelledBy(Cause c, bool en) {
  switch (c) {
    case Cause::kCancelledByPractitioner:
    case Cause::kToReschedule: return en ? "by the practitioner" : "par le praticien";
    case Cause::kCancelledByPatient: return en ? "by the patient" : "par le patient";
    case Cause::kAbsence:
      return en ? "because the practitioner is absent" : "en raison d'une absence du praticien";
    default: return "";
  }
}

std::string_view StatusText(VisitStatus s, bool en) {
  switch (s) {
    case VisitStatus::kNone: return "";
    case VisitStatus::kSeen: return en ? "seen" : "vu";
    case VisitStatus::kWaitingRoom: return en ? "in the waiting room" : "en salle d'attente";
    case VisitStatus::kAbsent: return en ? "absent" : "absent";
    case VisitStatus::kExcused: return en ? "excused" : "excusé";
  }
  return "";
}

// "lundi 3 juin" / "Monday 3 June".
std::string DateLong(const LocalTime& t, bool en) {
  const auto& weekdays = en ? kWeekdaysEn : kWeekdaysFr;
  const auto& months = en ? kMonthsEn : kMonthsFr;
  std::string out(weekdays[static_cast<size_t>(t.weekday)]);
  out.append(" ").append(std::to_string(t.day));
  if (!en && t.day == 1) out.append("er");  // "lundi 1er juin"
  out.append(" ").append(months[static_cast<size_t>(t.month - 1)]);
  return out;
}

void Fill(const RenderInput& in, const Times& times, bool en, VariableValues* values) {
  VariableValues& v = *values;
  const LocalTime& s = times.start;
  const auto& weekdays = en ? kWeekdaysEn : kWeekdaysFr;
  const auto& months = en ? kMonthsEn : kMonthsFr;
  std::string_view weekday = weekdays[static_cast<size_t>(s.weekday)];
  std::string_view month = months[static_cast<size_t>(s.month - 1)];

  At(v, Var::kEstablishmentName) = in.tenant.name;
  At(v, Var::kEstablishmentPhone) = in.tenant.phone;
  At(v, Var::kEstablishmentWebsite) = in.tenant.website;
  At(v, Var::kPatientFirstName) = in.patient.first_name;
  At(v, Var::kPatientLastName) = in.patient.last_name;
  At(v, Var::kPatientFullName) = FullName(in.patient);
  At(v, Var::kPatientMobile) = in.patient.mobile;
  At(v, Var::kPractitioner) = in.calendar.name;
  At(v, Var::kDate) = Format("%02d/%02d/%04d", s.day, s.month, s.year);
  At(v, Var::kDateShort) = Format("%02d/%02d", s.day, s.month);
  std::string& date_long = At(v, Var::kDateLong);
  date_long.assign(weekday).append(" ").append(std::to_string(s.day));
  if (!en && s.day == 1) date_long.append("er");  // "lundi 1er juin"
  date_long.append(" ").append(month);
  At(v, Var::kMonth) = std::string(month);
  At(v, Var::kWeekday) = std::string(weekday);
  At(v, Var::kDay) = std::to_string(s.day);
  At(v, Var::kStartTime) = HourMinute(s);
  At(v, Var::kEndTime) = HourMinute(times.end);
  At(v, Var::kNewArrivalTime) = HourMinute(times.arrival);
  At(v, Var::kService) = in.type.name;
  At(v, Var::kPrice) = in.type.price;
  int64_t minutes = DurationMinutes(in);
  At(v, Var::kDuration) = minutes > 0 ? std::to_string(minutes) : std::string();
  At(v, Var::kNotes) = in.appointment.notes;
  At(v, Var::kPrerequisites) = in.type.prerequisites;
  At(v, Var::kLocation) = in.appointment.location;
  At(v, Var::kModeText) = ModeText(in.type.mode, en);
  At(v, Var::kTenantMessage) = std::string(TenantMessage(in.tenant, in.kind, en));
  At(v, Var::kConfirmLink) = std::string(in.links.confirm);
  At(v, Var::kCancelLink) = std::string(in.links.cancel);
  At(v, Var::kArrivalLink) = std::string(in.links.arrival);
  At(v, Var::kRebookLink) = std::string(in.links.rebook);
  Cause cause = NoticeCause(in.kind, in.cause, in.appointment);
  At(v, Var::kEvent) = std::string(CauseName(cause));
  At(v, Var::kEventText) = std::string(EventText(cause, en));
  At(v, Var::kCancelledBy) = std::string(CancelledBy(cause, en));
  bool moved = in.previous_start_ms != 0 && cause == Cause::kModified;
  const LocalTime& p = times.previous;
  At(v, Var::kPreviousDate) = moved ? Format("%02d/%02d/%04d", p.day, p.month, p.year) : "";
  At(v, Var::kPreviousDateLong) = moved ? DateLong(p, en) : "";
  At(v, Var::kPreviousStartTime) = moved ? HourMinute(p) : "";
  At(v, Var::kStatus) = std::string(StatusText(in.appointment.status, en));
}

// The document has a fixed shape, so it is written directly: building it
// as an nlohmann::json tree and dumping it cost ~15 us a message, 20 times
// the rest of rendering. Tests parse every output with nlohmann.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void Open(std::string_view key = {}) {
    if (key.empty()) {
      Comma();
    } else {
      Key(key);
    }
    out_->push_back('{');
    first_ = true;
  }
  void Close() {
    out_->push_back('}');
    first_ = false;
  }
  void Str(std::string_view key, std::string_view value) {
    Key(key);
    Quoted(value);
  }
  void Int(std::string_view key, int64_t value) {
    Key(key);
    out_->append(std::to_string(value));
  }
  void Bool(std::string_view key, bool value) {
    Key(key);
    out_->append(value ? "true" : "false");
  }

 private:
  void Comma() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  void Key(std::string_view key) {  // keys are ours: plain ASCII
    Comma();
    out_->push_back('"');
    out_->append(key);
    out_->append("\":");
  }
  // Escapes quotes, backslashes and control characters; a byte that does not
  // start a valid UTF-8 sequence (text comes from the platform) becomes U+FFFD
  // (common/utf8.h says which are valid).
  void Quoted(std::string_view s) {
    out_->push_back('"');
    size_t i = 0;
    while (i < s.size()) {
      size_t run = i;
      while (run < s.size()) {
        auto c = static_cast<unsigned char>(s[run]);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
        ++run;
      }
      out_->append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        Escape(c);
        ++i;
        continue;
      }
      Utf8Char ch = DecodeUtf8(s, i);
      if (ch.valid) {
        out_->append(s.data() + i, ch.size);
      } else {
        out_->append("\xEF\xBF\xBD");
      }
      i += ch.size;
    }
    out_->push_back('"');
  }
  void Escape(unsigned char c) {
    switch (c) {
      case '"':
        out_->append("\\\"");
        return;
      case '\\':
        out_->append("\\\\");
        return;
      case '\n':
        out_->append("\\n");
        return;
      case '\r':
        out_->append("\\r");
        return;
      case '\t':
        out_->append("\\t");
        return;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_->append(buf, 6);
      }
    }
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace

Cause NoticeCause(MessageKind kind, Cause told, const Appointment& a) {
  auto from_lifecycle = [&](Cause active) {
    switch (a.lifecycle) {
      case Lifecycle::kActive: return active;
      case Lifecycle::kCancelledByPractitioner: return Cause::kCancelledByPractitioner;
      case Lifecycle::kCancelledByPatient: return Cause::kCancelledByPatient;
      case Lifecycle::kToReschedule: return Cause::kToReschedule;
    }
    return active;
  };
  switch (kind) {
    case MessageKind::kReminder:
    case MessageKind::kPreVisit:
    case MessageKind::kSecondReminder:
    case MessageKind::kPostVisit:
    case MessageKind::kRecall: return Cause::kNone;
    default: break;
  }
  if (told != Cause::kNone) return told;
  switch (kind) {
    case MessageKind::kConfirmation: return Cause::kCreated;
    case MessageKind::kChange: return Cause::kModified;
    case MessageKind::kCancellation: return from_lifecycle(Cause::kCancelledByPractitioner);
    case MessageKind::kPatientCancelAck: return Cause::kCancelledByPatient;
    case MessageKind::kConfirmAck: return Cause::kConfirmed;
    case MessageKind::kDelayAlert: return Cause::kDelay;
    default: return from_lifecycle(Cause::kCreated);  // the practitioner's
  }
}

std::string IsoLocal(const LocalTime& t) {
  int off = t.offset_minutes;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", t.year,
                        t.month, t.day, t.hour, t.minute, t.second, sign, off / 60, off % 60);
  return std::string(buf, static_cast<size_t>(n));
}

std::string_view MessageLocale(const Tenant& tenant, const Patient& patient) {
  return NormalizeLocale(patient.locale.empty() ? tenant.locale : patient.locale);
}

absl::Status FillVariables(const RenderInput& in, VariableValues* values) {
  absl::StatusOr<Times> times = LocalTimes(in);
  if (!times.ok()) return times.status();
  Fill(in, *times, MessageLocale(in.tenant, in.patient) == "en", values);
  return absl::OkStatus();
}

namespace {

// What RenderText and RenderMessage both start from.
struct Prepared {
  Times times;
  std::string_view locale;
  VariableValues v;
  const DefaultTemplate* def;
  const Template* body;
};

absl::StatusOr<Prepared> Prepare(const RenderInput& in) {
  absl::StatusOr<Times> times = LocalTimes(in);
  if (!times.ok()) return times.status();
  Prepared p{*times, MessageLocale(in.tenant, in.patient), {}, nullptr, nullptr};
  Fill(in, p.times, p.locale == "en", &p.v);
  p.def = &DefaultTemplateFor(in.kind, in.channel, p.locale);
  p.body = in.custom_body != nullptr ? in.custom_body : &p.def->body;
  return p;
}

// The body, then the household note on a line of its own.
void AppendBody(const RenderInput& in, const Prepared& p, std::string* text) {
  RenderTo(*p.body, p.v, text);
  if (!in.also.empty()) {
    text->push_back('\n');
    text->append(in.also);
  }
}

}  // namespace

absl::Status RenderText(const RenderInput& in, std::string* text) {
  absl::StatusOr<Prepared> p = Prepare(in);
  if (!p.ok()) return p.status();
  text->clear();
  AppendBody(in, *p, text);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RenderMessage(const RenderInput& in, std::string* text_out) {
  absl::StatusOr<Prepared> prepared = Prepare(in);
  if (!prepared.ok()) return prepared.status();
  const Times* times = &prepared->times;
  std::string_view locale = prepared->locale;
  const VariableValues& v = prepared->v;
  const DefaultTemplate& def = *prepared->def;
  const Template& body = *prepared->body;
  const Appointment& a = in.appointment;

  std::string out;
  out.reserve(1024 + body.literals.size());
  JsonWriter w(&out);
  w.Open();
  w.Str("kind", KindName(in.kind));
  w.Str("channel", ChannelName(in.channel));
  w.Str("to", Recipient(in));
  w.Str("locale", locale);
  w.Int("tenant", in.tenant.id);
  w.Int("rendered_at_ms", in.now_ms);
  w.Open("establishment");
  w.Str("name", in.tenant.name);
  w.Str("phone", in.tenant.phone);
  w.Str("website", in.tenant.website);
  w.Close();
  w.Open("appointment");
  w.Str("id", a.id);
  w.Str("calendar", a.calendar);
  w.Str("type", a.type);
  w.Int("start_ms", a.start_ms);
  w.Int("end_ms", a.end_ms);
  w.Str("start_local", IsoLocal(times->start));
  w.Str("end_local", IsoLocal(times->end));
  w.Str("date", IsoDate(times->start));
  w.Str("start_time", At(v, Var::kStartTime));
  w.Str("end_time", At(v, Var::kEndTime));
  w.Str("time_zone", in.tenant.time_zone);
  w.Str("practitioner", in.calendar.name);
  w.Str("service", in.type.name);
  w.Str("location", a.location);
  w.Str("mode", ModeName(in.type.mode));
  w.Str("mode_text", At(v, Var::kModeText));
  w.Str("prerequisites", in.type.prerequisites);
  w.Str("notes", a.notes);
  w.Str("price", in.type.price);
  w.Int("duration_minutes", DurationMinutes(in));
  w.Str("status", VisitStatusName(a.status));
  w.Str("lifecycle", LifecycleName(a.lifecycle));
  w.Bool("confirmed", a.confirmed);
  w.Int("revision", a.revision);
  if (in.kind == MessageKind::kDelayAlert) {
    w.Int("delay_minutes", in.delay_ms / kMinuteMs);
    w.Str("new_arrival_time", At(v, Var::kNewArrivalTime));
  }
  w.Close();
  w.Open("patient");
  w.Str("id", in.patient.id);
  w.Str("first_name", in.patient.first_name);
  w.Str("last_name", in.patient.last_name);
  w.Str("full_name", At(v, Var::kPatientFullName));
  w.Str("mobile", in.patient.mobile);
  w.Str("email", in.patient.email);
  w.Close();
  w.Str("tenant_message", At(v, Var::kTenantMessage));
  if (!At(v, Var::kEvent).empty()) {
    w.Open("event");
    w.Str("name", At(v, Var::kEvent));
    if (!At(v, Var::kPreviousStartTime).empty()) {
      w.Int("previous_start_ms", in.previous_start_ms);
      w.Str("previous_start_local", IsoLocal(times->previous));
    }
    w.Close();
  }
  w.Open("sender");
  w.Str("name", in.tenant.sender_name.empty() ? in.tenant.name : in.tenant.sender_name);
  w.Str("email", in.tenant.sender_email);
  w.Str("sms", in.tenant.sender_sms);
  w.Close();
  w.Open("links");
  if (!in.links.confirm.empty()) w.Str("confirm", in.links.confirm);
  if (!in.links.cancel.empty()) w.Str("cancel", in.links.cancel);
  if (!in.links.arrival.empty()) w.Str("arrival", in.links.arrival);
  if (!in.links.rebook.empty()) w.Str("rebook", in.links.rebook);
  w.Close();
  std::string text;
  if (in.channel == Channel::kEmail) {
    RenderTo(in.custom_subject != nullptr ? *in.custom_subject : def.subject, v, &text);
    w.Str("subject", text);
    text.clear();
  }
  AppendBody(in, *prepared, &text);
  w.Str("text", text);
  if (text_out != nullptr) *text_out = text;
  w.Close();
  return out;
}

}  // namespace rappel::server::plan
