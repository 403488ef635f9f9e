#include "server/plan/render.h"

#include <date/date.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/plan/token.h"

namespace rappel::server::plan {
namespace {

// Unix ms of a UTC calendar time.
int64_t Utc(int y, int mo, int d, int h, int mi) {
  auto day = date::sys_days{date::year{y} / mo / d};
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (day + std::chrono::hours{h} + std::chrono::minutes{mi}).time_since_epoch())
      .count();
}

// A complete input: every field a variable reads is set.
struct Fixture {
  Tenant tenant;
  Calendar calendar;
  AppointmentType type;
  Patient patient;
  Appointment appointment;
  std::string confirm = "https://c.example/a?token=confirm";
  std::string cancel = "https://c.example/a?token=cancel";
  std::string arrival = "https://c.example/a?token=arrival";
  std::string rebook = "https://c.example/book";

  Fixture() {
    tenant.id = 7;
    tenant.name = "Cabinet du Parc";
    tenant.phone = "+33140000000";
    tenant.website = "https://parc.example";
    tenant.time_zone = "Europe/Paris";
    tenant.locale = "fr";
    tenant.message_fr = "Merci d'arriver 10 minutes en avance.";
    tenant.message_en = "Please arrive 10 minutes early.";
    tenant.sender_name = "Parc";
    tenant.sender_email = "rdv@parc.example";
    tenant.sender_sms = "PARC";
    calendar.tenant = 7;
    calendar.id = "cal-1";
    calendar.name = "Dr Martin";
    calendar.email = "martin@parc.example";
    type.tenant = 7;
    type.id = "type-1";
    type.name = "Prise de sang";
    type.mode = Mode::kOnSite;
    type.prerequisites = "À jeun depuis 12 heures.";
    type.price = "25 €";
    type.duration_ms = 15 * kMinuteMs;
    patient.tenant = 7;
    patient.id = "pat-1";
    patient.first_name = "Jeanne";
    patient.last_name = "Dupont";
    patient.email = "jeanne@example.org";
    patient.mobile = "+33612345678";
    patient.push_token = "push-abc";
    appointment.tenant = 7;
    appointment.id = "apt-1";
    appointment.calendar = "cal-1";
    appointment.type = "type-1";
    appointment.patient = "pat-1";
    At(10, 0);
    appointment.location = "12 rue du Parc, Paris";
    appointment.notes = "Salle 2";
    appointment.revision = 3;
  }

  // Start and end from a UTC instant (end 30 minutes later).
  void At(int64_t start_ms) {
    appointment.start_ms = start_ms;
    appointment.end_ms = start_ms + 30 * kMinuteMs;
  }
  void At(int h, int m) { At(Utc(2026, 6, 1, h, m)); }

  RenderInput Input(MessageKind kind, Channel channel) const {
    return RenderInput{.tenant = tenant,
                       .calendar = calendar,
                       .type = type,
                       .patient = patient,
                       .appointment = appointment,
                       .kind = kind,
                       .channel = channel,
                       .now_ms = 1,
                       .links = {confirm, cancel, arrival, rebook},
                       .delay_ms = 0,
                       .recipient = {},
                       .also = {}};
  }

  nlohmann::json Render(MessageKind kind, Channel channel) const {
    auto out = RenderMessage(Input(kind, channel));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? nlohmann::json::parse(*out) : nlohmann::json();
  }

