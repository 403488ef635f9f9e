// The sending limits the appointment book applies (issue 5 §2 and §4):
// credits (reserve at plan, spend on ack, release on drop, return on a
// permanent failure, wait and release when credit is added, fall back to
// e-mail, alerts, forecast, durable across a restart), consent, STOP, the
// daily reminder cap and one SMS for a household's same-day appointments.
#include <numeric>

#include "server/plan/credits.h"
#include "tests/plan/book_fixture.h"

namespace rappel::server::plan {
namespace {

class GatesTest : public BookTest {
 protected:
  void Tenant(const std::string& extra) {
    PutObject(ObjectKind::kTenant, 1, "",
              R"({"name": "Cabinet Dupont", "time_zone": "Europe/Paris",
                  "reminder_offsets": ["48h", "24h"], "action_url": "https://r.example/a",
                  "rebook_url": "https://book.example")" +
                  (extra.empty() ? std::string() : ", " + extra) + "}");
  }
  json Credits() {
    auto c = book_->CreditsJson(1);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? json::parse(*c) : json();
  }
  json AddCredits(int64_t n, absl::StatusCode expect = absl::StatusCode::kOk) {
    auto r = Wait<absl::StatusOr<std::string>>([&](auto done) { book_->AddCredits(1, n, done); });
    EXPECT_EQ(r.status().code(), expect) << r.status();
    return r.ok() ? json::parse(*r) : json();
  }
  // What the SMS of `got` cost, from their text.
  static int64_t SmsCost(const std::vector<Got>& got) {
    int64_t sum = 0;
    for (const Got& g : got) {
      if (g.doc["channel"] == "sms") sum += CountSms(g.doc["text"].get<std::string>()).segments;
    }
    return sum;
  }
  static std::vector<Got> Only(const std::vector<Got>& got, const std::string& channel) {
    std::vector<Got> out;
    for (const Got& g : got) {
      if (g.doc.value("channel", "") == channel) out.push_back(g);
    }
    return out;
  }
  // The ledger's invariants, whatever happened.
  void ExpectExact() {
    json c = Credits();
    EXPECT_EQ(c["balance"].get<int64_t>(), c["added"].get<int64_t>() - c["spent"].get<int64_t>()) << c;
    EXPECT_EQ(c["reserved"], c["reserved_by_plans"]) << c;
    EXPECT_GE(c["available"].get<int64_t>(), 0) << c;
  }
};

TEST_F(GatesTest, CreditsAreReservedAtPlanAndSpentOnTheAck) {
  Tenant(R"("metered": true)");
  AddCredits(100);
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  json c = Credits();
  // Confirmation and two reminders by SMS: each at least one segment.
  EXPECT_GE(c["reserved"].get<int64_t>(), 3) << c;
  EXPECT_EQ(c["pending_paid_messages"], 3) << c;
  ExpectExact();
  auto now = Deliveries();
  int64_t spent = SmsCost(now);
  EXPECT_EQ(Only(now, "sms").size(), 1u);
  c = Credits();
  EXPECT_EQ(c["spent"], spent) << c;
  EXPECT_EQ(c["balance"], 100 - spent) << c;
  ExpectExact();
  // Everything sent: nothing reserved any more, every segment paid for.
  auto later = RunUntil(start);
  spent += SmsCost(later);
  c = Credits();
  EXPECT_EQ(c["spent"], spent) << c;
  EXPECT_EQ(c["reserved"], 0) << c;
  ExpectExact();
  EXPECT_NE(Audit("a1").dump().find("credit(s) spent"), std::string::npos);
}

TEST_F(GatesTest, ACancellationReleasesAndAPermanentFailureReturns) {
  Tenant(R"("metered": true)");
  AddCredits(100);
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  Deliveries();
  int64_t reserved_before = Credits()["reserved"];
  ASSERT_GE(reserved_before, 2);
  ASSERT_TRUE(Command("a1", AppointmentAction::kCancelByPractitioner).ok());
  json c = Credits();
  // The two reminders' reservations are released; the cancellation notice
  // reserves its own.
  EXPECT_EQ(c["pending_paid_messages"], 1) << c;
  ExpectExact();
  // The worker fails it for good: its credits come back.
  while (!core_->Poll(clock_.now_ms(), 1 << 16)) {
  }
  queue_.RunPending();
  auto got = std::move(got_);
  got_.clear();
  std::vector<Dispatcher::AckRequest> acks;
  for (const Got& g : got) acks.push_back({g.lease_id, AckOutcome::kFailedPermanent, "no such number"});
  ASSERT_FALSE(acks.empty());
  bool done = false;
  dispatcher_->AckBatch(worker_, std::move(acks), [&](auto) { done = true; });
  ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
  c = Credits();
  EXPECT_EQ(c["reserved"], 0) << c;
  EXPECT_EQ(c["pending_paid_messages"], 0) << c;
  EXPECT_EQ(c["balance"].get<int64_t>(), 100 - c["spent"].get<int64_t>()) << c;
  ExpectExact();
}

TEST_F(GatesTest, WithoutCreditSmsWaitsAndAddingCreditReleasesIt) {
  Tenant(R"("metered": true, "credit_alert_below": 5, "admin_email": "admin@clinic.example")");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  auto now = Deliveries();
  for (Got& g : RunUntil(clock_.now_ms() + 1)) now.push_back(std::move(g));  // the alert of the waiting
  // The e-mail goes; the SMS waits; the administrators hear of both the low
  // balance and the waiting.
  EXPECT_EQ(Only(now, "sms").size(), 0u);
  std::vector<std::string> alerts;
  for (const Got& g : now) {
    if (g.doc.value("kind", "") == "admin_alert") alerts.push_back(g.doc["alert"]);
  }
  std::sort(alerts.begin(), alerts.end());
  EXPECT_EQ(alerts, (std::vector<std::string>{"credit-low", "credit-waiting"}));
  EXPECT_EQ(Credits()["waiting_for_credit"], 1);
  EXPECT_EQ(Show("a1")["pending"].dump().find("for credit") != std::string::npos, true);
  // Still waiting at the next poll: held, not spinning.
  clock_.Advance(1000);
  EXPECT_TRUE(Only(Deliveries(), "sms").empty());
  json c = AddCredits(50);
  EXPECT_EQ(c["balance"], 50) << c;
  auto released = Deliveries();
  ASSERT_EQ(Only(released, "sms").size(), 1u);
  EXPECT_EQ(Only(released, "sms")[0].doc["kind"], "confirmation");
  EXPECT_EQ(Credits()["waiting_for_credit"], 0);
  EXPECT_EQ(Credits()["spent"], SmsCost(released));
  ExpectExact();
}

TEST_F(GatesTest, AddingCreditIsValidated) {
  AddCredits(0, absl::StatusCode::kInvalidArgument);
  AddCredits(-5, absl::StatusCode::kInvalidArgument);
  auto r = Wait<absl::StatusOr<std::string>>([&](auto done) { book_->AddCredits(99, 5, done); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(book_->CreditsJson(99).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GatesTest, FallsBackToEmailWhenTheTenantAllowsIt) {
  Tenant(R"("metered": true, "credit_fallback_email": true)");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  // The e-mail of the same message is planned anyway: the SMS is dropped.
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  auto now = Deliveries();
  EXPECT_EQ(Kinds(now), (std::vector<std::string>{"confirmation/email"}));
  EXPECT_NE(Audit("a1").dump().find("the e-mail of this message goes"), std::string::npos);
  // Only the SMS was asked for: planned by e-mail instead.
  Appointment b = Appt("b1", start + kDayMs);
  b.channels = ChannelBit(Channel::kSms);
  ASSERT_TRUE(Upsert(b).ok());
  for (const auto& m : Pending("b1")) EXPECT_EQ(m["channel"], "email") << m;
  EXPECT_NE(Audit("b1").dump().find("by e-mail instead"), std::string::npos);
  ExpectExact();
}

TEST_F(GatesTest, TheLedgerAndReservationsSurviveARestart) {
  Tenant(R"("metered": true)");
  AddCredits(40);
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Upsert(Appt("a" + std::to_string(i), start + i * kHourMs)).ok());
  Deliveries();
  json before = Credits();
  Restart();
  json after = Credits();
  for (const char* f : {"balance", "reserved", "added", "spent", "reserved_by_plans"}) {
    EXPECT_EQ(before[f], after[f]) << f;
  }
  ExpectExact();
}

TEST_F(GatesTest, AMessageThatExpiredUnsentGivesItsCreditsBack) {
  Tenant(R"("metered": true)");
  AddCredits(100);
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  Deliveries();
  ASSERT_GE(Credits()["reserved"].get<int64_t>(), 2);
  // rappeld "down" across the appointment: its reminders expire unsent when
  // they are polled at last.
  clock_.Set(start + 2 * kHourMs);
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_EQ(Credits()["pending_paid_messages"], 2);  // the book did not hear of it
  EXPECT_EQ(book_->SweepGone(), 4u);                   // two reminders, two channels
  json c = Credits();
  EXPECT_EQ(c["reserved"], 0) << c;
  EXPECT_EQ(c["pending_paid_messages"], 0) << c;
  EXPECT_TRUE(Show("a1")["pending"].empty());
  EXPECT_NE(Audit("a1").dump().find("not sent before its expiry"), std::string::npos);
  ExpectExact();
  Restart();
  ExpectExact();
  EXPECT_EQ(book_->SweepGone(), 0u);
}

TEST_F(GatesTest, ForecastCountsThePendingPlanByHorizon) {
  Tenant(R"("metered": true)");
  AddCredits(1000);
  int64_t now = clock_.now_ms();
  ASSERT_TRUE(Upsert(Appt("soon", now + 2 * kDayMs + kHourMs)).ok());  // reminders in 1 h and 1 day
  ASSERT_TRUE(Upsert(Appt("later", now + 20 * kDayMs)).ok());   // reminders in 18-19 days
  Deliveries();  // the confirmations go
  json f = Credits()["forecast"];
  int64_t day = f["day"], week = f["week"], month = f["month"];
  EXPECT_GE(day, 1);
  EXPECT_GT(week, day);
  EXPECT_GT(month, week);
  EXPECT_EQ(month, Credits()["reserved"]);
}

TEST_F(GatesTest, ConsentRequiredSendsNothingWithoutIt) {
  Tenant(R"("require_consent": true)");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  auto r = Upsert(Appt("a1", start));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->planned, 0u);
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_NE(Audit("a1").dump().find("no consent"), std::string::npos);
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"first_name": "Jeanne", "last_name": "Roux",
      "mobile": "+33612345678", "email": "jeanne@example.org", "consent": true})");
  r = Upsert(Appt("a2", start + kDayMs));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->planned, 6u);
}

