// AppointmentCommands SendNow over the real book, engine and dispatcher: a
// message kind sent now for one appointment, with its current data, through
// the same gates and channel switches as a plan, refused with the reason
// when it cannot go, and kept through later re-plans and a restart.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/plan/book.h"
#include "tests/plan/book_fixture.h"

namespace rappel::server::plan {
namespace {

class SendNowTest : public BookTest {
 protected:
  absl::StatusOr<AppointmentResult> SendNow(const std::string& id, MessageKind kind,
                                            uint64_t version = 0) {
    std::vector<absl::StatusOr<AppointmentResult>> out;
    bool done = false;
    AppointmentCommand c{1, id, AppointmentAction::kSendNow, VisitStatus::kNone, version, kind};
    book_->Commands({c}, [&](auto r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return done; }));
    return out.at(0);
  }
  int64_t start_ = LocalMs("Europe/Paris", 2026, 6, 5, 14, 30);  // Friday; now is Monday 09:00
};

TEST_F(SendNowTest, AReminderGoesNowOnEveryAllowedChannelWithTheCurrentData) {
  ASSERT_TRUE(Upsert(Appt("a1", start_)).ok());
  Deliveries();  // the confirmation
  auto r = SendNow("a1", MessageKind::kReminder);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, UpsertOutcome::kUpdated);
  EXPECT_EQ(r->revision, 1u);  // links already sent stay valid
  EXPECT_EQ(r->planned, 6u);   // 2 reminders x 2 channels, + the 2 sent now
  auto got = Deliveries();
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  EXPECT_EQ(got[0].doc["appointment"]["start_time"], "14:30");
  // Its own message id: not one of the planned reminders'.
  for (const Got& g : got) {
    EXPECT_NE(g.message_id.find("/reminder/"), std::string::npos) << g.message_id;
    EXPECT_EQ(g.message_id.find("/172800"), std::string::npos) << g.message_id;
    EXPECT_EQ(g.message_id.find("/86400"), std::string::npos) << g.message_id;
  }
  // Twice: another message id, sent again.
  auto again = SendNow("a1", MessageKind::kReminder);
  ASSERT_TRUE(again.ok()) << again.status();
  auto got2 = Deliveries();
  ASSERT_EQ(got2.size(), 2u);
  EXPECT_NE(got2[0].message_id, got[0].message_id);
  EXPECT_NE(got2[0].message_id, got[1].message_id);
  // The planned reminders are still there, at their times.
  EXPECT_EQ(Kinds(RunUntil(start_ - 48 * kHourMs)),
            (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  // The audit tells it.
  int sent_now = 0;
  for (const auto& e : Audit("a1")) {
    sent_now += e["what"] == "planned" && e["reason"] == "sent now on request";
  }
  EXPECT_EQ(sent_now, 4);
}

TEST_F(SendNowTest, ChannelSwitchesAndAddressesAreHeeded) {
  // No e-mail address: SMS only, the e-mail left out with its reason.
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"first_name": "Jeanne", "mobile": "+33612345678"})");
  ASSERT_TRUE(Upsert(Appt("a1", start_)).ok());
  Deliveries();
  ASSERT_TRUE(SendNow("a1", MessageKind::kReminder).ok());
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"reminder/sms"}));
  bool omitted_email = false;
  for (const auto& e : Audit("a1")) {
    omitted_email |= e["what"] == "omitted" && e["channel"] == "email" &&
                     e["reason"] == "no e-mail address";
  }
  EXPECT_TRUE(omitted_email);
  // The appointment switched to e-mail only: nothing can go.
  Appointment a = Appt("a1", start_, 2);
  a.channels = 1u << static_cast<int>(Channel::kEmail);
  ASSERT_TRUE(Upsert(a).ok());
  auto r = SendNow("a1", MessageKind::kReminder);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no e-mail address"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("switched off for the appointment"), std::string::npos)
      << r.status();
}