  VariableValues Values() const {
    VariableValues v;
    absl::Status s = FillVariables(Input(MessageKind::kReminder, Channel::kSms), &v);
    EXPECT_TRUE(s.ok()) << s;
    return v;
  }
};

struct ZoneCase {
  const char* zone;
  int64_t start_ms;
  const char* date;        // {date}
  const char* weekday_en;  // {weekday}, English
  const char* start_time;
  const char* start_local;
};

TEST(RenderTest, LocalTimesAcrossTimeZonesAndDstChanges) {
  const ZoneCase cases[] = {
      // Paris, spring forward 2026-03-29 02:00 -> 03:00.
      {"Europe/Paris", Utc(2026, 3, 29, 8, 0), "29/03/2026", "Sunday", "10:00",
       "2026-03-29T10:00:00+02:00"},
      {"Europe/Paris", Utc(2026, 3, 29, 0, 30), "29/03/2026", "Sunday", "01:30",
       "2026-03-29T01:30:00+01:00"},
      {"Europe/Paris", Utc(2026, 3, 29, 1, 0), "29/03/2026", "Sunday", "03:00",
       "2026-03-29T03:00:00+02:00"},
      {"Europe/Paris", Utc(2026, 3, 28, 9, 0), "28/03/2026", "Saturday", "10:00",
       "2026-03-28T10:00:00+01:00"},
      // Paris, fall back 2026-10-25 03:00 -> 02:00: 02:30 happens twice.
      {"Europe/Paris", Utc(2026, 10, 25, 9, 0), "25/10/2026", "Sunday", "10:00",
       "2026-10-25T10:00:00+01:00"},
      {"Europe/Paris", Utc(2026, 10, 25, 0, 30), "25/10/2026", "Sunday", "02:30",
       "2026-10-25T02:30:00+02:00"},
      {"Europe/Paris", Utc(2026, 10, 25, 1, 30), "25/10/2026", "Sunday", "02:30",
       "2026-10-25T02:30:00+01:00"},
      {"Europe/Paris", Utc(2026, 10, 24, 8, 0), "24/10/2026", "Saturday", "10:00",
       "2026-10-24T10:00:00+02:00"},
      // Montreal: UTC-5 in winter, UTC-4 in summer; evening UTC is the same day.
      {"America/Montreal", Utc(2026, 1, 15, 15, 0), "15/01/2026", "Thursday", "10:00",
       "2026-01-15T10:00:00-05:00"},
      {"America/Montreal", Utc(2026, 7, 15, 14, 0), "15/07/2026", "Wednesday", "10:00",
       "2026-07-15T10:00:00-04:00"},
      {"America/Montreal", Utc(2026, 1, 16, 2, 30), "15/01/2026", "Thursday", "21:30",
       "2026-01-15T21:30:00-05:00"},
      // Auckland: DST ends 2026-04-05 03:00 NZDT -> 02:00 NZST.
      {"Pacific/Auckland", Utc(2026, 4, 4, 22, 0), "05/04/2026", "Sunday", "10:00",
       "2026-04-05T10:00:00+12:00"},
      {"Pacific/Auckland", Utc(2026, 4, 4, 12, 0), "05/04/2026", "Sunday", "01:00",
       "2026-04-05T01:00:00+13:00"},
      // January, UTC+13: the UTC date is the day before.
      {"Pacific/Auckland", Utc(2026, 1, 14, 21, 0), "15/01/2026", "Thursday", "10:00",
       "2026-01-15T10:00:00+13:00"},
  };
  for (const ZoneCase& c : cases) {
    Fixture f;
    f.tenant.time_zone = c.zone;
    f.tenant.zone = TenantZone(c.zone);
    f.patient.locale = "en";
    f.At(c.start_ms);
    std::string what = std::string(c.zone) + " " + c.start_local;
    VariableValues v = f.Values();
    EXPECT_EQ(At(v, Var::kDate), c.date) << what;
    EXPECT_EQ(At(v, Var::kWeekday), c.weekday_en) << what;
    EXPECT_EQ(At(v, Var::kStartTime), c.start_time) << what;
    nlohmann::json j = f.Render(MessageKind::kReminder, Channel::kSms);
    EXPECT_EQ(j["appointment"]["start_local"], c.start_local) << what;
    EXPECT_EQ(j["appointment"]["start_time"], c.start_time) << what;
    EXPECT_EQ(j["appointment"]["time_zone"], c.zone) << what;
    std::string text = j["text"];
    EXPECT_NE(text.find(c.weekday_en), std::string::npos) << what << ": " << text;
    EXPECT_NE(text.find(std::string("at ") + c.start_time), std::string::npos)
        << what << ": " << text;
  }
}

TEST(RenderTest, EndTimeCrossesTheSpringChange) {
  Fixture f;
  f.At(Utc(2026, 3, 29, 0, 45));  // 01:45 +01:00; 30 minutes later is 03:15 +02:00
  nlohmann::json j = f.Render(MessageKind::kReminder, Channel::kEmail);
  EXPECT_EQ(j["appointment"]["start_local"], "2026-03-29T01:45:00+01:00");
  EXPECT_EQ(j["appointment"]["end_local"], "2026-03-29T03:15:00+02:00");
  EXPECT_EQ(j["appointment"]["end_time"], "03:15");
}

TEST(RenderTest, FrenchAndEnglishNames) {
  Fixture f;
  f.At(Utc(2026, 3, 29, 8, 0));
  VariableValues fr = f.Values();
  EXPECT_EQ(At(fr, Var::kDateLong), "dimanche 29 mars");
  EXPECT_EQ(At(fr, Var::kWeekday), "dimanche");
  EXPECT_EQ(At(fr, Var::kMonth), "mars");
  EXPECT_EQ(At(fr, Var::kDay), "29");
  EXPECT_EQ(At(fr, Var::kDateShort), "29/03");
  EXPECT_EQ(At(fr, Var::kModeText), "sur place");
  EXPECT_EQ(At(fr, Var::kTenantMessage), "Merci d'arriver 10 minutes en avance.");
  f.patient.locale = "en";
  VariableValues en = f.Values();
  EXPECT_EQ(At(en, Var::kDateLong), "Sunday 29 March");
  EXPECT_EQ(At(en, Var::kMonth), "March");
  EXPECT_EQ(At(en, Var::kModeText), "in person");
  EXPECT_EQ(At(en, Var::kTenantMessage), "Please arrive 10 minutes early.");

  // French first of the month; accented month names.
  f.patient.locale = "";
  f.At(Utc(2026, 6, 1, 8, 0));
  EXPECT_EQ(At(f.Values(), Var::kDateLong), "lundi 1er juin");
  f.At(Utc(2026, 8, 14, 8, 0));
  EXPECT_EQ(At(f.Values(), Var::kDateLong), "vendredi 14 août");
  f.At(Utc(2026, 2, 3, 8, 0));
  EXPECT_EQ(At(f.Values(), Var::kMonth), "février");
  f.tenant.locale = "en";
  f.At(Utc(2026, 6, 1, 8, 0));
  EXPECT_EQ(At(f.Values(), Var::kDateLong), "Monday 1 June");
}

TEST(RenderTest, LocaleIsThePatientsElseTheTenants) {
  Fixture f;
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kSms)["locale"], "fr");
  f.tenant.locale = "en";
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kSms)["locale"], "en");
  f.patient.locale = "fr";
  nlohmann::json j = f.Render(MessageKind::kReminder, Channel::kSms);
  EXPECT_EQ(j["locale"], "fr");
  EXPECT_NE(std::string(j["text"]).find("Rappel"), std::string::npos);
  f.patient.locale = "de";  // unsupported: French
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kSms)["locale"], "fr");
}

