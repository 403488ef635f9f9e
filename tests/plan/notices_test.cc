// Through the appointment book: the channels each kind goes by (the audit
// and the dry run say which rule left one out), notices that tell the
// event, and the dry run's cost, equal to what booking reserves.
#include <set>

#include "server/plan/credits.h"
#include "tests/plan/book_fixture.h"

namespace rappel::server::plan {
namespace {

class NoticesTest : public BookTest {
 protected:
  NoticesTest() { every_channel_per_kind_ = false; }  // the default grid, unless a test says
  void Tenant(const std::string& extra) {
    PutObject(ObjectKind::kTenant, 1, "",
              R"({"name": "Cabinet Dupont", "time_zone": "Europe/Paris",
                  "reminder_offsets": ["48h", "24h"], "action_url": "https://r.example/a",
                  "rebook_url": "https://book.example", )" + extra + "}");
  }
  json DryRun(const Appointment& a, absl::StatusCode expect = absl::StatusCode::kOk) {
    auto d = book_->DryRun(a);
    EXPECT_EQ(d.status().code(), expect) << d.status();
    return d.ok() ? json::parse(*d) : json(std::string(d.status().message()));
  }
  json Credits() {
    auto c = book_->CreditsJson(1);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? json::parse(*c) : json();
  }
  void AddCredits(int64_t n) {
    auto r = Wait<absl::StatusOr<std::string>>([&](auto done) { book_->AddCredits(1, n, done); });
    EXPECT_TRUE(r.ok()) << r.status();
  }
  // "kind/channel/occurrence" -> credits, of a dry run's messages or a
  // pending plan.
  static std::map<std::string, int64_t> CreditsByMessage(const json& messages) {
    std::map<std::string, int64_t> out;
    for (const json& m : messages) {
      out[m["kind"].get<std::string>() + "/" + m["channel"].get<std::string>() + "/" +
          std::to_string(m["occurrence"].get<int64_t>())] = m.value("credits", int64_t{0});
    }
    return out;
  }
  static std::string Reasons(const json& omitted_or_audit, const std::string& kind,
                             const std::string& channel) {
    std::string out;
    for (const json& o : omitted_or_audit) {
      if (o["kind"] == kind && o["channel"] == channel) out += o["reason"].get<std::string>() + "|";
    }
    return out;
  }
};

TEST_F(NoticesTest, TheDefaultGridAndTheAuditAndDryRunSayWhichRuleLeftAChannelOut) {
  Tenant(R"("channels": ["sms", "email"])");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  json dry = DryRun(Appt("a1", start));
  EXPECT_EQ(Reasons(dry["dry_run"]["omitted"], "confirmation", "sms"),
            "left out by the kind channels of the tenant|");
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  // The confirmation by e-mail only; the reminders by SMS only.
  EXPECT_EQ(Kinds(Deliveries()), std::vector<std::string>{"confirmation/email"});
  EXPECT_EQ(Reasons(Audit("a1"), "confirmation", "sms"), "left out by the kind channels of the tenant|");
  EXPECT_EQ(Reasons(Audit("a1"), "reminder", "email"), "left out by the kind channels of the tenant|");
  std::vector<std::string> pending;
  for (const json& m : Pending("a1")) pending.push_back(m["kind"].get<std::string>() + "/" + m["channel"].get<std::string>());
  EXPECT_EQ(pending, (std::vector<std::string>{"reminder/sms", "reminder/sms"}));

  // The type overrides the reminder: both channels; the audit names it.
  PutObject(ObjectKind::kType, 1, "consult",
            R"({"name": "Consultation", "mode": "on_site",
                "channels_by_kind": {"reminder": ["email"]}})");
  Appointment moved = Appt("a1", start + kHourMs, 2);
  ASSERT_TRUE(Upsert(moved).ok());
  pending.clear();
  for (const json& m : Pending("a1")) pending.push_back(m["kind"].get<std::string>() + "/" + m["channel"].get<std::string>());
  EXPECT_EQ(pending, (std::vector<std::string>{"change/email", "reminder/email", "reminder/email"}));
  EXPECT_NE(Reasons(Audit("a1"), "reminder", "sms").find("left out by the kind channels of the appointment type"),
            std::string::npos);
  // An unknown kind or channel is refused, clearly, and the type is kept.
  std::string err = PutObject(ObjectKind::kType, 1, "consult",
                              R"({"name": "C", "mode": "on_site", "channels_by_kind": {"reminder": ["fax"]}})",
                              absl::StatusCode::kInvalidArgument);
  EXPECT_NE(err.find("unknown channel \"fax\""), std::string::npos) << err;
  EXPECT_NE(book_->GetObject(ObjectKind::kType, 1, "consult")->find("\"reminder\":[\"email\"]"),
            std::string::npos);
}

