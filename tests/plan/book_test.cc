// AppointmentBook over a real engine, store and dispatcher, with a fake
// clock and a worker that records what it is handed: the appointment
// lifecycle end to end (create, move, cancel, status, absence, delay alert,
// replies, self-service tokens, audit), validation, and restart.
#include "server/plan/book.h"

#include <chrono>
#include <map>
#include <memory>

#include "date/tz.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/plan/token.h"
#include "tests/plan/book_fixture.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace rappel::server::plan {
namespace {


TEST_F(BookTest, CreateSendsTheConfirmationAtOnceAndRemindersAtTheOffsets) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);  // Friday 14:30
  auto r = Upsert(Appt("a1", start));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, UpsertOutcome::kCreated);
  auto now = Deliveries();
  EXPECT_EQ(Kinds(now), (std::vector<std::string>{"confirmation/email", "confirmation/sms"}));
  const json& doc = now[0].doc;
  EXPECT_EQ(doc["appointment"]["start_time"], "14:30");
  EXPECT_EQ(doc["appointment"]["date"], "2026-06-05");
  EXPECT_EQ(doc["appointment"]["practitioner"], "Dr Martin");
  EXPECT_EQ(now[0].message_id, "1:" + now[0].key);  // stable: no version in it
  EXPECT_NE(doc["text"].get<std::string>().find("14:30"), std::string::npos) << doc["text"];
  ASSERT_TRUE(doc["links"].contains("confirm"));
  // Nothing more until 48 h before, then the two reminders, then nothing.
  EXPECT_TRUE(RunUntil(start - 48 * kHourMs - 1).empty());
  EXPECT_EQ(Kinds(RunUntil(start - 48 * kHourMs)),
            (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  EXPECT_TRUE(RunUntil(start - 24 * kHourMs - 1).empty());
  EXPECT_EQ(Kinds(RunUntil(start - 24 * kHourMs)),
            (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  EXPECT_TRUE(RunUntil(start + kDayMs).empty());
  EXPECT_EQ(engine_->stats().live, 0u);
  // The audit has every planned and sent message.
  json audit = Show("a1")["audit"];
  int planned = 0, sent = 0;
  for (const auto& e : audit) {
    planned += e["what"] == "planned";
    sent += e["what"] == "sent";
  }
  EXPECT_EQ(planned, 6);
  EXPECT_EQ(sent, 6);
}

TEST_F(BookTest, AMoveSendsAChangeNoticeAndRemindersOnlyAtTheNewTimes) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start, 1)).ok());
  Deliveries();
  int64_t moved = start + 3 * kDayMs;  // Monday 8 June
  auto r = Upsert(Appt("a1", moved, 2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, UpsertOutcome::kModified);
  auto now = Deliveries();
  EXPECT_EQ(Kinds(now), (std::vector<std::string>{"change/email", "change/sms"}));
  EXPECT_EQ(now[0].doc["appointment"]["date"], "2026-06-08");
  // The old reminder times pass in silence.
  EXPECT_TRUE(RunUntil(start + kHourMs).empty());
  auto due = RunUntil(moved - 24 * kHourMs);
  EXPECT_EQ(Kinds(due), (std::vector<std::string>{"reminder/email", "reminder/email",
                                                  "reminder/sms", "reminder/sms"}));
  for (const Got& g : due) EXPECT_EQ(g.doc["appointment"]["date"], "2026-06-08");
}

TEST_F(BookTest, ANoticeNotYetSentOutlivesLaterEventsUnlessANewerOneReplacesIt) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start, 1)).ok());
  Appointment notes = Appt("a1", start, 2);
  notes.notes = "bring the X-rays";
  ASSERT_EQ(Upsert(notes)->outcome, UpsertOutcome::kUpdated);
  ASSERT_TRUE(Upsert(Appt("a1", start + kHourMs, 3)).ok());
  ASSERT_TRUE(Upsert(Appt("a1", start + 2 * kHourMs, 4)).ok());
  // Nothing was handed out in between: the confirmation still goes, and one
  // change notice, the latest, both showing the time as it is now.
  auto got = Deliveries();
  EXPECT_EQ(Kinds(got), (std::vector<std::string>{"change/email", "change/sms",
                                                   "confirmation/email", "confirmation/sms"}));
  for (const Got& g : got) EXPECT_EQ(g.doc["appointment"]["start_time"], "16:30");
  // A cancellation takes back what is not about it.
  ASSERT_TRUE(Upsert(Appt("b1", start, 1)).ok());
  ASSERT_TRUE(Command("b1", AppointmentAction::kCancelByPractitioner).ok());
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"cancellation/email", "cancellation/sms"}));
}

TEST_F(BookTest, TwoVersionsInOneBatchLeaveThePlanOfTheLatest) {
  int64_t far = clock_.now_ms() + 4 * kDayMs;
  int64_t near = clock_.now_ms() + 25 * kHourMs;  // its 48 h reminder would be in the past
  auto results = UpsertAll({Appt("a1", far, 1), Appt("a1", near, 2)});
  ASSERT_TRUE(results[0].ok() && results[1].ok());
  Deliveries();  // the confirmation and the change notice
  json pending = Show("a1")["pending"];
  ASSERT_EQ(pending.size(), 2u);  // the 24 h reminder, two channels
  for (const auto& p : pending) EXPECT_EQ(p["due_ms"], near - 24 * kHourMs);
  EXPECT_EQ(engine_->stats().live, 2u);  // the first version's 48 h reminders never landed
}

TEST_F(BookTest, AStaleVersionIsRefusedAndTheSameVersionIsANoOp) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start, 5)).ok());
  auto same = Upsert(Appt("a1", start + kHourMs, 5));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->outcome, UpsertOutcome::kUnchanged);
  auto stale = Upsert(Appt("a1", start + kHourMs, 4));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("stale"), absl::string_view::npos);
  EXPECT_EQ(Show("a1")["appointment"]["start_ms"], start);
}