TEST(RenderTest, EveryVariableRendersSomethingForAFullInput) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  f.tenant.message_kinds |= KindBit(MessageKind::kDelayAlert);
  f.appointment.status = VisitStatus::kWaitingRoom;
  RenderInput in = f.Input(MessageKind::kDelayAlert, Channel::kSms);
  in.delay_ms = 25 * kMinuteMs;
  VariableValues v;
  ASSERT_TRUE(FillVariables(in, &v).ok());
  for (int i = 0; i < kVarCount; ++i) {
    // (Told only by a cancellation or a move: RenderTest.EventVariables.)
    Var var = static_cast<Var>(i);
    if (var == Var::kCancelledBy || var == Var::kPreviousDate || var == Var::kPreviousDateLong ||
        var == Var::kPreviousStartTime) {
      continue;
    }
    EXPECT_FALSE(v[static_cast<size_t>(i)].empty()) << kVariables[static_cast<size_t>(i)].name;
    // And through a template of its own.
    std::string text = "{" + std::string(kVariables[static_cast<size_t>(i)].name) + "}";
    auto t = CompileTemplate(text);
    ASSERT_TRUE(t.ok()) << text;
    EXPECT_EQ(Render(*t, v), v[static_cast<size_t>(i)]) << text;
  }
  EXPECT_EQ(At(v, Var::kStartTime), "10:00");
  EXPECT_EQ(At(v, Var::kEndTime), "10:30");
  EXPECT_EQ(At(v, Var::kNewArrivalTime), "10:25");
  EXPECT_EQ(At(v, Var::kDuration), "15");
  EXPECT_EQ(At(v, Var::kPatientFullName), "Jeanne Dupont");
  EXPECT_EQ(At(v, Var::kDate), "01/06/2026");
  EXPECT_EQ(At(v, Var::kRebookLink), "https://c.example/book");
}