TEST_F(GatesTest, AtMostOneReminderAPatientADayInTheLocalDay) {
  Tenant(R"("reminder_offsets": ["24h"], "max_reminders_per_day": 1)");
  // Two appointments on the same morning: both reminders fall due on the
  // day before; the second is capped.
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 9);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  ASSERT_TRUE(Upsert(Appt("a2", start + 2 * kHourMs)).ok());
  Deliveries();
  auto got = RunUntil(start + 3 * kHourMs);
  std::vector<std::string> reminded;
  for (const Got& g : got) {
    if (g.doc["kind"] == "reminder") reminded.push_back(g.doc["appointment"]["id"].get<std::string>() + "/" + g.doc["channel"].get<std::string>());
  }
  std::sort(reminded.begin(), reminded.end());
  // The first reminder on both channels (one reminder, two channels).
  EXPECT_EQ(reminded, (std::vector<std::string>{"a1/email", "a1/sms"}));
  EXPECT_NE(Audit("a2").dump().find("cap:"), std::string::npos) << Audit("a2").dump(1);
  // The next local day counts afresh.
  ASSERT_TRUE(Upsert(Appt("a3", start + 2 * kDayMs)).ok());
  got = RunUntil(start + 2 * kDayMs);
  int a3 = 0;
  for (const Got& g : got) a3 += g.doc["kind"] == "reminder" && g.doc["appointment"]["id"] == "a3";
  EXPECT_EQ(a3, 2);
}