TEST_F(BookTest, ACancellationSendsItsNoticeWithARebookLinkAndNothingMore) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  Deliveries();
  ASSERT_TRUE(Command("a1", AppointmentAction::kCancelByPractitioner).ok());
  auto now = Deliveries();
  EXPECT_EQ(Kinds(now), (std::vector<std::string>{"cancellation/email", "cancellation/sms"}));
  EXPECT_EQ(now[0].doc["links"]["rebook"], "https://book.example");
  EXPECT_TRUE(RunUntil(start + 7 * kDayMs).empty());
  EXPECT_EQ(engine_->stats().live, 0u);
  // A second cancel is refused clearly.
  EXPECT_EQ(Command("a1", AppointmentAction::kCancelByPatient).status().code(),
            absl::StatusCode::kFailedPrecondition);
  int dropped = 0;
  for (const auto& e : Audit("a1")) dropped += e["what"] == "dropped";
  EXPECT_EQ(dropped, 4);  // the two reminders on two channels
}

TEST_F(BookTest, AStatusStopsWhatFallsDueAndClearingItBeforeLetsItGo) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("seen", start)).ok());
  ASSERT_TRUE(Upsert(Appt("cleared", start + kHourMs)).ok());
  Deliveries();
  ASSERT_TRUE(Command("seen", AppointmentAction::kSetStatus, VisitStatus::kSeen).ok());
  ASSERT_TRUE(Command("cleared", AppointmentAction::kSetStatus, VisitStatus::kWaitingRoom).ok());
  ASSERT_TRUE(Command("cleared", AppointmentAction::kSetStatus, VisitStatus::kNone).ok());
  auto due = RunUntil(start + 2 * kHourMs);
  for (const Got& g : due) EXPECT_EQ(g.doc["appointment"]["id"], "cleared") << g.key;
  EXPECT_EQ(due.size(), 4u);  // "cleared": 48 h and 24 h, sms and e-mail
  int suppressed = 0;
  for (const auto& e : Audit("seen")) suppressed += e["what"] == "suppressed";
  EXPECT_EQ(suppressed, 4);
  // Attendance: one visit counted for the patient.
  json patient = json::parse(*book_->GetObject(ObjectKind::kPatient, 1, "p1"));
  EXPECT_EQ(patient["appointments"], 1);
  EXPECT_EQ(patient["no_shows"], 0);
  // Seen -> absent: still one visit, now a no-show; durable across a restart.
  ASSERT_TRUE(Command("seen", AppointmentAction::kSetStatus, VisitStatus::kAbsent).ok());
  Restart();
  patient = json::parse(*book_->GetObject(ObjectKind::kPatient, 1, "p1"));
  EXPECT_EQ(patient["appointments"], 1);
  EXPECT_EQ(patient["no_shows"], 1);
  // Counts the platform sets are kept too.
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"mobile": "+33612345678", "appointments": 7,
      "no_shows": 3})");
  Restart();
  patient = json::parse(*book_->GetObject(ObjectKind::kPatient, 1, "p1"));
  EXPECT_EQ(patient["appointments"], 7);
  EXPECT_EQ(patient["no_shows"], 3);
}

TEST_F(BookTest, AbsenceOverACalendarCancelsEveryAppointmentInItAtOnce) {
  int64_t day = LocalMs("Europe/Paris", 2026, 6, 10, 8);
  std::vector<Appointment> batch;
  for (int i = 0; i < 500; ++i) {
    batch.push_back(Appt("bulk-" + std::to_string(i), day + (i % 40) * 15 * kMinuteMs));
  }
  batch.push_back(Appt("next-day", day + kDayMs));
  for (const auto& r : UpsertAll(batch)) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Deliveries().size(), 501u * 2);
  uint32_t cancelled = Wait<absl::StatusOr<uint32_t>>([&](auto done) {
                         book_->Absence(1, "dr-martin", day, day + 12 * kHourMs, done);
                       }).value();
  EXPECT_EQ(cancelled, 500u);
  auto notices = Deliveries();
  EXPECT_EQ(notices.size(), 1000u);
  for (const Got& g : notices) EXPECT_EQ(g.doc["kind"], "cancellation");
  // What remains: only the next-day appointment's reminders.
  auto rest = RunUntil(day + 3 * kDayMs);
  EXPECT_EQ(rest.size(), 4u);
  for (const Got& g : rest) EXPECT_EQ(g.doc["appointment"]["id"], "next-day");
}

TEST_F(BookTest, TheSameOutcomeAfterARestartInTheMiddle) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("moved", start, 1)).ok());
  ASSERT_TRUE(Upsert(Appt("cancelled", start, 1)).ok());
  ASSERT_TRUE(Upsert(Appt("kept", start, 1)).ok());
  Deliveries();
  ASSERT_TRUE(Upsert(Appt("moved", start + kDayMs, 2)).ok());
  ASSERT_TRUE(Command("cancelled", AppointmentAction::kCancelByPractitioner).ok());
  Restart();
  // The notices of the move and the cancel were not yet handed out: they
  // come after the restart; then only the reminders of the plan as it is.
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"cancellation/email", "cancellation/sms",
                                                           "change/email", "change/sms"}));
  EXPECT_EQ(Show("moved")["appointment"]["revision"], 2);
  EXPECT_EQ(Show("moved")["pending"].size(), 4u);
  auto due = RunUntil(start + 2 * kDayMs);
  std::map<std::string, int> by_appt;
  for (const Got& g : due) ++by_appt[g.doc["appointment"]["id"].get<std::string>()];
  EXPECT_EQ(by_appt, (std::map<std::string, int>{{"kept", 4}, {"moved", 4}}));
  // A platform retrying the move after the restart gets "unchanged".
  EXPECT_EQ(Upsert(Appt("moved", start + kDayMs, 2))->outcome, UpsertOutcome::kUnchanged);
}