TEST(RenderTest, DocumentFields) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  nlohmann::json j = f.Render(MessageKind::kConfirmation, Channel::kEmail);
  EXPECT_EQ(j["kind"], "confirmation");
  EXPECT_EQ(j["channel"], "email");
  EXPECT_EQ(j["to"], "jeanne@example.org");
  EXPECT_EQ(j["tenant"], 7);
  EXPECT_EQ(j["establishment"]["name"], "Cabinet du Parc");
  const auto& a = j["appointment"];
  EXPECT_EQ(a["id"], "apt-1");
  EXPECT_EQ(a["date"], "2026-06-01");
  EXPECT_EQ(a["start_local"], "2026-06-01T10:00:00+02:00");
  EXPECT_EQ(a["end_local"], "2026-06-01T10:30:00+02:00");
  EXPECT_EQ(a["practitioner"], "Dr Martin");
  EXPECT_EQ(a["mode"], "on_site");
  EXPECT_EQ(a["prerequisites"], "À jeun depuis 12 heures.");
  EXPECT_EQ(a["status"], "none");
  EXPECT_EQ(a["lifecycle"], "active");
  EXPECT_EQ(a["revision"], 3);
  EXPECT_FALSE(a.contains("delay_minutes"));
  EXPECT_EQ(j["patient"]["full_name"], "Jeanne Dupont");
  EXPECT_EQ(j["sender"]["name"], "Parc");
  EXPECT_EQ(j["sender"]["sms"], "PARC");
  EXPECT_EQ(j["links"]["confirm"], f.confirm);
  EXPECT_EQ(j["links"]["rebook"], f.rebook);
  EXPECT_EQ(j["subject"], "Votre rendez-vous du lundi 1er juin à 10:00");
  std::string text = j["text"];
  EXPECT_EQ(text.rfind("Bonjour Jeanne,\n\n", 0), 0u) << text;
  EXPECT_NE(text.find("le lundi 1er juin à 10:00 sur place."), std::string::npos) << text;
  EXPECT_NE(text.find("À jeun depuis 12 heures."), std::string::npos) << text;
  EXPECT_NE(text.find(f.confirm), std::string::npos) << text;
  EXPECT_NE(text.find(f.cancel), std::string::npos) << text;

  // Not e-mail: no subject; recipients per channel.
  nlohmann::json sms = f.Render(MessageKind::kReminder, Channel::kSms);
  EXPECT_FALSE(sms.contains("subject"));
  EXPECT_EQ(sms["to"], "+33612345678");
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kVoice)["to"], "+33612345678");
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kPush)["to"], "push-abc");
  EXPECT_EQ(f.Render(MessageKind::kPractitioner, Channel::kEmail)["to"], "martin@parc.example");
  RenderInput in = f.Input(MessageKind::kReminder, Channel::kSms);
  in.recipient = "+33699999999";
  EXPECT_EQ(nlohmann::json::parse(*RenderMessage(in))["to"], "+33699999999");
}

TEST(RenderTest, SmsTextsReadWell) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kSms)["text"],
            "Rappel Cabinet du Parc : rendez-vous le lundi 1er juin à 10:00 avec Dr Martin sur "
            "place. À jeun depuis 12 heures. Confirmer : https://c.example/a?token=confirm");
  // Unspecified mode and no prerequisites: no gaps left.
  f.type.mode = Mode::kUnspecified;
  f.type.prerequisites.clear();
  EXPECT_EQ(f.Render(MessageKind::kReminder, Channel::kSms)["text"],
            "Rappel Cabinet du Parc : rendez-vous le lundi 1er juin à 10:00 avec Dr Martin. "
            "Confirmer : https://c.example/a?token=confirm");
  f.type.mode = Mode::kPhone;
  f.patient.locale = "en";
  EXPECT_EQ(f.Render(MessageKind::kCancellation, Channel::kSms)["text"],
            "Cabinet du Parc: your appointment on Monday 1 June at 10:00 is cancelled by the "
            "practitioner. Book again: https://c.example/book");
  EXPECT_NE(std::string(f.Render(MessageKind::kReminder, Channel::kSms)["text"]).find("by phone"),
            std::string::npos);
}

