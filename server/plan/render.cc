#include "server/plan/render.h"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"

namespace rappel::server::plan {
namespace {

using Ms = std::chrono::milliseconds;

// Indexed by weekday (0 = Sunday) and month - 1.
constexpr std::array<std::string_view, 7> kWeekdaysFr = {"dimanche", "lundi",    "mardi", "mercredi",
                                                         "jeudi",    "vendredi", "samedi"};
constexpr std::array<std::string_view, 7> kWeekdaysEn = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                         "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthsFr = {
    "janvier", "février", "mars",      "avril",   "mai",      "juin",
    "juillet", "août",    "septembre", "octobre", "novembre", "décembre"};
constexpr std::array<std::string_view, 12> kMonthsEn = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

// locate_zone searches the whole database; a tenant's zone is looked up once
// per thread. Unknown names are not cached (an error path, and unbounded).
absl::StatusOr<const date::time_zone*> Zone(std::string_view name) {
  thread_local absl::flat_hash_map<std::string, const date::time_zone*> cache;
  absl::string_view key(name.data(), name.size());
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (name.empty()) return absl::InvalidArgumentError("empty time zone name");
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(std::string(name));
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("unknown time zone \"" + std::string(name) + "\"");
  }
  cache.emplace(std::string(name), zone);
  return zone;
}

LocalTime ToLocalIn(const date::time_zone* zone, int64_t unix_ms) {
  date::sys_time<Ms> tp{Ms{unix_ms}};
  // One get_info gives the offset; local = UTC + offset (what zoned_time does).
  date::sys_info info = zone->get_info(date::floor<std::chrono::seconds>(tp));
  date::local_time<Ms> local{tp.time_since_epoch() + info.offset};
  date::local_days day = date::floor<date::days>(local);
  date::year_month_day ymd{day};
  date::hh_mm_ss<Ms> hms{local - day};
  LocalTime t;
  t.year = static_cast<int>(ymd.year());
  t.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  t.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  t.weekday = static_cast<int>(date::weekday{day}.c_encoding());
  t.hour = static_cast<int>(hms.hours().count());
  t.minute = static_cast<int>(hms.minutes().count());
  t.second = static_cast<int>(hms.seconds().count());
  t.offset_minutes = static_cast<int>(
      std::chrono::duration_cast<std::chrono::minutes>(info.offset).count());
  return t;
}

std::string Format(const char* fmt, int a, int b, int c = 0) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return std::string(buf, static_cast<size_t>(n));
}

std::string HourMinute(const LocalTime& t) { return Format("%02d:%02d", t.hour, t.minute); }
std::string IsoDate(const LocalTime& t) { return Format("%04d-%02d-%02d", t.year, t.month, t.day); }

std::string ModeText(Mode mode, bool en) {
  switch (mode) {
    case Mode::kOnSite: return en ? "in person" : "sur place";
    case Mode::kTelemedicine: return en ? "by video call" : "en téléconsultation";
    case Mode::kPhone: return en ? "by phone" : "par téléphone";
    default: return "";  // unspecified: the message just says there is an appointment
  }
}

std::string FullName(const Patient& p) {
  if (p.first_name.empty()) return p.last_name;
  if (p.last_name.empty()) return p.first_name;
  return p.first_name + " " + p.last_name;
}

std::string_view TenantMessage(const Tenant& t, bool en) {
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
    case Channel::kVoice: return in.patient.mobile;
    case Channel::kEmail: return in.patient.email;
    case Channel::kPush: return in.patient.push_token;
  }
  return "";
}

struct Times {
  LocalTime start;
  LocalTime end;
  LocalTime arrival;  // start + delay
};

absl::StatusOr<Times> LocalTimes(const RenderInput& in) {
  absl::StatusOr<const date::time_zone*> zone = Zone(in.tenant.time_zone);
  if (!zone.ok()) return zone.status();
  Times t;
  t.start = ToLocalIn(*zone, in.appointment.start_ms);
  t.end = ToLocalIn(*zone, in.appointment.end_ms);
  t.arrival = in.delay_ms == 0 ? t.start
                               : ToLocalIn(*zone, in.appointment.start_ms + in.delay_ms);
  return t;
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
  At(v, Var::kTenantMessage) = std::string(TenantMessage(in.tenant, en));
  At(v, Var::kConfirmLink) = std::string(in.links.confirm);
  At(v, Var::kCancelLink) = std::string(in.links.cancel);
  At(v, Var::kArrivalLink) = std::string(in.links.arrival);
  At(v, Var::kRebookLink) = std::string(in.links.rebook);
}

}  // namespace