TEST_F(NoticesTest, NoticesTellWhatHappenedAndThePractitionersCancellationIsNotItsBooking) {
  Tenant(R"("notify_practitioner": true, "message_fr": "Apportez votre carte vitale.")");
  PutObject(ObjectKind::kCalendar, 1, "dr-martin", R"({"name": "Dr Martin", "email": "martin@example.org"})");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);  // Friday
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  std::map<std::string, json> got;
  for (Got& g : Deliveries()) got[g.doc["kind"].get<std::string>()] = g.doc;
  ASSERT_TRUE(got.count("practitioner")) << Kinds(Deliveries()).size();
  json booked = got["practitioner"];
  EXPECT_EQ(booked["event"]["name"], "created");
  EXPECT_EQ(booked["subject"].get<std::string>().rfind("Nouveau rendez-vous : Jeanne Roux", 0), 0u)
      << booked["subject"];
  EXPECT_NE(got["confirmation"]["text"].get<std::string>().find("Apportez votre carte vitale."),
            std::string::npos);

  // Moved: from -> to.
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 6, 8, 9, 0), 2)).ok());
  got.clear();
  for (Got& g : Deliveries()) got[g.doc["kind"].get<std::string>()] = g.doc;
  ASSERT_TRUE(got.count("change") && got.count("practitioner"));
  EXPECT_NE(got["change"]["text"].get<std::string>().find(
                "Votre rendez-vous du vendredi 5 juin à 14:30 a été modifié. Il aura lieu le lundi 8 "
                "juin à 09:00"),
            std::string::npos)
      << got["change"]["text"];
  EXPECT_EQ(got["change"]["event"]["previous_start_ms"], start);
  EXPECT_NE(got["practitioner"]["text"].get<std::string>().find("Ancien horaire : vendredi 5 juin à 14:30"),
            std::string::npos);

  // Cancelled by the patient: the practitioner is told so.
  ASSERT_TRUE(Command("a1", AppointmentAction::kCancelByPatient).ok());
  got.clear();
  for (Got& g : Deliveries()) got[g.doc["kind"].get<std::string>()] = g.doc;
  ASSERT_TRUE(got.count("practitioner"));
  json cancelled = got["practitioner"];
  EXPECT_EQ(cancelled["event"]["name"], "cancelled_by_patient");
  EXPECT_EQ(cancelled["subject"].get<std::string>().rfind("Rendez-vous annulé : Jeanne Roux", 0), 0u);
  EXPECT_EQ(cancelled["text"].get<std::string>().rfind("Rendez-vous annulé par le patient", 0), 0u)
      << cancelled["text"];
  EXPECT_NE(cancelled["subject"], booked["subject"]);
  EXPECT_NE(cancelled["text"], booked["text"]);
  // The tenant's message is not in the cancellation acknowledgement.
  EXPECT_EQ(got["patient_cancel_ack"]["tenant_message"], "");

  // An absence: the patient and the practitioner are told why.
  ASSERT_TRUE(Upsert(Appt("a2", start)).ok());
  Deliveries();
  ASSERT_TRUE(Wait<absl::StatusOr<uint32_t>>([&](auto done) {
                book_->Absence(1, "dr-martin", start - kHourMs, start + kHourMs, done);
              }).ok());
  got.clear();
  for (Got& g : Deliveries()) got[g.doc["kind"].get<std::string>()] = g.doc;
  ASSERT_TRUE(got.count("cancellation") && got.count("practitioner"));
  EXPECT_EQ(got["cancellation"]["event"]["name"], "absence");
  EXPECT_NE(got["cancellation"]["text"].get<std::string>().find("annulé en raison d'une absence du praticien"),
            std::string::npos)
      << got["cancellation"]["text"];
  EXPECT_EQ(got["practitioner"]["event"]["name"], "absence");
}