TEST(RenderTest, DelayAlert) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  RenderInput in = f.Input(MessageKind::kDelayAlert, Channel::kSms);
  in.delay_ms = 40 * kMinuteMs;
  nlohmann::json j = nlohmann::json::parse(*RenderMessage(in));
  EXPECT_EQ(j["appointment"]["delay_minutes"], 40);
  EXPECT_EQ(j["appointment"]["new_arrival_time"], "10:40");
  EXPECT_EQ(j["text"],
            "Cabinet du Parc : Dr Martin a du retard. Merci de vous présenter à 10:40 au lieu de "
            "10:00.");
}

TEST(RenderTest, CustomTemplates) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  auto body = CompileTemplate("{{Hi}} {patient_first_name}: {date} {start_time}-{end_time}");
  auto subject = CompileTemplate("RDV {date_short}");
  ASSERT_TRUE(body.ok() && subject.ok());
  RenderInput in = f.Input(MessageKind::kReminder, Channel::kEmail);
  in.custom_body = &*body;
  in.custom_subject = &*subject;
  nlohmann::json j = nlohmann::json::parse(*RenderMessage(in));
  EXPECT_EQ(j["text"], "{Hi} Jeanne: 01/06/2026 10:00-10:30");
  EXPECT_EQ(j["subject"], "RDV 01/06");
}

TEST(RenderTest, NoLinksGivenMeansNoLinkLines) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  RenderInput in = f.Input(MessageKind::kReminder, Channel::kSms);
  in.links = {};
  nlohmann::json j = nlohmann::json::parse(*RenderMessage(in));
  EXPECT_TRUE(j["links"].is_object());
  EXPECT_TRUE(j["links"].empty());
  EXPECT_EQ(j["text"],
            "Rappel Cabinet du Parc : rendez-vous le lundi 1er juin à 10:00 avec Dr Martin sur "
            "place. À jeun depuis 12 heures.");
  RenderInput cancel = f.Input(MessageKind::kCancellation, Channel::kEmail);
  cancel.links = {};
  std::string text = nlohmann::json::parse(*RenderMessage(cancel))["text"];
  EXPECT_EQ(text.find("reprendre rendez-vous"), std::string::npos) << text;
  cancel.links.rebook = f.rebook;
  text = nlohmann::json::parse(*RenderMessage(cancel))["text"];
  EXPECT_NE(text.find("Pour reprendre rendez-vous : " + f.rebook + "\n"), std::string::npos)
      << text;
  // Only a cancel link: the confirm line is gone, the cancel line stays.
  RenderInput confirmation = f.Input(MessageKind::kConfirmation, Channel::kEmail);
  confirmation.links = {};
  confirmation.links.cancel = f.cancel;
  text = nlohmann::json::parse(*RenderMessage(confirmation))["text"];
  EXPECT_EQ(text.find("Confirmer"), std::string::npos) << text;
  EXPECT_NE(text.find("\n\nAnnuler : " + f.cancel + "\n\nCabinet du Parc\n"), std::string::npos)
      << text;
}

TEST(RenderTest, SmsFitsTwoSegmentsForATypicalInput) {
  Fixture f;
  for (const char* locale : {"fr", "en"}) {
    f.patient.locale = locale;
    for (int k = 1; k <= kMessageKindCount; ++k) {
      auto j = nlohmann::json::parse(
          *RenderMessage(f.Input(static_cast<MessageKind>(k), Channel::kSms)));
      EXPECT_LE(std::string(j["text"]).size(), 2 * 153u) << locale << " " << j["kind"];
    }
  }
}

TEST(RenderTest, StringsAreEscaped) {
  Fixture f;
  const std::string tricky[] = {"a \"quoted\" \\ name", "tab\there\nline\r\x01\x1f end",
                                "émoji 😀 €", "", "/slash/"};
  for (const std::string& s : tricky) {
    f.patient.first_name = s;
    f.appointment.notes = s;
    auto out = RenderMessage(f.Input(MessageKind::kReminder, Channel::kEmail));
    ASSERT_TRUE(out.ok());
    nlohmann::json j = nlohmann::json::parse(*out);
    EXPECT_EQ(j["patient"]["first_name"], s);
    EXPECT_EQ(j["appointment"]["notes"], s);
  }
}