TEST_F(BookTest, ValidationGivesClearErrors) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  Appointment a = Appt("v", start);
  a.tenant = 9;
  EXPECT_EQ(Upsert(a).status().code(), absl::StatusCode::kNotFound);
  a = Appt("v", start);
  a.calendar = "nobody";
  EXPECT_EQ(Upsert(a).status().code(), absl::StatusCode::kNotFound);
  a = Appt("v", start);
  a.type = "nothing";
  EXPECT_EQ(Upsert(a).status().code(), absl::StatusCode::kNotFound);
  a = Appt("v", start);
  a.patient = "ghost";
  EXPECT_EQ(Upsert(a).status().code(), absl::StatusCode::kNotFound);
  a = Appt("v", start);
  a.end_ms = start - 1;
  EXPECT_EQ(Upsert(a).status().code(), absl::StatusCode::kInvalidArgument);
  PutObject(ObjectKind::kTenant, 2, "", R"({"time_zone": "Mars/Olympus"})",
            absl::StatusCode::kInvalidArgument);
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "remindr": ["2h"]})",
            absl::StatusCode::kInvalidArgument);
  PutObject(ObjectKind::kPatient, 1, "p2", R"({"channels": ["sms"], "email": "x@example.org"})",
            absl::StatusCode::kInvalidArgument);
  PutObject(ObjectKind::kCalendar, 7, "c", "{}", absl::StatusCode::kNotFound);
  PutObject(ObjectKind::kTemplate, 1, "reminder/sms/fr", R"({"body": "Bonjour {prenom}"})",
            absl::StatusCode::kInvalidArgument);
  PutObject(ObjectKind::kType, 1, "old", R"({"mode": "on_site", "active": false})");
  a = Appt("v", start);
  a.type = "old";
  EXPECT_EQ(Upsert(a).status().code(), absl::StatusCode::kFailedPrecondition);
  // The invalid items of a batch do not stop the valid ones.
  auto results = UpsertAll({Appt("ok", start), a});
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
}

TEST_F(BookTest, ATenantTemplateIsUsedForItsKindChannelAndLocale) {
  PutObject(ObjectKind::kTemplate, 1, "confirmation/sms/fr",
            R"({"body": "RDV {date} {start_time} avec {practitioner}"})");
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 6, 5, 14, 30))).ok());
  for (const Got& g : Deliveries()) {
    if (g.doc["channel"] == "sms") {
      EXPECT_EQ(g.doc["text"], "RDV 05/06/2026 14:30 avec Dr Martin");
    } else {
      EXPECT_NE(g.doc["text"], "RDV 05/06/2026 14:30 avec Dr Martin");  // the default e-mail
    }
  }
}

TEST_F(BookTest, SelfServiceTokensConfirmOnceInTheirWindowAndForgeriesAreRefused) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 2, 15);  // tomorrow 15:00: in the 48 h window
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  auto sent = Deliveries();
  ASSERT_FALSE(sent.empty());
  std::string link = sent[0].doc["links"]["confirm"];
  std::string token = link.substr(link.find("token=") + 6);
  // Forged: one character changed.
  std::string forged = token;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Redeem(forged).status().code(), absl::StatusCode::kPermissionDenied);
  auto ok = Redeem(token);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->action, "confirm");
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"confirm_ack/email", "confirm_ack/sms"}));
  EXPECT_TRUE(Show("a1")["appointment"]["confirmed"]);
  // Replayed: refused, nothing sent.
  EXPECT_EQ(Redeem(token).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Deliveries().empty());
  // Cancel is open until 24 h before: 23 h before, it is too late.
  RunUntil(start - 23 * kHourMs);
  auto late = Wait<absl::StatusOr<AppointmentResult>>([&](auto done) {
    book_->PatientReply(1, "p1", "a1", PatientReplyKind::kCancel, done);
  });
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  // A token past its expiry.
  clock_.Set(start + kMinuteMs);
  EXPECT_EQ(Redeem(token).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Redeem("not-a-token").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BookTest, ARemindersDueBeforeTheBookingOrTheMoveIsNotSentAtTheNextOpening) {
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris",
      "reminder_offsets": ["48h", "24h"], "sending_hours": {"mon": ["08:00-19:00"],
      "tue": ["08:00-19:00"], "wed": ["08:00-19:00"], "thu": ["08:00-19:00"],
      "fri": ["08:00-19:00"], "sat": ["08:00-19:00"], "sun": ["08:00-19:00"]}})");
  // Booked Monday 21:00 for Wednesday 20:00: 48 h before (Monday 20:00) has
  // passed; it does not go on Tuesday 08:00 with the held confirmation.
  clock_.Set(LocalMs("Europe/Paris", 2026, 6, 1, 21));
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 3, 20);
  ASSERT_TRUE(Upsert(Appt("late", start)).ok());
  const std::string why = "due time has passed (48 h before the start)";
  json shown = Show("late");
  EXPECT_NE(shown["audit"].dump().find(why), std::string::npos) << shown["audit"];
  bool starred = false;  // left out before a channel was chosen: channel "*"
  for (const auto& o : shown["dry_run"]["omitted"]) {
    starred |= o["kind"] == "reminder" && o["channel"] == "*" && o["reason"] == why;
  }
  EXPECT_TRUE(starred) << shown["dry_run"];
  EXPECT_EQ(Kinds(RunUntil(LocalMs("Europe/Paris", 2026, 6, 2, 8))),
            (std::vector<std::string>{"confirmation/email", "confirmation/sms"}));
  // The dry run later says it was already so at the booking.
  EXPECT_NE(Show("late")["dry_run"].dump().find(why + " when the appointment was booked or moved"),
            std::string::npos);
  // Moved on Tuesday 09:00 to Thursday 08:30: 48 h before (Tuesday 08:30)
  // has passed; 24 h before, Wednesday 08:30, is planned.
  RunUntil(LocalMs("Europe/Paris", 2026, 6, 2, 9));
  int64_t moved = LocalMs("Europe/Paris", 2026, 6, 4, 8, 30);
  ASSERT_TRUE(Upsert(Appt("late", moved, 2)).ok());
  shown = Show("late");
  int reminders = 0;  // 24 h before, SMS and e-mail
  for (const auto& p : shown["pending"]) {
    if (p["kind"] != "reminder") continue;
    ++reminders;
    EXPECT_EQ(p["due_ms"], moved - kDayMs);
  }
  EXPECT_EQ(reminders, 2);
  int omitted = 0;
  for (const auto& e : shown["audit"]) {
    omitted += e.dump().find(why) != std::string::npos;
  }
  EXPECT_EQ(omitted, 2);  // at the booking and at the move
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"change/email", "change/sms"}));
  EXPECT_EQ(Kinds(RunUntil(moved - kDayMs)),
            (std::vector<std::string>{"reminder/email", "reminder/sms"}));
}