absl::Status ValidateTimeZone(std::string_view iana_name) {
  return Zone(iana_name).status();
}

absl::StatusOr<LocalTime> ToLocal(int64_t unix_ms, std::string_view iana_name) {
  absl::StatusOr<const date::time_zone*> zone = Zone(iana_name);
  if (!zone.ok()) return zone.status();
  return ToLocalIn(*zone, unix_ms);
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

absl::StatusOr<std::string> RenderMessage(const RenderInput& in) {
  absl::StatusOr<Times> times = LocalTimes(in);
  if (!times.ok()) return times.status();
  std::string_view locale = MessageLocale(in.tenant, in.patient);
  bool en = locale == "en";
  VariableValues v;
  Fill(in, *times, en, &v);

  const DefaultTemplate& def = DefaultTemplateFor(in.kind, in.channel, locale);
  const Template& body = in.custom_body != nullptr ? *in.custom_body : def.body;

  nlohmann::json j;
  j["kind"] = KindName(in.kind);
  j["channel"] = ChannelName(in.channel);
  j["to"] = Recipient(in);
  j["locale"] = locale;
  j["tenant"] = in.tenant.id;
  j["rendered_at_ms"] = in.now_ms;
  j["establishment"] = {{"name", in.tenant.name},
                        {"phone", in.tenant.phone},
                        {"website", in.tenant.website}};
  const Appointment& a = in.appointment;
  nlohmann::json appt = {
      {"id", a.id},
      {"calendar", a.calendar},
      {"type", a.type},
      {"start_ms", a.start_ms},
      {"end_ms", a.end_ms},
      {"start_local", IsoLocal(times->start)},
      {"end_local", IsoLocal(times->end)},
      {"date", IsoDate(times->start)},
      {"start_time", At(v, Var::kStartTime)},
      {"end_time", At(v, Var::kEndTime)},
      {"time_zone", in.tenant.time_zone},
      {"practitioner", in.calendar.name},
      {"service", in.type.name},
      {"location", a.location},
      {"mode", ModeName(in.type.mode)},
      {"mode_text", At(v, Var::kModeText)},
      {"prerequisites", in.type.prerequisites},
      {"notes", a.notes},
      {"price", in.type.price},
      {"duration_minutes", DurationMinutes(in)},
      {"status", VisitStatusName(a.status)},
      {"lifecycle", LifecycleName(a.lifecycle)},
      {"confirmed", a.confirmed},
      {"revision", a.revision},
  };
  if (in.kind == MessageKind::kDelayAlert) {
    appt["delay_minutes"] = in.delay_ms / kMinuteMs;
    appt["new_arrival_time"] = At(v, Var::kNewArrivalTime);
  }
  j["appointment"] = std::move(appt);
  j["patient"] = {{"id", in.patient.id},
                  {"first_name", in.patient.first_name},
                  {"last_name", in.patient.last_name},
                  {"full_name", At(v, Var::kPatientFullName)},
                  {"mobile", in.patient.mobile},
                  {"email", in.patient.email}};
  j["tenant_message"] = At(v, Var::kTenantMessage);
  j["sender"] = {{"name", in.tenant.sender_name.empty() ? in.tenant.name : in.tenant.sender_name},
                 {"email", in.tenant.sender_email},
                 {"sms", in.tenant.sender_sms}};
  nlohmann::json links = nlohmann::json::object();
  if (!in.links.confirm.empty()) links["confirm"] = in.links.confirm;
  if (!in.links.cancel.empty()) links["cancel"] = in.links.cancel;
  if (!in.links.arrival.empty()) links["arrival"] = in.links.arrival;
  if (!in.links.rebook.empty()) links["rebook"] = in.links.rebook;
  j["links"] = std::move(links);
  if (in.channel == Channel::kEmail) {
    const Template& subject = in.custom_subject != nullptr ? *in.custom_subject : def.subject;
    j["subject"] = Render(subject, v);
  }
  j["text"] = Render(body, v);
  // Names come from the platform: bad UTF-8 is replaced, not thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace rappel::server::plan