TEST_F(NoticesTest, TheDryRunCostIsWhatBookingReservesBySmsAndVoice) {
  Tenant(R"("metered": true, "voice_credits": 3, "channels": ["sms", "email", "voice"],
            "channels_by_kind": {"confirmation": ["sms", "voice"], "change": ["sms", "email"],
                                 "reminder": ["sms", "voice"]})");
  // A text long and outside GSM-7 (œ): several UCS-2 parts.
  PutObject(ObjectKind::kType, 1, "consult",
            R"({"name": "Consultation", "mode": "on_site", "prerequisites":
                "Venez à jeun depuis 12 heures, apportez vos résultats d'analyses et votre carnet de santé, cœur."})");
  AddCredits(1000);
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  json dry = DryRun(Appt("a1", start));
  json& plan = dry["dry_run"];
  EXPECT_EQ(plan["metered"], true);
  std::map<std::string, int64_t> planned = CreditsByMessage(plan["messages"]);
  int64_t total = 0;
  for (const auto& [key, credits] : planned) {
    total += credits;
    if (key.find("/voice/") != std::string::npos) {
      EXPECT_EQ(credits, 3) << key;
    } else {
      EXPECT_GE(credits, 2) << key;  // SMS
    }
  }
  EXPECT_EQ(planned.size(), 6u) << plan;  // confirmation and two reminders, each by SMS and voice
  EXPECT_EQ(plan["credits_total"], total);

  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  EXPECT_EQ(Credits()["reserved"], total);
  EXPECT_EQ(CreditsByMessage(Pending("a1")), planned);

  // A move: the change notice says from when (a longer text); the dry run
  // still costs it as booking reserves it.
  Appointment moved = Appt("a1", LocalMs("Europe/Paris", 2026, 6, 8, 9, 0), 2);
  json dry_move = DryRun(moved);
  EXPECT_EQ(dry_move["event"], "modified");
  std::map<std::string, int64_t> move_plan = CreditsByMessage(dry_move["dry_run"]["messages"]);
  ASSERT_TRUE(move_plan.count("change/sms/2")) << dry_move;
  ASSERT_TRUE(Upsert(moved).ok());
  std::map<std::string, int64_t> pending = CreditsByMessage(Pending("a1"));
  // The confirmation is still pending (the worker has not been polled).
  for (const auto& [key, credits] : move_plan) EXPECT_EQ(pending[key], credits) << key;
  int64_t reserved = 0;
  for (const auto& [key, credits] : pending) reserved += credits;
  EXPECT_EQ(Credits()["reserved"], reserved);

  // Not metered: nothing costs anything.
  Tenant(R"("channels": ["sms", "email", "voice"])");
  json free = DryRun(Appt("b1", start));
  EXPECT_EQ(free["dry_run"]["metered"], false);
  EXPECT_EQ(free["dry_run"]["credits_total"], 0);
  for (const json& m : free["dry_run"]["messages"]) EXPECT_EQ(m["credits"], 0);
}