TEST_F(BookTest, SecondReminderGoesToUnreliablePatientsOnlyUntilTheyConfirm) {
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "reminder_offsets": ["24h"],
      "second_reminder": "unreliable", "second_reminder_offset": "2h"})");
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"mobile": "+33612345678", "appointments": 10,
      "no_shows": 4})");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("unconfirmed", start)).ok());
  ASSERT_TRUE(Upsert(Appt("confirmed", start + kHourMs)).ok());
  Deliveries();
  ASSERT_TRUE(Command("confirmed", AppointmentAction::kConfirm).ok());
  auto due = RunUntil(start + 2 * kHourMs);
  std::vector<std::string> seconds;
  for (const Got& g : due) {
    if (g.doc["kind"] == "second_reminder") seconds.push_back(g.doc["appointment"]["id"]);
  }
  EXPECT_EQ(seconds, std::vector<std::string>{"unconfirmed"});
}

TEST_F(BookTest, StopDropsEveryPendingMessageToTheNumberUntilStart) {
  // p2 shares p1's mobile (a household): STOP from it stops both.
  PutObject(ObjectKind::kPatient, 1, "p2", R"({"first_name": "Paul", "last_name": "Roux",
      "mobile": "+33612345678"})");
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);
  ASSERT_TRUE(Upsert(Appt("a1", start)).ok());
  ASSERT_TRUE(Upsert(Appt("a2", start + kDayMs)).ok());
  Appointment paul = Appt("b1", start + 2 * kHourMs);
  paul.patient = "p2";
  ASSERT_TRUE(Upsert(paul).ok());
  Deliveries();
  EXPECT_EQ(engine_->stats().live, 10u);  // 2 reminders: 2 channels x 2 for p1, SMS for p2
  auto r = Wait<absl::StatusOr<AppointmentResult>>([&](auto done) {
    book_->PatientReply(1, "p1", "", PatientReplyKind::kStop, done);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(engine_->stats().live, 4u);  // p1's e-mails only
  for (const auto& m : Pending("b1")) ADD_FAILURE() << m;
  for (const auto& m : Pending("a1")) EXPECT_EQ(m["channel"], "email") << m;
  EXPECT_NE(Audit("b1").dump().find("the address replied STOP"), std::string::npos);
  // A new appointment plans no SMS to the number; START plans them again.
  ASSERT_TRUE(Upsert(Appt("a3", start + 2 * kDayMs)).ok());
  for (const auto& m : Pending("a3")) EXPECT_EQ(m["channel"], "email") << m;
  EXPECT_NE(Show("a3")["dry_run"].dump().find("the address replied STOP"), std::string::npos);
  Restart();  // the block is durable
  ASSERT_TRUE(Upsert(Appt("a3", start + 2 * kDayMs, 2)).ok());
  for (const auto& m : Pending("a3")) EXPECT_EQ(m["channel"], "email") << m;
  r = Wait<absl::StatusOr<AppointmentResult>>([&](auto done) {
    book_->PatientReply(1, "p2", "", PatientReplyKind::kStart, done);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> sms;
  for (const Got& g : RunUntil(start + 3 * kDayMs)) {
    if (g.doc["channel"] == "sms") sms.push_back(g.doc["appointment"]["id"].get<std::string>() + "/" + g.doc["kind"].get<std::string>());
  }
  std::sort(sms.begin(), sms.end());
  EXPECT_EQ(sms, (std::vector<std::string>{"a1/reminder", "a1/reminder", "a2/reminder",
                                           "a2/reminder", "a3/reminder", "a3/reminder",
                                           "b1/reminder", "b1/reminder"}));
}

TEST_F(BookTest, DelayAlertTellsTheDaysRemainingPatientsTheirNewTime) {
  clock_.Set(LocalMs("Europe/Paris", 2026, 6, 5, 13));
  ASSERT_TRUE(Upsert(Appt("earlier", LocalMs("Europe/Paris", 2026, 6, 5, 12))).ok());
  ASSERT_TRUE(Upsert(Appt("later", LocalMs("Europe/Paris", 2026, 6, 5, 16))).ok());
  ASSERT_TRUE(Upsert(Appt("tomorrow", LocalMs("Europe/Paris", 2026, 6, 6, 9))).ok());
  Deliveries();
  uint32_t n = Wait<absl::StatusOr<uint32_t>>([&](auto done) {
                 book_->DelayAlert(1, "dr-martin", 40 * kMinuteMs, done);
               }).value();
  EXPECT_EQ(n, 1u);
  auto got = Deliveries();
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"delay_alert/email", "delay_alert/sms"}));
  EXPECT_EQ(got[0].doc["appointment"]["id"], "later");
  EXPECT_EQ(got[0].doc["appointment"]["new_arrival_time"], "16:40");
}