TEST(RenderTest, BadUtf8IsReplaced) {
  Fixture f;
  const std::string replacement = "\xEF\xBF\xBD";
  const std::pair<std::string, std::string> cases[] = {
      {"Je\xff"
       "anne",
       "Je" + replacement + "anne"},
      {"trunc\xC3", "trunc" + replacement},                               // cut multi-byte sequence
      {"over\xC0\x80long", "over" + replacement + replacement + "long"},  // overlong NUL
      {"sur\xED\xA0\x80", "sur" + replacement + replacement + replacement},         // surrogate
      {"\xF4\x90\x80\x80", replacement + replacement + replacement + replacement},  // > U+10FFFF
      {"ok \xC3\xA9", "ok é"},
  };
  for (const auto& [in, want] : cases) {
    f.patient.first_name = in;
    auto out = RenderMessage(f.Input(MessageKind::kReminder, Channel::kEmail));
    ASSERT_TRUE(out.ok());
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(*out)) << *out;
    EXPECT_EQ(j["patient"]["first_name"], want);
  }
}

TEST(RenderTest, EveryKindAndChannelRenders) {
  Fixture f;
  for (const char* locale : {"fr", "en"}) {
    f.patient.locale = locale;
    for (int k = 1; k <= kMessageKindCount; ++k) {
      for (int c = 1; c <= kChannelCount; ++c) {
        auto out = RenderMessage(f.Input(static_cast<MessageKind>(k), static_cast<Channel>(c)));
        ASSERT_TRUE(out.ok()) << out.status();
        nlohmann::json j = nlohmann::json::parse(*out);
        std::string text = j["text"];
        EXPECT_FALSE(text.empty());
        EXPECT_EQ(text.find('{'), std::string::npos) << text;
        EXPECT_EQ(text.find("  "), std::string::npos) << text;
      }
    }
  }
}

TEST(RenderTest, UnknownTimeZone) {
  EXPECT_TRUE(ValidateTimeZone("Europe/Paris").ok());
  EXPECT_TRUE(ValidateTimeZone("Pacific/Auckland").ok());
  EXPECT_TRUE(ValidateTimeZone("UTC").ok());
  EXPECT_EQ(ValidateTimeZone("Mars/Olympus").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTimeZone("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidateTimeZone("localtime").ok());        // the host's zone
  EXPECT_FALSE(ValidateTimeZone("../zoneinfo/UTC").ok());  // not a path
  EXPECT_FALSE(ValidateTimeZone("europe/paris").ok());     // names are exact
  Fixture f;
  f.tenant.time_zone = "Mars/Olympus";
  f.tenant.zone = TenantZone("Mars/Olympus");
  auto out = RenderMessage(f.Input(MessageKind::kReminder, Channel::kSms));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("Mars/Olympus"), std::string::npos);
  // Still unknown the second time (not cached as known).
  EXPECT_FALSE(ValidateTimeZone("Mars/Olympus").ok());
}

TEST(RenderTest, ToLocalAndIsoLocal) {
  auto t = TenantZone("Europe/Paris").ToLocal(Utc(2026, 3, 29, 8, 0));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->weekday, 0);
  EXPECT_EQ(t->offset_minutes, 120);
  EXPECT_EQ(IsoLocal(*t), "2026-03-29T10:00:00+02:00");
  auto kolkata = TenantZone("Asia/Kolkata").ToLocal(Utc(2026, 3, 29, 8, 0));
  ASSERT_TRUE(kolkata.ok());
  EXPECT_EQ(IsoLocal(*kolkata), "2026-03-29T13:30:00+05:30");
  EXPECT_FALSE(TenantZone("UTC").ToLocal(INT64_MAX).ok());
  EXPECT_FALSE(TenantZone("UTC").ToLocal(INT64_MIN).ok());
  EXPECT_EQ(IsoLocal(*TenantZone("UTC").ToLocal(253'402'300'799'999)), "9999-12-31T23:59:59+00:00");
  Fixture f;
  f.appointment.start_ms = INT64_MAX;  // with a delay: no overflow on the way
  RenderInput late = f.Input(MessageKind::kDelayAlert, Channel::kSms);
  late.delay_ms = 10 * kMinuteMs;
  EXPECT_FALSE(RenderMessage(late).ok());
  f.appointment.start_ms = 0;
  f.appointment.end_ms = INT64_MAX;
  EXPECT_EQ(RenderMessage(f.Input(MessageKind::kReminder, Channel::kSms)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto before_epoch = TenantZone("UTC").ToLocal(-1);
  ASSERT_TRUE(before_epoch.ok());
  EXPECT_EQ(IsoLocal(*before_epoch), "1969-12-31T23:59:59+00:00");
}

}  // namespace
}  // namespace rappel::server::plan