TEST_F(NoticesTest, ADryRunOfAnInactiveTypeIsRefusedAsBookingIs) {
  PutObject(ObjectKind::kType, 1, "old", R"({"name": "Old", "mode": "on_site", "active": false})");
  Appointment a = Appt("a1", LocalMs("Europe/Paris", 2026, 6, 5, 14, 30));
  a.type = "old";
  json refused = DryRun(a, absl::StatusCode::kFailedPrecondition);
  auto booked = Upsert(a);
  ASSERT_EQ(booked.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.get<std::string>(), std::string(booked.status().message()));
  EXPECT_NE(refused.get<std::string>().find("inactive"), std::string::npos);
}

// A move of the end, the patient or the mode only is still a move: the
// dry run plans what the upsert then does. Here the 24 h reminder (Tuesday
// 06:00, held by the sending hours to 08:00) was ahead when booked but is
// due when moved on Tuesday 07:00, so the move leaves it out; a dry run
// that kept the booking's instant would plan it at 08:00.
TEST_F(NoticesTest, TheDryRunOfAMoveOfTheEndPatientOrModePlansWhatTheUpsertDoes) {
  Tenant(R"("sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"], "wed": ["08:00-19:00"],
            "thu": ["08:00-19:00"], "fri": ["08:00-19:00"], "sat": ["08:00-19:00"], "sun": ["08:00-19:00"]})");
  PutObject(ObjectKind::kType, 1, "tele", R"({"name": "Téléconsultation", "mode": "telemedicine"})");
  for (int i = 2; i <= 4; ++i) {
    PutObject(ObjectKind::kPatient, 1, "p" + std::to_string(i),
              R"({"first_name": "P", "last_name": "N", "mobile": "+3361234567)" + std::to_string(i) +
                  R"(", "email": "p)" + std::to_string(i) + R"(@example.org"})");
  }
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 3, 6);  // Wednesday 06:00
  Appointment by_end = Appt("a1", start);
  Appointment by_patient = Appt("a2", start);
  by_patient.patient = "p2";
  Appointment by_mode = Appt("a3", start);
  by_mode.patient = "p3";
  for (const Appointment& a : {by_end, by_patient, by_mode}) ASSERT_TRUE(Upsert(a).ok());
  for (const std::string id : {"a1", "a2", "a3"}) {
    EXPECT_EQ(CreditsByMessage(Pending(id)).count("reminder/sms/86400"), 1u) << Pending(id);
  }
  RunUntil(LocalMs("Europe/Paris", 2026, 6, 2, 7));  // the confirmations go
  by_end.end_ms += 15 * kMinuteMs;
  by_patient.patient = "p4";
  by_mode.type = "tele";
  for (Appointment a : {by_end, by_patient, by_mode}) {
    a.version = 2;
    json dry = DryRun(a);
    EXPECT_EQ(dry["event"], "modified") << a.id;
    ASSERT_TRUE(Upsert(a).ok()) << a.id;
    std::set<std::string> planned, pending;
    for (const json& m : dry["dry_run"]["messages"]) {
      planned.insert(m["kind"].get<std::string>() + "/" + m["channel"].get<std::string>() + "/" +
                     std::to_string(m["occurrence"].get<int64_t>()) + "@" +
                     std::to_string(m["due_ms"].get<int64_t>()));
    }
    for (const json& m : Pending(a.id)) {
      pending.insert(m["kind"].get<std::string>() + "/" + m["channel"].get<std::string>() + "/" +
                     std::to_string(m["occurrence"].get<int64_t>()) + "@" +
                     std::to_string(m["due_ms"].get<int64_t>()));
    }
    EXPECT_EQ(planned, pending) << a.id;
    EXPECT_NE(Reasons(dry["dry_run"]["omitted"], "reminder", "*")
                  .find("due time has passed (24 h before the start)"),
              std::string::npos)
        << dry;
    for (const std::string& m : pending) EXPECT_EQ(m.find("reminder/"), std::string::npos) << a.id;
  }
}

}  // namespace
}  // namespace rappel::server::plan