TEST_F(BookTest, AFullStoreRefusesClearlyAndKeepsWhatWasAcknowledged) {
  Close();
  engine_options_.store.initial_map_bytes = 1 << 20;
  engine_options_.store.max_map_bytes = 3 << 20;
  Open();
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 20, 9);
  std::map<std::string, int64_t> acked;
  absl::Status failure;
  for (int i = 0; i < 100'000 && failure.ok(); ++i) {
    Appointment a = Appt("f" + std::to_string(i), start + i * kMinuteMs);
    a.notes = std::string(4000, 'n');
    auto r = Upsert(a);
    if (r.ok()) {
      acked[a.id] = a.start_ms;
    } else {
      failure = r.status();
    }
  }
  ASSERT_TRUE(absl::IsResourceExhausted(failure)) << failure;
  ASSERT_FALSE(acked.empty());
  // The refused creation is not held; a refused move leaves the appointment
  // as acknowledged.
  EXPECT_EQ(book_->appointments(), acked.size());
  EXPECT_EQ(book_->appointments(1), acked.size());  // (the tenant's index too)
  // Moves until one is refused (a failed commit may free a few pages, so
  // the next write can fit): the refused one keeps its acknowledged time.
  std::string refused;
  for (auto& [id, at] : acked) {
    Appointment moved = Appt(id, at + kDayMs, 2);
    moved.notes = std::string(4000, 'm');
    auto r = Upsert(moved);
    if (r.ok()) {
      at = moved.start_ms;
      continue;
    }
    ASSERT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
    refused = id;
    break;
  }
  ASSERT_FALSE(refused.empty());
  // Reloaded: the tenant's index holds the entry read back, once.
  EXPECT_EQ(book_->appointments(1), acked.size());
  EXPECT_EQ(Show(refused)["appointment"]["start_ms"], acked[refused]);
  EXPECT_EQ(Show(refused)["appointment"]["revision"], 1);
  // With room again (a restart with a larger map), everything acknowledged
  // is there and the move goes through.
  Close();
  engine_options_.store.max_map_bytes = 256 << 20;
  Open();
  EXPECT_EQ(book_->appointments(), acked.size());
  for (const auto& [id, at] : acked) ASSERT_EQ(Show(id)["appointment"]["start_ms"], at) << id;
  auto r = Upsert(Appt(refused, acked[refused] + kDayMs, 2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, UpsertOutcome::kModified);
}

TEST_F(BookTest, SelfServiceWindowsAreTheTenantsSettings) {
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "reminder_offsets": ["3h"],
      "action_url": "https://r.example/a", "confirm_window": "24h", "arrival_allowed": true,
      "arrival_window": "30m", "cancel_until": "24h"})");
  int64_t start = clock_.now_ms() + 30 * kHourMs;  // outside the 24 h confirm window
  ASSERT_TRUE(Upsert(Appt("w", start)).ok());
  auto sent = Deliveries();
  ASSERT_FALSE(sent.empty());
  auto token_of = [](const json& doc, const char* link) {
    std::string url = doc["links"][link];
    return url.substr(url.find("token=") + 6);
  };
  std::string confirm = token_of(sent[0].doc, "confirm");
  std::string arrival = token_of(sent[0].doc, "arrival");
  std::string cancel = token_of(sent[0].doc, "cancel");
  EXPECT_EQ(Redeem(confirm).status().code(), absl::StatusCode::kFailedPrecondition);  // too early
  EXPECT_EQ(Redeem(arrival).status().code(), absl::StatusCode::kFailedPrecondition);  // too early
  RunUntil(start - 20 * kHourMs);
  // 20 h before: confirm is open, cancel (until 24 h before) closed.
  EXPECT_EQ(Redeem(cancel).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Redeem(confirm).ok());
  Deliveries();
  // The confirmation leaves the time and place as they were: the arrival
  // link of the same message stays good, in the last 30 min; the reminder
  // 3 h before carries the same action, so once one is used the other is too.
  auto reminders = RunUntil(start - 3 * kHourMs);
  ASSERT_FALSE(reminders.empty());
  std::string later_arrival = token_of(reminders[0].doc, "arrival");
  EXPECT_FALSE(reminders[0].doc["links"].contains("confirm"));  // already confirmed
  RunUntil(start - 20 * kMinuteMs);
  auto arrived = Redeem(arrival);
  ASSERT_TRUE(arrived.ok()) << arrived.status();
  EXPECT_EQ(arrived->action, "arrival");
  EXPECT_EQ(Show("w")["appointment"]["status"], "waiting_room");
  auto again = Redeem(later_arrival);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().message(), "the link was already used");
}