TEST_F(SendNowTest, GatesAndTheAppointmentsStateRefuseWithTheReason) {
  ASSERT_TRUE(Upsert(Appt("a1", start_)).ok());
  Deliveries();
  auto refused = [&](MessageKind k, const std::string& why) {
    auto r = SendNow("a1", k);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << KindName(k);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(std::string(KindName(k))), std::string::npos)
        << r.status();
  };
  refused(MessageKind::kCancellation, "appointment is not cancelled");
  refused(MessageKind::kDelayAlert, "no delay announced");
  refused(MessageKind::kPractitioner, "does not notify practitioners");
  // The patient's switch.
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"first_name": "Jeanne", "mobile": "+33612345678",
      "notifications": false})");
  refused(MessageKind::kReminder, "notifications switched off");
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"first_name": "Jeanne", "mobile": "+33612345678"})");
  // Cancelled: the cancellation may be sent again, a reminder not.
  ASSERT_TRUE(Command("a1", AppointmentAction::kCancelByPractitioner).ok());
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"cancellation/sms"}));
  refused(MessageKind::kReminder, "appointment is cancelled");
  ASSERT_TRUE(SendNow("a1", MessageKind::kCancellation).ok());
  auto got = Deliveries();
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"cancellation/sms"}));
  EXPECT_TRUE(got[0].doc["links"].contains("rebook"));
  // After the start, nothing about the visit to come.
  ASSERT_TRUE(Upsert(Appt("a2", start_)).ok());
  Deliveries();
  clock_.Set(start_ + kMinuteMs);
  auto r = SendNow("a2", MessageKind::kChange);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("already started"), std::string::npos) << r.status();
  // After the visit, the thank-you may go; an unknown appointment: NotFound.
  EXPECT_TRUE(SendNow("a2", MessageKind::kPostVisit).ok());
  EXPECT_EQ(Kinds(Deliveries()), (std::vector<std::string>{"post_visit/sms"}));
  EXPECT_EQ(SendNow("nope", MessageKind::kReminder).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SendNowTest, APendingSendNowOutlivesAReplanAndARestart) {
  // Sending hours: a send-now at night is held to the morning.
  PutObject(ObjectKind::kTenant, 1, "", R"({"name": "Cabinet Dupont", "time_zone": "Europe/Paris",
      "reminder_offsets": ["24h"], "sending_hours": {"mon": ["08:00-19:00"], "tue": ["08:00-19:00"],
      "wed": ["08:00-19:00"], "thu": ["08:00-19:00"], "fri": ["08:00-19:00"]}})");
  ASSERT_TRUE(Upsert(Appt("a1", start_)).ok());
  Deliveries();
  clock_.Set(LocalMs("Europe/Paris", 2026, 6, 1, 22));  // Monday 22:00
  ASSERT_TRUE(SendNow("a1", MessageKind::kReminder).ok());
  EXPECT_TRUE(Deliveries().empty());
  int held = 0;
  for (const auto& p : Pending("a1")) held += p.contains("waiting") && p["kind"] == "reminder";
  EXPECT_EQ(held, 2);
  // A notes update re-plans: the send-now stays; so through a restart.
  Appointment a = Appt("a1", start_, 2);
  a.notes = "bring the results";
  ASSERT_TRUE(Upsert(a).ok());
  Restart();
  auto got = RunUntil(LocalMs("Europe/Paris", 2026, 6, 2, 8));
  EXPECT_EQ(Kinds(got), (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  for (const Got& g : got) EXPECT_EQ(g.doc["appointment"]["date"], "2026-06-05");
}

// A producer looping SendNow (a worker acking each) is refused past 20
// sends on request of the appointment in the tenant's local day, whether
// they are still pending or already sent; the next day it may again.
TEST_F(SendNowTest, SendsOnRequestAreCappedPerAppointmentPerLocalDay) {
  ASSERT_TRUE(Upsert(Appt("a1", start_)).ok());
  Deliveries();  // the confirmation
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(SendNow("a1", MessageKind::kReminder).ok()) << i;
    if (i < 12) EXPECT_EQ(Deliveries().size(), 2u) << i;  // the last 8 stay pending
  }
  size_t pending = Pending("a1").size();
  size_t audit = Audit("a1").size();
  auto refused = SendNow("a1", MessageKind::kConfirmation);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("at most 20 per appointment per day"), std::string::npos)
      << refused.status();
  // Refused: nothing planned, nothing told.
  EXPECT_EQ(Pending("a1").size(), pending);
  EXPECT_EQ(Audit("a1").size(), audit);
  // Sent since, they still count today.
  EXPECT_EQ(Deliveries().size(), 16u);
  EXPECT_EQ(SendNow("a1", MessageKind::kReminder).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Another appointment has its own count.
  ASSERT_TRUE(Upsert(Appt("a2", start_)).ok());
  EXPECT_TRUE(SendNow("a2", MessageKind::kReminder).ok());
  // Past local midnight (23:30 Paris is still Monday; 00:30 is Tuesday).
  clock_.Set(LocalMs("Europe/Paris", 2026, 6, 1, 23, 30));
  EXPECT_EQ(SendNow("a1", MessageKind::kReminder).status().code(),
            absl::StatusCode::kResourceExhausted);
  clock_.Set(LocalMs("Europe/Paris", 2026, 6, 2, 0, 30));
  auto next_day = SendNow("a1", MessageKind::kReminder);
  EXPECT_TRUE(next_day.ok()) << next_day.status();
}

}  // namespace
}  // namespace rappel::server::plan