namespace rappel::server::plan {
namespace {

TEST(RenderTest, EventVariablesSayWhatHappened) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));  // Monday 1 June, 10:00 Paris
  auto render = [&](MessageKind kind, Channel channel, Cause cause, int64_t previous = 0) {
    RenderInput in = f.Input(kind, channel);
    in.cause = cause;
    in.previous_start_ms = previous;
    auto out = RenderMessage(in);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? nlohmann::json::parse(*out) : nlohmann::json();
  };
  // Moved: from -> to, in the patient's notice and the practitioner's.
  int64_t before = Utc(2026, 5, 29, 7, 30);  // Friday 29 May, 09:30 Paris
  nlohmann::json moved = render(MessageKind::kChange, Channel::kSms, Cause::kModified, before);
  EXPECT_EQ(moved["text"],
            "Cabinet du Parc : votre rendez-vous du vendredi 29 mai à 09:30 est modifié : le "
            "lundi 1er juin à 10:00 avec Dr Martin sur place.");
  EXPECT_EQ(moved["event"]["name"], "modified");
  EXPECT_EQ(moved["event"]["previous_start_ms"], before);
  EXPECT_EQ(moved["event"]["previous_start_local"], "2026-05-29T09:30:00+02:00");
  nlohmann::json moved_dr = render(MessageKind::kPractitioner, Channel::kEmail, Cause::kModified, before);
  EXPECT_EQ(moved_dr["subject"], "Rendez-vous modifié : Jeanne Dupont, lundi 1er juin à 10:00");
  EXPECT_NE(std::string(moved_dr["text"]).find("Ancien horaire : vendredi 29 mai à 09:30"),
            std::string::npos)
      << moved_dr["text"];
  // Modified without moving (the place changed): no "from".
  nlohmann::json placed = render(MessageKind::kChange, Channel::kSms, Cause::kModified);
  EXPECT_EQ(placed["text"],
            "Cabinet du Parc : votre rendez-vous est modifié : le lundi 1er juin à 10:00 avec Dr "
            "Martin sur place.");
  EXPECT_FALSE(placed["event"].contains("previous_start_ms"));

  // The practitioner's cancellation e-mail is not the booking's.
  nlohmann::json booked = render(MessageKind::kPractitioner, Channel::kEmail, Cause::kCreated);
  nlohmann::json cancelled =
      render(MessageKind::kPractitioner, Channel::kEmail, Cause::kCancelledByPatient);
  EXPECT_EQ(booked["subject"], "Nouveau rendez-vous : Jeanne Dupont, lundi 1er juin à 10:00");
  EXPECT_EQ(cancelled["subject"], "Rendez-vous annulé : Jeanne Dupont, lundi 1er juin à 10:00");
  EXPECT_NE(booked["text"], cancelled["text"]);
  EXPECT_EQ(std::string(cancelled["text"]).rfind("Rendez-vous annulé par le patient : ", 0), 0u)
      << cancelled["text"];
  EXPECT_EQ(std::string(booked["text"]).rfind("Nouveau rendez-vous : rendez-vous du", 0), 0u)
      << booked["text"];
  EXPECT_EQ(cancelled["event"]["name"], "cancelled_by_patient");

  // Who cancelled, in the patient's cancellation.
  EXPECT_NE(std::string(render(MessageKind::kCancellation, Channel::kSms, Cause::kAbsence)["text"])
                .find("est annulé en raison d'une absence du praticien."),
            std::string::npos);
  f.patient.locale = "en";
  EXPECT_NE(std::string(render(MessageKind::kCancellation, Channel::kEmail,
                               Cause::kCancelledByPractitioner)["text"])
                .find("is cancelled by the practitioner."),
            std::string::npos);
  nlohmann::json dr_en = render(MessageKind::kPractitioner, Channel::kEmail, Cause::kAbsence);
  EXPECT_EQ(dr_en["subject"], "Appointment cancelled: Jeanne Dupont, Monday 1 June at 10:00");
  EXPECT_EQ(std::string(dr_en["text"])
                .rfind("Appointment cancelled because the practitioner is absent: appointment", 0),
            0u)
      << dr_en["text"];

  // Not told (a payload of an older version): taken from the kind and the
  // appointment.
  f.appointment.lifecycle = Lifecycle::kToReschedule;
  EXPECT_EQ(render(MessageKind::kCancellation, Channel::kSms, Cause::kNone)["event"]["name"],
            "to_reschedule");
  // Reminders are not notices: no event.
  f.appointment.lifecycle = Lifecycle::kActive;
  nlohmann::json reminder = render(MessageKind::kReminder, Channel::kSms, Cause::kModified, before);
  EXPECT_FALSE(reminder.contains("event"));
  VariableValues v;
  RenderInput in = f.Input(MessageKind::kReminder, Channel::kSms);
  in.cause = Cause::kModified;
  in.previous_start_ms = before;
  ASSERT_TRUE(FillVariables(in, &v).ok());
  EXPECT_EQ(At(v, Var::kEvent), "");
  EXPECT_EQ(At(v, Var::kPreviousStartTime), "");
  // The visit status, in the patient's language.
  f.appointment.status = VisitStatus::kExcused;
  ASSERT_TRUE(FillVariables(f.Input(MessageKind::kPractitioner, Channel::kEmail), &v).ok());
  EXPECT_EQ(At(v, Var::kStatus), "excused");
}