TEST_F(BookTest, ConfirmingFromAMessageLeavesItsCancelLinkGoodUntilTheTimeChanges) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 2, 15);  // tomorrow 15:00
  ASSERT_TRUE(Upsert(Appt("c1", start)).ok());
  ASSERT_TRUE(Upsert(Appt("c2", start)).ok());
  auto sent = Deliveries();
  std::map<std::string, json> links;  // appointment -> links of its e-mail confirmation
  for (const Got& g : sent) {
    if (g.doc["channel"] == "email") links[g.doc["appointment"]["id"]] = g.doc["links"];
  }
  ASSERT_EQ(links.size(), 2u);
  auto token = [](const json& link) {
    std::string s = link.get<std::string>();
    return s.substr(s.find("token=") + 6);
  };
  // c1: confirm, then cancel from the same e-mail.
  ASSERT_TRUE(Redeem(token(links["c1"]["confirm"])).ok());
  auto twice = Redeem(token(links["c1"]["confirm"]));
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(twice.status().message(), "the link was already used");
  auto cancelled = Redeem(token(links["c1"]["cancel"]));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->action, "cancel");
  EXPECT_EQ(Show("c1")["appointment"]["lifecycle"], "cancelled_by_patient");
  // The marks survive a restart (they are in the appointment's record).
  Close();
  Open();
  EXPECT_EQ(Redeem(token(links["c1"]["confirm"])).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // c2: confirmed, then moved by the clinic: every link of the old time is refused.
  ASSERT_TRUE(Redeem(token(links["c2"]["confirm"])).ok());
  EXPECT_EQ(Show("c2")["appointment"]["schedule_revision"], 1);
  ASSERT_TRUE(Upsert(Appt("c2", start + kHourMs, 2)).ok());
  EXPECT_EQ(Show("c2")["appointment"]["schedule_revision"], 2);
  auto moved = Redeem(token(links["c2"]["cancel"]));
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(moved.status().message().find("changed since the link was sent"), std::string::npos);
  // The change notice carries new links, good again for a confirmation.
  std::string fresh;
  for (const Got& g : Deliveries()) {
    if (g.doc["channel"] == "email" && g.doc["kind"] == "change") fresh = token(g.doc["links"]["confirm"]);
  }
  ASSERT_FALSE(fresh.empty());
  ASSERT_TRUE(Redeem(fresh).ok());
  EXPECT_TRUE(Show("c2")["appointment"]["confirmed"]);
}

TEST_F(BookTest, EndedAppointmentsAreReclaimedAfterTheAuditRetention) {
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "audit_retention": "240h"})");
  int64_t start = clock_.now_ms() + 2 * kDayMs;
  ASSERT_TRUE(Upsert(Appt("old", start)).ok());
  ASSERT_TRUE(Upsert(Appt("recent", start + 5 * kDayMs)).ok());
  RunUntil(start + 11 * kDayMs);
  auto count = [&](std::string_view prefix) {
    auto reader = engine_->store().NewReader();
    EXPECT_TRUE(reader.ok());
    int n = 0;
    EXPECT_TRUE(reader->ScanState(prefix, [&](std::string_view k, std::string_view) {
      if (k.substr(0, prefix.size()) != prefix) return false;
      ++n;
      return true;
    }).ok());
    return n;
  };
  int audits_before = count("au/");
  EXPECT_EQ(count("pa/"), 2);
  EXPECT_EQ(book_->Reclaim(), 1u);  // "old" ended more than 10 days ago
  queue_.RunUntil([&] { return engine_->idle(); });
  EXPECT_EQ(book_->appointments(1), 1u);
  EXPECT_TRUE(absl::IsNotFound(book_->Show(1, "old").status()));
  EXPECT_TRUE(book_->Show(1, "recent").ok());
  Restart();
  EXPECT_TRUE(absl::IsNotFound(book_->Show(1, "old").status()));
  EXPECT_EQ(book_->appointments(), 1u);
  // Its records and its audit records went with it; "recent"'s stay.
  EXPECT_EQ(count("pa/"), 1);
  int audits_after = count("au/");
  EXPECT_LT(audits_after, audits_before);
  EXPECT_GT(audits_after, 0);
  EXPECT_FALSE(Audit("recent").empty());
}

TEST_F(BookTest, SendingHoursHoldNightAndWeekendMessagesAndNeverPastTheAppointment) {
  // Weekdays 08:00-12:00 and 14:00-19:00 in Paris; Christmas closed.
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "reminder_offsets": ["24h"],
      "sending_hours": {"mon": ["08:00-12:00", "14:00-19:00"], "tue": ["08:00-12:00", "14:00-19:00"],
        "wed": ["08:00-12:00", "14:00-19:00"], "thu": ["08:00-12:00", "14:00-19:00"],
        "fri": ["08:00-12:00", "14:00-19:00"]},
      "closed_dates": ["2026-06-10"]})");
  clock_.Set(LocalMs("Europe/Paris", 2026, 6, 5, 22));  // Friday 22:00
  // Monday 09:30: its 24 h reminder (Sunday 09:30) waits for Monday 08:00.
  ASSERT_TRUE(Upsert(Appt("monday", LocalMs("Europe/Paris", 2026, 6, 8, 9, 30))).ok());
  // Tuesday 13:00: the confirmation (Friday night) waits for Monday 08:00,
  // its reminder (Monday 13:00, lunch break) for Monday 14:00.
  ASSERT_TRUE(Upsert(Appt("tuesday", LocalMs("Europe/Paris", 2026, 6, 9, 13))).ok());
  // Thursday 11th 09:00: its reminder falls on the closed Wednesday 10th:
  // the next allowed time (Thursday 08:00) is still before the start.
  ASSERT_TRUE(Upsert(Appt("thursday", LocalMs("Europe/Paris", 2026, 6, 11, 9))).ok());
  // Monday 07:30: the next allowed time is after the start; the reminder
  // goes at the last allowed time before (Friday evening, still ahead? no:
  // it is Friday 22:00) -- so it is dropped, with the reason.
  ASSERT_TRUE(Upsert(Appt("early", LocalMs("Europe/Paris", 2026, 6, 8, 7, 30))).ok());
  EXPECT_TRUE(Deliveries().empty());  // Friday night: nothing goes
  std::map<std::string, std::vector<int64_t>> seen;  // appointment -> delivery times
  for (const Got& g : RunUntil(LocalMs("Europe/Paris", 2026, 6, 12, 0))) {
    seen[g.doc["appointment"]["id"].get<std::string>()].push_back(g.doc["rendered_at_ms"].get<int64_t>());
  }
  // "monday": its confirmation and its reminder, both at Monday 08:00, on
  // two channels; nothing at all for "early".
  EXPECT_EQ(seen["monday"], std::vector<int64_t>(4, LocalMs("Europe/Paris", 2026, 6, 8, 8)));
  EXPECT_EQ(seen.count("early"), 0u);
  bool reminder_at_8 = false;
  for (const auto& e : Audit("monday")) {
    if (e["kind"] == "reminder" && e["what"] == "planned") {
      reminder_at_8 = e["due_ms"] == LocalMs("Europe/Paris", 2026, 6, 8, 8);
    }
  }
  EXPECT_TRUE(reminder_at_8);
  auto planned_at = [&](const std::string& id, const char* kind) {
    std::vector<int64_t> out;
    for (const auto& e : Audit(id)) {
      if (e["kind"] == kind && e["what"] == "planned") out.push_back(e["due_ms"]);
    }
    return out;
  };
  int64_t mon8 = LocalMs("Europe/Paris", 2026, 6, 8, 8);
  EXPECT_EQ(planned_at("tuesday", "confirmation"), (std::vector<int64_t>{mon8, mon8}));
  EXPECT_EQ(planned_at("tuesday", "reminder"),
            (std::vector<int64_t>{LocalMs("Europe/Paris", 2026, 6, 8, 14),
                                  LocalMs("Europe/Paris", 2026, 6, 8, 14)}));
  EXPECT_EQ(planned_at("thursday", "reminder"),
            (std::vector<int64_t>{LocalMs("Europe/Paris", 2026, 6, 11, 8),
                                  LocalMs("Europe/Paris", 2026, 6, 11, 8)}));
  EXPECT_TRUE(planned_at("early", "reminder").empty());
  bool dropped_with_reason = false;
  for (const auto& e : Audit("early")) {
    if (e["kind"] == "reminder" && e["what"] == "omitted") {
      dropped_with_reason = e["reason"].get<std::string>().find("quiet hours") != std::string::npos;
    }
  }
  EXPECT_TRUE(dropped_with_reason);
}