TEST_F(GatesTest, OneSmsForAHouseholdsSameDayAppointments) {
  Tenant(R"("reminder_offsets": ["24h"], "merge_household_sms": true)");
  PutObject(ObjectKind::kPatient, 1, "p2", R"({"first_name": "Paul", "last_name": "Roux",
      "mobile": "+33612345678"})");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 9);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  Appointment paul = Appt("b1", start + 90 * kMinuteMs);
  paul.patient = "p2";
  ASSERT_TRUE(Upsert(paul).ok());
  Deliveries();
  auto got = RunUntil(start);
  std::vector<Got> sms;
  for (const Got& g : Only(got, "sms")) {
    if (g.doc["kind"] == "reminder") sms.push_back(g);
  }
  ASSERT_EQ(sms.size(), 1u);
  EXPECT_EQ(sms[0].doc["appointment"]["id"], "a1");
  std::string text = sms[0].doc["text"];
  EXPECT_NE(text.find("Paul à 10:30"), std::string::npos) << text;
  EXPECT_NE(Audit("b1").dump().find("merged into the SMS of appointment a1"), std::string::npos);
  // The e-mail is not merged.
  int emails = 0;
  for (const Got& g : Only(got, "email")) emails += g.doc["kind"] == "reminder";
  EXPECT_EQ(emails, 1);
}

}  // namespace
}  // namespace rappel::server::plan