TEST(RenderTest, TheTenantsMessageGoesOnlyInTheKindsItIsFor) {
  Fixture f;
  f.At(Utc(2026, 6, 1, 8, 0));
  const std::string message = "Merci d'arriver 10 minutes en avance.";
  auto has = [&](MessageKind kind) {
    nlohmann::json j = f.Render(kind, Channel::kEmail);
    bool in_text = std::string(j["text"]).find(message) != std::string::npos;
    EXPECT_EQ(in_text, j["tenant_message"] == message) << KindName(kind);
    return in_text;
  };
  // By default: confirmation, change, the reminders.
  EXPECT_TRUE(has(MessageKind::kConfirmation));
  EXPECT_TRUE(has(MessageKind::kChange));
  EXPECT_TRUE(has(MessageKind::kReminder));
  EXPECT_TRUE(has(MessageKind::kPreVisit));
  EXPECT_FALSE(has(MessageKind::kPostVisit));
  f.appointment.lifecycle = Lifecycle::kCancelledByPractitioner;
  EXPECT_FALSE(has(MessageKind::kCancellation));
  f.appointment.lifecycle = Lifecycle::kActive;
  // As the tenant sets it.
  f.tenant.message_kinds = KindBit(MessageKind::kPostVisit);
  EXPECT_TRUE(has(MessageKind::kPostVisit));
  EXPECT_FALSE(has(MessageKind::kConfirmation));
  EXPECT_FALSE(has(MessageKind::kReminder));
}

}  // namespace
}  // namespace rappel::server::plan

namespace rappel::server::plan {
namespace {

TEST(MessageRefTest, CarriesTheEventAndReadsThePayloadsOfOlderVersions) {
  MessageRef moved{7, 0, Cause::kModified, 1'780'000'000'000, 1'780'001'800'000};
  EXPECT_EQ(EncodeMessageRef(moved), "r7;d0;c2;p1780000000000;q1780001800000");
  auto back = DecodeMessageRef(EncodeMessageRef(moved));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->revision, 7u);
  EXPECT_EQ(back->cause, Cause::kModified);
  EXPECT_EQ(back->previous_start_ms, moved.previous_start_ms);
  EXPECT_EQ(back->previous_end_ms, moved.previous_end_ms);
  // Nothing told: as small as before.
  EXPECT_EQ(EncodeMessageRef(MessageRef{3, 1200000}), "r3;d1200000");
  // A payload written before the event was told: read, cause kNone.
  auto old = DecodeMessageRef("r3;d0");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->cause, Cause::kNone);
  EXPECT_EQ(old->previous_start_ms, 0);
  for (const char* bad : {"r3", "r3;d0;c99", "r3;d0;x1", "r3;d0;p", "r3;d0;pabc", "r3;d0;c1;c1;c1;c1",
                          "", "rx;d0"}) {
    EXPECT_FALSE(DecodeMessageRef(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace rappel::server::plan