// Time zones: the local times patients see, across daylight-saving changes.
struct ZoneCase {
  const char* zone;
  int y, mo, d, h, mi;
  const char* date;   // as rendered
  const char* time;
  const char* iso;
};

class BookZoneTest : public BookTest, public ::testing::WithParamInterface<ZoneCase> {};

TEST_P(BookZoneTest, RemindersAreTimedAndShownInTheTenantsZone) {
  const ZoneCase& c = GetParam();
  int64_t start = LocalMs(c.zone, c.y, c.mo, c.d, c.h, c.mi);
  // The wheel only moves forward: reopen with the clock five days before.
  Close();
  clock_.Set(start - 5 * kDayMs);
  Open();
  PutObject(ObjectKind::kTenant, 1, "",
            std::string(R"({"reminder_offsets": ["24h"], "time_zone": ")") + c.zone + "\"}");
  ASSERT_TRUE(Upsert(Appt("z", start)).ok());
  Deliveries();
  auto due = RunUntil(start - 24 * kHourMs);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(clock_.now_ms(), start - 24 * kHourMs);  // 24 h of real time, whatever the clocks do
  for (const Got& g : due) {
    EXPECT_EQ(g.doc["appointment"]["date"], c.date);
    EXPECT_EQ(g.doc["appointment"]["start_time"], c.time);
    EXPECT_EQ(g.doc["appointment"]["start_local"], c.iso);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Zones, BookZoneTest,
    ::testing::Values(
        // Paris, the Sunday the clocks go forward (02:00 -> 03:00).
        ZoneCase{"Europe/Paris", 2026, 3, 29, 10, 0, "2026-03-29", "10:00", "2026-03-29T10:00:00+02:00"},
        // Paris, the Sunday the clocks go back (03:00 -> 02:00).
        ZoneCase{"Europe/Paris", 2026, 10, 25, 10, 0, "2026-10-25", "10:00", "2026-10-25T10:00:00+01:00"},
        ZoneCase{"America/Montreal", 2026, 1, 15, 8, 15, "2026-01-15", "08:15", "2026-01-15T08:15:00-05:00"},
        ZoneCase{"America/Montreal", 2026, 3, 8, 9, 0, "2026-03-08", "09:00", "2026-03-08T09:00:00-04:00"},
        // Auckland: summer time ends 5 April 2026 (03:00 -> 02:00), UTC+13 in January.
        ZoneCase{"Pacific/Auckland", 2026, 4, 5, 11, 0, "2026-04-05", "11:00", "2026-04-05T11:00:00+12:00"},
        ZoneCase{"Pacific/Auckland", 2026, 1, 20, 9, 30, "2026-01-20", "09:30", "2026-01-20T09:30:00+13:00"}),
    [](const ::testing::TestParamInfo<ZoneCase>& info) {
      std::string name = std::string(info.param.zone) + "_" + info.param.date;
      for (char& ch : name) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// Every change to an appointment appends a new version of its record; the
// old versions are reclaimed once they outnumber the live ones, and neither
// a reclaim nor a restart loses or resurrects anything.
TEST_F(BookTest, SupersededRecordsAreReclaimedAndNothingIsLostOrResurrected) {
  book_options_.min_record_garbage = 10;
  book_options_.records_per_compaction = 7;
  Restart();
  auto count_records = [&] {
    auto reader = engine_->store().NewReader();
    EXPECT_TRUE(reader.ok());
    int n = 0;
    EXPECT_TRUE(reader->ScanState("pa/", [&](std::string_view k, std::string_view) {
      if (k.substr(0, 3) != "pa/") return false;
      ++n;
      return true;
    }).ok());
    return n;
  };
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 20, 9);
  std::vector<Appointment> batch;
  for (int i = 0; i < 30; ++i) batch.push_back(Appt("a" + std::to_string(i), start + i * kHourMs));
  for (const auto& r : UpsertAll(batch)) ASSERT_TRUE(r.ok()) << r.status();
  // Ten rounds of moves: 300 new versions for 30 appointments.
  for (uint64_t round = 2; round <= 11; ++round) {
    for (auto& a : batch) {
      a.version = round;
      a.start_ms += kMinuteMs;
      a.end_ms += kMinuteMs;
    }
    for (const auto& r : UpsertAll(batch)) ASSERT_TRUE(r.ok()) << r.status();
  }
  queue_.RunUntil([&] { return engine_->idle(); });
  // Reclaimed as it went: far fewer than the 330 versions written.
  int stored = count_records();
  EXPECT_LE(stored, 30 + 2 * 30 + 10) << "superseded records were not reclaimed";
  EXPECT_GE(stored, 30);
  Restart();
  ASSERT_EQ(book_->appointments(), 30u);
  for (const auto& a : batch) {
    json shown = Show(a.id);
    EXPECT_EQ(shown["appointment"]["version"], 11) << a.id;
    EXPECT_EQ(shown["appointment"]["start_ms"], a.start_ms) << a.id;
    EXPECT_EQ(shown["appointment"]["revision"], 11) << a.id;
  }
  // A purged appointment with older versions still stored stays purged:
  // one more version each, not reclaimed this time.
  book_options_.min_record_garbage = 1'000'000;
  Restart();
  for (auto& a : batch) {
    a.version = 12;
    a.start_ms += kMinuteMs;
    a.end_ms += kMinuteMs;
  }
  for (const auto& r : UpsertAll(batch)) ASSERT_TRUE(r.ok()) << r.status();
  queue_.RunUntil([&] { return engine_->idle(); });
  EXPECT_GE(count_records(), 60);
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "audit_retention": "24h"})");
  RunUntil(start + 40 * kDayMs);
  EXPECT_EQ(book_->Reclaim(), 30u);
  queue_.RunUntil([&] { return engine_->idle(); });
  Restart();
  EXPECT_EQ(book_->appointments(), 0u);
  EXPECT_TRUE(absl::IsNotFound(book_->Show(1, "a0").status()));
}

namespace {
// The fixed-width big-endian layout of appointment records before format 4.
struct LegacyWriter {
  std::string out;
  void U8(uint8_t v) { out.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
  }
  void I64(int64_t v) {
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(static_cast<uint64_t>(v) >> s));
  }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    out += s;
  }
};
std::string Numbered(const std::string& prefix, uint64_t n) {
  std::string k = prefix;
  for (int s = 56; s >= 0; s -= 8) k.push_back(static_cast<char>(n >> s));
  return k;
}
}  // namespace

// A store written before the compact formats (appointment record format 3,
// text audit lines) is still read as it was.
TEST_F(BookTest, RecordsOfTheOlderFormatsAreStillRead) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 20, 10);
  LegacyWriter w;
  w.U8(3);
  w.U32(1);
  w.Str("old");
  w.I64(7);  // version
  w.U32(2);  // revision
  w.Str("dr-martin");
  w.Str("consult");
  w.Str("p1");
  w.I64(start);
  w.I64(start + 30 * kMinuteMs);
  w.Str("3 place du Marché");
  w.Str("à jeun");
  w.U8(1);  // booked online
  w.I64(start - 10 * kDayMs);
  w.U8(kAllChannels);
  w.U8(static_cast<uint8_t>(Lifecycle::kActive));
  w.U8(static_cast<uint8_t>(VisitStatus::kNone));
  w.U8(1);  // confirmed
  w.U8(0);
  w.I64(0);
  w.U32(1);  // one pending message
  w.U8(static_cast<uint8_t>(MessageKind::kReminder));
  w.U8(static_cast<uint8_t>(Channel::kSms));
  w.U32(1);
  w.I64(start - kDayMs);
  w.U32(0);
  w.U8(0);
  w.U32(1);  // one audit record, number 900
  w.I64(900);
  std::string audit = std::to_string(start - 10 * kDayMs) + "\tplanned\treminder\tsms\t1\t" +
                      std::to_string(start - kDayMs) + "\tcreated\n";
  Engine::StateWrites writes{{Numbered("pa/", 500), w.out, false},
                             {Numbered("au/", 900), audit, false}};
  ASSERT_TRUE(Wait<absl::Status>([&](auto done) { engine_->WriteState(std::move(writes), done); }).ok());
  Restart();
  json shown = Show("old");
  EXPECT_EQ(shown["appointment"]["version"], 7);
  EXPECT_EQ(shown["appointment"]["revision"], 2);
  EXPECT_EQ(shown["appointment"]["start_ms"], start);
  EXPECT_EQ(shown["appointment"]["location"], "3 place du Marché");
  EXPECT_EQ(shown["appointment"]["notes"], "à jeun");
  EXPECT_EQ(shown["appointment"]["confirmed"], true);
  // Before format 5: the links of the latest revision stay good, none used.
  EXPECT_EQ(shown["appointment"]["schedule_revision"], 2);
  EXPECT_EQ(shown["appointment"]["scheduled_at_ms"], shown["appointment"]["booked_at_ms"]);
  ASSERT_EQ(shown["pending"].size(), 1u);
  EXPECT_EQ(shown["pending"][0]["kind"], "reminder");
  EXPECT_EQ(shown["pending"][0]["due_ms"], start - kDayMs);
  ASSERT_EQ(shown["audit"].size(), 1u);
  EXPECT_EQ(shown["audit"][0]["what"], "planned");
  EXPECT_EQ(shown["audit"][0]["due_ms"], start - kDayMs);
  // Written again (a new version), it goes in the current format and reads
  // back the same.
  Appointment again = Appt("old", start + kHourMs, 8);
  ASSERT_TRUE(Upsert(again).ok());
  Restart();
  shown = Show("old");
  EXPECT_EQ(shown["appointment"]["version"], 8);
  EXPECT_EQ(shown["appointment"]["start_ms"], start + kHourMs);
  EXPECT_EQ(shown["appointment"]["schedule_revision"], 3);  // moved
  EXPECT_GE(shown["audit"].size(), 2u);
  EXPECT_EQ(shown["audit"][0]["what"], "planned");
}

}  // namespace
}  // namespace rappel::server::plan
