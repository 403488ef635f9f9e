// Appointments end to end: an in-process rappeld on 127.0.0.1:<any port>,
// the real clock, and the client library: a producer (the platform), a
// worker subscribed to sms + email that acks what it gets, and an admin.
// The same scenarios as tests/plan/book_test.cc, over the wire.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "date/tz.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rappel/async_client.h"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/main/rappeld.h"
#include "tests/testing/every_channel.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"

namespace rappel::client {
namespace {

using nlohmann::json;
using server::SystemNowMs;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// "HH:MM" of an instant in Paris.
std::string ParisTime(int64_t unix_ms) {
  date::zoned_time<std::chrono::milliseconds> z{
      "Europe/Paris",
      date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds(unix_ms)}};
  return date::format("%H:%M", date::floor<std::chrono::minutes>(z.get_local_time()));
}

struct Got {
  Message message;
  json doc;
  std::string kind() const { return doc.value("kind", "") + "/" + doc.value("channel", ""); }
};

std::vector<std::string> Kinds(const std::vector<Got>& got) {
  std::vector<std::string> out;
  for (const Got& g : got) out.push_back(g.kind());
  std::sort(out.begin(), out.end());
  return out;
}

class AppointmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartServer();
    Connect();
    Configure(1);
  }
  void TearDown() override {
    Disconnect();
    StopServer();
  }

  void StartServer() {
    server::RappeldOptions options;
    options.engine.store.path = dir_.Sub("db");
    options.server.port = 0;
    options.handler.tokens = {server::MakeCredential("p-secret", protocol::wire::Role::Producer),
                              server::MakeCredential("w-secret", protocol::wire::Role::Worker),
                              server::MakeCredential("a-secret", protocol::wire::Role::Admin)};
    absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started;
  }
  // Clean shutdown: every commit in flight completes first.
  void StopServer() {
    server_.Stop();
  }
  Options For(const std::string& token) {
    Options o;
    o.port = server_.port();
    o.token = token;
    o.reconnect.enabled = false;
    return o;
  }
  std::unique_ptr<BlockingClient> Client(const std::string& token) {
    auto c = BlockingClient::Connect(For(token));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  void Connect() {
    producer_ = Client("p-secret");
    admin_ = Client("a-secret");
    worker_ = Client("w-secret");
    ASSERT_TRUE(producer_ && admin_ && worker_);
    ASSERT_TRUE(worker_->Subscribe({Channel::kSms, Channel::kEmail}, 4096, 512).ok());
  }
  void Disconnect() {
    producer_.reset();
    admin_.reset();
    worker_.reset();
  }
  void Restart() {
    Disconnect();
    StopServer();
    StartServer();
    Connect();
  }

  // Tenant, calendar, type and patient. Reminders 24 h before and 2 s before
  // (so that one falls due during the test), no minimum lead time.
  void Configure(uint32_t tenant) {
    Put(ObjectKind::kTenant, tenant, "", R"({"name": "Cabinet Dupont", "time_zone": "Europe/Paris",
        "reminder_offsets": ["24h", "2s"], "min_lead": "0s", "action_url": "https://r.example/a",
        "rebook_url": "https://book.example"})");
    Put(ObjectKind::kCalendar, tenant, "dr-martin", R"({"name": "Dr Martin"})");
    Put(ObjectKind::kAppointmentType, tenant, "consult",
        R"({"name": "Consultation", "mode": "on_site"})");
    Put(ObjectKind::kPatient, tenant, "p1", R"({"first_name": "Jeanne", "last_name": "Roux",
        "mobile": "+33612345678", "email": "jeanne@example.org"})");
  }
  // A tenant document that does not set channels_by_kind gets every
  // channel per kind (testing/every_channel.h): these tests are about the
  // lifecycle over the wire, not the kind channels (plan/notices_test.cc).
  json Put(ObjectKind kind, uint32_t tenant, const std::string& id, std::string doc) {
    if (kind == ObjectKind::kTenant) {
      json j = json::parse(doc, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && !j.contains("channels_by_kind")) {
        j.update(json::parse("{" + std::string(rappel::testing::kEveryChannelPerKind) + "}"));
        doc = j.dump();
      }
    }
    auto r = producer_->PutObject(kind, tenant, id, doc);
    EXPECT_TRUE(r.ok()) << ObjectKindName(kind) << ": " << r.status();
    return r.ok() ? json::parse(*r) : json();
  }

  static AppointmentInput Appt(const std::string& id, int64_t start_ms, uint64_t version = 1,
                               uint32_t tenant = 1) {
    AppointmentInput a;
    a.tenant = tenant;
    a.id = id;
    a.calendar = "dr-martin";
    a.type = "consult";
    a.patient = "p1";
    a.start_ms = start_ms;
    a.end_ms = start_ms + 30 * kMinute;
    a.location = "12 rue de la Paix";
    a.version = version;
    return a;
  }
  // A start time on a whole minute, `ms` from now.
  static int64_t StartIn(int64_t ms) { return (SystemNowMs() + ms) / kMinute * kMinute; }

  // Receives until `n` messages came (or `wait` passed), acking each as sent.
  std::vector<Got> Receive(size_t n, std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    std::vector<Got> out;
    auto deadline = Clock::now() + wait;
    while (out.size() < n && Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto got = worker_->Receive(std::min(left, std::chrono::milliseconds(200)));
      if (!got.ok()) {
        ADD_FAILURE() << got.status();
        break;
      }
      std::vector<AckItem> acks;
      for (Message& m : *got) {
        acks.push_back({m.lease_id, AckOutcome::kSent, "ok"});
        json doc = json::parse(m.reminder.payload, nullptr, /*allow_exceptions=*/false);
        EXPECT_FALSE(doc.is_discarded()) << m.reminder.payload;
        out.push_back(Got{std::move(m), std::move(doc)});
      }
      if (!acks.empty()) {
        auto r = worker_->Ack(acks);
        EXPECT_TRUE(r.ok()) << r.status();
        if (r.ok()) {
          for (const auto& st : *r) EXPECT_TRUE(st.ok()) << st;
        }
      }
    }
    return out;
  }
  // Nothing more comes within `wait`.
  void ExpectQuiet(std::chrono::milliseconds wait = std::chrono::milliseconds(300)) {
    auto more = Receive(1, wait);
    EXPECT_TRUE(more.empty()) << more.size() << " unexpected, first: " << more[0].kind();
  }

  json Show(uint32_t tenant, const std::string& id) {
    auto s = admin_->ShowAppointment(tenant, id);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? json::parse(*s) : json();
  }
  // (kind/channel, due_ms) of the pending plan's reminders, sorted (the
  // notices leave the plan once acked, a moment after the ack).
  static std::vector<std::pair<std::string, int64_t>> Pending(const json& shown) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& p : shown["pending"]) {
      if (p["kind"] != "reminder") continue;
      out.emplace_back(p["kind"].get<std::string>() + "/" + p["channel"].get<std::string>(),
                       p["due_ms"].get<int64_t>());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The plan is empty (acked notices leave it once the ack is durable).
  bool WaitNothingPending(uint32_t tenant, const std::string& id) {
    json shown;
    for (int i = 0; i < 200; ++i) {
      shown = Show(tenant, id);
      if (shown["pending"].empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << id << " still has " << shown["pending"].dump();
    return false;
  }

  // Waits (up to 2 s) until the server holds `n` live reminders (pending or
  // leased); returns how many it holds.
  uint64_t WaitLive(uint64_t n) {
    uint64_t live = ~uint64_t{0};
    for (int i = 0; i < 200; ++i) {
      auto stats = admin_->Stats();
      EXPECT_TRUE(stats.ok()) << stats.status();
      if (!stats.ok()) break;
      live = stats->pending + stats->leased;
      if (live == n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return live;
  }

  rappel::testing::TempDir dir_;
  rappel::testing::RappeldThread server_;
  std::unique_ptr<BlockingClient> producer_, admin_, worker_;
};

TEST_F(AppointmentsTest, CreateMoveCancel) {
  int64_t start = StartIn(3 * kDay);
  auto created = producer_->UpsertAppointment(Appt("a1", start, 1));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->outcome, UpsertOutcome::kCreated);
  EXPECT_EQ(created->planned, 6u);  // confirmation; 24 h and 2 s reminders; sms and e-mail

  auto got = Receive(2);
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"confirmation/email", "confirmation/sms"}));
  for (const Got& g : got) {
    EXPECT_EQ(g.doc["appointment"]["id"], "a1");
    EXPECT_EQ(g.doc["appointment"]["start_time"], ParisTime(start));
    EXPECT_NE(g.doc["text"].get<std::string>().find(ParisTime(start)), std::string::npos)
        << g.doc["text"];
    ASSERT_TRUE(g.doc["links"].contains("confirm")) << g.doc.dump();
    EXPECT_EQ(g.doc["links"]["confirm"].get<std::string>().rfind("https://r.example/a?token=", 0),
              0u);
    EXPECT_EQ(g.message.reminder.recipient,
              g.doc["channel"] == "sms" ? "+33612345678" : "jeanne@example.org");
  }
  ExpectQuiet();

  int64_t moved = start + kDay + 2 * kHour;
  auto r = producer_->UpsertAppointment(Appt("a1", moved, 2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, UpsertOutcome::kModified);
  got = Receive(2);
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"change/email", "change/sms"}));
  for (const Got& g : got) EXPECT_EQ(g.doc["appointment"]["start_time"], ParisTime(moved));
  json shown = Show(1, "a1");
  EXPECT_EQ(shown["appointment"]["start_ms"], moved);
  EXPECT_EQ(Pending(shown),
            (std::vector<std::pair<std::string, int64_t>>{{"reminder/email", moved - kDay},
                                                          {"reminder/email", moved - 2000},
                                                          {"reminder/sms", moved - kDay},
                                                          {"reminder/sms", moved - 2000}}));

  ASSERT_TRUE(producer_->CancelAppointment(1, "a1", CancelledBy::kPractitioner).ok());
  got = Receive(2);
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"cancellation/email", "cancellation/sms"}));
  for (const Got& g : got) EXPECT_EQ(g.doc["links"]["rebook"], "https://book.example");
  ExpectQuiet();
  EXPECT_TRUE(WaitNothingPending(1, "a1"));
  EXPECT_EQ(WaitLive(0), 0u);
}

TEST_F(AppointmentsTest, AReminderFallsDueOnTheRealClock) {
  int64_t start = SystemNowMs() + 3500;  // the 2 s reminder in ~1.5 s; the 24 h one has passed
  auto r = producer_->UpsertAppointment(Appt("soon", start));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->planned, 4u);  // the confirmation and the 2 s reminder, sms and e-mail
  ASSERT_EQ(Kinds(Receive(2)),
            (std::vector<std::string>{"confirmation/email", "confirmation/sms"}));
  auto due = Receive(2, std::chrono::seconds(6));
  ASSERT_EQ(Kinds(due), (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  for (const Got& g : due) {
    EXPECT_GE(SystemNowMs(), start - 2000) << "early";
    EXPECT_EQ(g.message.reminder.due_ms, start - 2000);
  }
  // Everything acked: nothing pending.
  EXPECT_TRUE(WaitNothingPending(1, "soon"));
}

TEST_F(AppointmentsTest, AbsenceOverACalendarOf500) {
  int64_t day = StartIn(2 * kDay);
  std::vector<AppointmentInput> batch;
  for (int i = 0; i < 500; ++i)
    batch.push_back(Appt("bulk-" + std::to_string(i), day + (i % 40) * 15 * kMinute));
  auto results = producer_->UpsertAppointments(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  for (const auto& r : *results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Receive(1000, std::chrono::seconds(20)).size(), 1000u);  // the confirmations
  EXPECT_EQ(WaitLive(2000), 2000u);  // 24 h and 2 s reminders, two channels

  auto n = producer_->PostAbsence(1, "dr-martin", day, day + 12 * kHour);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 500u);
  auto notices = Receive(1000, std::chrono::seconds(20));
  EXPECT_EQ(notices.size(), 1000u);
  std::map<std::string, int> by_kind;
  for (const Got& g : notices) ++by_kind[g.kind()];
  EXPECT_EQ(by_kind,
            (std::map<std::string, int>{{"cancellation/email", 500}, {"cancellation/sms", 500}}));
  ExpectQuiet();
  // No reminder left for them (acks are durable shortly after).
  EXPECT_EQ(WaitLive(0), 0u);
  auto stats = admin_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 0u);
  EXPECT_EQ(stats->leased, 0u);
  EXPECT_EQ(stats->tenants, 0u);
  for (const auto& t : stats->by_tenant) EXPECT_EQ(t.live, 0u) << "tenant " << t.tenant;
  EXPECT_TRUE(WaitNothingPending(1, "bulk-7"));
  EXPECT_EQ(Show(1, "bulk-7")["appointment"]["lifecycle"].get<std::string>().find("cancel"), 0u)
      << Show(1, "bulk-7")["appointment"];
}

TEST_F(AppointmentsTest, TheSameOutcomeAfterARestartInTheMiddle) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("moved", start, 1)).ok());
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("cancelled", start, 1)).ok());
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("kept", start, 1)).ok());
  EXPECT_EQ(Receive(6).size(), 6u);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("moved", start + kDay, 2)).ok());
  ASSERT_TRUE(producer_->CancelAppointment(1, "cancelled", CancelledBy::kPractitioner).ok());
  std::map<std::string, json> before;
  for (const char* id : {"moved", "cancelled", "kept"}) before[id] = Show(1, id);

  Restart();

  // The notices of the move and the cancel were not handed out before the
  // restart: they come now, once.
  EXPECT_EQ(Kinds(Receive(4)), (std::vector<std::string>{"cancellation/email", "cancellation/sms",
                                                         "change/email", "change/sms"}));
  ExpectQuiet();
  for (const char* id : {"moved", "cancelled", "kept"}) {
    json now = Show(1, id);
    EXPECT_EQ(now["appointment"], before[id]["appointment"]) << id;
    EXPECT_EQ(Pending(now), Pending(before[id])) << id;
  }
  EXPECT_EQ(Show(1, "moved")["appointment"]["revision"],
            before["moved"]["appointment"]["revision"]);
  EXPECT_EQ(Pending(Show(1, "moved")).size(), 4u);
  EXPECT_TRUE(WaitNothingPending(1, "cancelled"));
  // A platform retrying the move after the restart gets "unchanged".
  auto retried = producer_->UpsertAppointment(Appt("moved", start + kDay, 2));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->outcome, UpsertOutcome::kUnchanged);
  ExpectQuiet();
}

TEST_F(AppointmentsTest, ATokenFromAConfirmLinkIsRedeemedOnceAndForgeriesAreRefused) {
  int64_t start = StartIn(5 * kHour);  // in the 48 h confirm window
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  auto got = Receive(2);
  ASSERT_EQ(got.size(), 2u);
  std::string link = got[0].doc["links"]["confirm"];
  ASSERT_NE(link.find("token="), std::string::npos) << link;
  std::string token = link.substr(link.find("token=") + 6);
  std::string forged = token;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(producer_->RedeemToken(forged).status().code(), absl::StatusCode::kPermissionDenied);
  auto ok = producer_->RedeemToken(token);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->tenant, 1u);
  EXPECT_EQ(ok->appointment, "a1");
  EXPECT_EQ(ok->action, "confirm");
  EXPECT_EQ(Kinds(Receive(2)), (std::vector<std::string>{"confirm_ack/email", "confirm_ack/sms"}));
  EXPECT_TRUE(Show(1, "a1")["appointment"]["confirmed"]);
  EXPECT_EQ(producer_->RedeemToken(token).status().code(), absl::StatusCode::kFailedPrecondition);
  ExpectQuiet();
}

TEST_F(AppointmentsTest, ReservedKeysAreRefusedItemByItem) {
  int64_t due = SystemNowMs() + kHour;
  std::vector<Reminder> batch{{1, "@a/forged", Channel::kSms, "+33600000000", due, 0, "x"},
                              {1, "plain", Channel::kSms, "+33600000000", due, 0, "y"},
                              {1, "@", Channel::kSms, "+33600000000", due, 0, "z"}};
  auto r = producer_->Schedule(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].status().code(), absl::StatusCode::kInvalidArgument) << (*r)[0].status();
  ASSERT_TRUE((*r)[1].ok()) << (*r)[1].status();
  EXPECT_EQ(*(*r)[1], ScheduleOutcome::kCreated);
  EXPECT_EQ((*r)[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(admin_->Inspect({1, "plain"}).ok());
  EXPECT_EQ(admin_->Inspect({1, "@a/forged"}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AppointmentsTest, RolesGateTheAppointmentRequests) {
  int64_t start = StartIn(3 * kDay);
  // A worker may not touch appointments or objects.
  EXPECT_EQ(worker_->UpsertAppointment(Appt("w", start)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(worker_->PutObject(ObjectKind::kCalendar, 1, "c", "{}").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(worker_->ShowAppointment(1, "w").status().code(), absl::StatusCode::kPermissionDenied);
  // A producer upserts, but does not read the audit.
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("p", start)).ok());
  EXPECT_EQ(producer_->ShowAppointment(1, "p").status().code(),
            absl::StatusCode::kPermissionDenied);
  // The connections still serve.
  EXPECT_TRUE(producer_->Ping().ok());
  EXPECT_EQ(Receive(2).size(), 2u);
  EXPECT_EQ(Show(1, "p")["appointment"]["id"], "p");
}

TEST_F(AppointmentsTest, BadInputLeavesTheServerServing) {
  int64_t start = StartIn(3 * kDay);
  EXPECT_EQ(producer_->UpsertAppointment(Appt("x", start, 1, /*tenant=*/99)).status().code(),
            absl::StatusCode::kNotFound);
  AppointmentInput backwards = Appt("x", start);
  backwards.end_ms = start - 1;
  EXPECT_EQ(producer_->UpsertAppointment(backwards).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("v", start, 5)).ok());
  EXPECT_EQ(producer_->UpsertAppointment(Appt("v", start + kHour, 4)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(producer_->PutObject(ObjectKind::kCalendar, 1, "c", "{\"name\": ").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(producer_->PutObject(ObjectKind::kCalendar, 1, "c", "[1, 2]").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(producer_->PutObject(ObjectKind::kCalendar, 77, "c", "{}").status().code(),
            absl::StatusCode::kNotFound);
  // Same connection, a good request.
  auto good = producer_->UpsertAppointment(Appt("good", start));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->outcome, UpsertOutcome::kCreated);
  EXPECT_EQ(Show(1, "v")["appointment"]["start_ms"], start);
  auto got = Receive(4);
  std::map<std::string, int> by_appt;
  for (const Got& g : got) ++by_appt[g.doc["appointment"]["id"].get<std::string>()];
  EXPECT_EQ(by_appt, (std::map<std::string, int>{{"good", 2}, {"v", 2}}));
}

TEST_F(AppointmentsTest, AMessageLeasedAtShutdownComesAgainAfterTheRestartWithTheSameId) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  // Received, not acked.
  std::vector<Message> leased;
  for (auto deadline = Clock::now() + std::chrono::seconds(5);
       leased.size() < 2 && Clock::now() < deadline;) {
    auto got = worker_->Receive(std::chrono::milliseconds(200));
    ASSERT_TRUE(got.ok()) << got.status();
    for (Message& m : *got) leased.push_back(std::move(m));
  }
  ASSERT_EQ(leased.size(), 2u);
  std::vector<std::string> ids{leased[0].message_id, leased[1].message_id};
  std::sort(ids.begin(), ids.end());
  json before = Show(1, "a1");

  Restart();

  auto again = Receive(2);
  ASSERT_EQ(Kinds(again), (std::vector<std::string>{"confirmation/email", "confirmation/sms"}));
  std::vector<std::string> ids_again{again[0].message.message_id, again[1].message.message_id};
  std::sort(ids_again.begin(), ids_again.end());
  EXPECT_EQ(ids_again, ids) << "the message ids changed across the restart";
  for (const Got& g : again) EXPECT_EQ(g.doc["appointment"]["start_time"], ParisTime(start));
  ExpectQuiet();
  EXPECT_EQ(Pending(Show(1, "a1")), Pending(before));
  EXPECT_EQ(Pending(Show(1, "a1")).size(), 4u);
}

TEST_F(AppointmentsTest, ASeenStatusStopsAReminderThatFallsDue) {
  int64_t start = SystemNowMs() + 3000;  // the 2 s reminder in ~1 s
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("seen", start)).ok());
  EXPECT_EQ(Receive(2).size(), 2u);  // the confirmation
  auto r = producer_->SetStatus(1, "seen", VisitStatus::kSeen);
  ASSERT_TRUE(r.ok()) << r.status();
  // Past the reminder's due time: nothing came.
  auto late =
      Receive(1, std::chrono::milliseconds(std::max<int64_t>(start - SystemNowMs(), 0) + 300));
  EXPECT_TRUE(late.empty()) << late[0].kind();
  EXPECT_TRUE(WaitNothingPending(1, "seen"));
  int suppressed = 0;
  json audit = Show(1, "seen")["audit"];  // (a copy: not a reference into a temporary)
  for (const auto& e : audit) suppressed += e["what"] == "suppressed";
  EXPECT_EQ(suppressed, 2) << audit.dump(1);  // sms and e-mail
  EXPECT_EQ(Show(1, "seen")["appointment"]["status"], "seen");
}

TEST_F(AppointmentsTest, StopDropsEveryPendingSmsToTheNumberUntilStart) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a2", start + kDay)).ok());
  EXPECT_EQ(Receive(4).size(), 4u);
  EXPECT_EQ(WaitLive(8), 8u);  // two reminders, two channels, two appointments
  auto r = producer_->PatientReply(1, "p1", "", PatientReplyKind::kStop);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(WaitLive(4), 4u);  // the e-mails stay
  for (const char* id : {"a1", "a2"}) {
    json pending = Show(1, id)["pending"];  // (a copy: the range-for would outlive Show's result)
    for (const auto& m : pending) EXPECT_EQ(m["channel"], "email") << m;
  }
  // A new appointment of the patient plans no SMS: its e-mail confirmation
  // and reminders only.
  auto later = producer_->UpsertAppointment(Appt("a3", start + 2 * kDay));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->planned, 3u);
  auto got = Receive(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind(), "confirmation/email");
  // START: the SMS reminders are planned again.
  r = producer_->PatientReply(1, "p1", "", PatientReplyKind::kStart);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(WaitLive(12), 12u);
  ExpectQuiet();
}

TEST_F(AppointmentsTest, DryRunWritesNothing) {
  int64_t start = StartIn(3 * kDay);
  auto dry = admin_->DryRun(Appt("dry", start));
  ASSERT_TRUE(dry.ok()) << dry.status();
  json plan = json::parse(*dry)["dry_run"];
  std::vector<std::pair<std::string, int64_t>> messages;
  for (const auto& m : plan["messages"]) {
    messages.emplace_back(m["kind"].get<std::string>() + "/" + m["channel"].get<std::string>(),
                          m["due_ms"].get<int64_t>());
  }
  std::sort(messages.begin(), messages.end());
  ASSERT_EQ(messages.size(), 6u) << plan.dump();
  EXPECT_EQ(messages[4], (std::pair<std::string, int64_t>{"reminder/sms", start - kDay}));
  EXPECT_EQ(messages[5], (std::pair<std::string, int64_t>{"reminder/sms", start - 2000}));
  EXPECT_EQ(admin_->ShowAppointment(1, "dry").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(WaitLive(0), 0u);
  ExpectQuiet();
}

TEST_F(AppointmentsTest, ADelayAlertTellsTheDaysRemainingPatientsTheirNewTime) {
  // A tenant whose local time is around noon now, so that "today" has an
  // hour left whenever the test runs (Etc/GMT-N is UTC+N).
  int64_t now = SystemNowMs();
  int utc_hour = static_cast<int>((now / kHour) % 24);
  int offset = 12 - utc_hour;  // -11 .. 12
  std::string zone =
      offset == 0 ? "Etc/GMT" : absl::StrCat("Etc/GMT", offset > 0 ? "-" : "+", std::abs(offset));
  Put(ObjectKind::kTenant, 2, "",
      R"({"name": "Cabinet B", "time_zone": ")" + zone +
          R"(", "reminder_offsets": [], "min_lead": "0s"})");
  Put(ObjectKind::kCalendar, 2, "dr-martin", R"({"name": "Dr Martin"})");
  Put(ObjectKind::kAppointmentType, 2, "consult", R"({"name": "Consultation", "mode": "on_site"})");
  Put(ObjectKind::kPatient, 2, "p1", R"({"first_name": "Jeanne", "mobile": "+33612345678"})");
  int64_t later = StartIn(30 * kMinute);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("later", later, 1, 2)).ok());
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("tomorrow", later + kDay, 1, 2)).ok());
  EXPECT_EQ(Receive(2).size(), 2u);  // the confirmations, by SMS only
  auto n = producer_->DelayAlert(2, "dr-martin", 40 * kMinute);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u);
  auto got = Receive(1);
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"delay_alert/sms"}));
  EXPECT_EQ(got[0].doc["appointment"]["id"], "later");
  EXPECT_EQ(got[0].doc["appointment"]["delay_minutes"], 40);
  ExpectQuiet();
}

TEST_F(AppointmentsTest, ACancelLinkCancelsAndALinkOfAnOlderRevisionIsRefused) {
  int64_t start = StartIn(30 * kHour);  // confirm (48 h) and cancel (until 24 h before) both open
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start, 1)).ok());
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a2", start, 1)).ok());
  std::map<std::string, json> links;  // appointment -> links of its e-mail confirmation
  for (const Got& g : Receive(4)) {
    if (g.doc["channel"] == "email") links[g.doc["appointment"]["id"]] = g.doc["links"];
  }
  ASSERT_EQ(links.size(), 2u);
  auto token = [](const json& link) {
    std::string s = link.get<std::string>();
    return s.substr(s.find("token=") + 6);
  };
  // a1 moved: its old links no longer apply.
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start + kHour, 2)).ok());
  EXPECT_EQ(Kinds(Receive(2)), (std::vector<std::string>{"change/email", "change/sms"}));
  auto old = producer_->RedeemToken(token(links["a1"]["confirm"]));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition) << old.status();
  EXPECT_FALSE(Show(1, "a1")["appointment"]["confirmed"].get<bool>());
  // a2's cancel link cancels it: the patient is told, the reminders go.
  ASSERT_TRUE(links["a2"].contains("cancel")) << links["a2"];
  auto cancelled = producer_->RedeemToken(token(links["a2"]["cancel"]));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->action, "cancel");
  EXPECT_EQ(cancelled->appointment, "a2");
  EXPECT_EQ(Kinds(Receive(2)),  // the patient's own cancel is acknowledged
            (std::vector<std::string>{"patient_cancel_ack/email", "patient_cancel_ack/sms"}));
  EXPECT_EQ(Show(1, "a2")["appointment"]["lifecycle"].get<std::string>().find("cancel"), 0u);
  EXPECT_TRUE(WaitNothingPending(1, "a2"));
  // Then a2's confirm link is refused: the appointment is cancelled.
  EXPECT_EQ(producer_->RedeemToken(token(links["a2"]["confirm"])).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ExpectQuiet();
}

TEST_F(AppointmentsTest, AnAppointmentsMessagesCannotBeCancelledOrMovedAsRawReminders) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  auto got = Receive(2);
  ASSERT_EQ(got.size(), 2u);
  json shown = Show(1, "a1");
  ASSERT_EQ(Pending(shown).size(), 4u);
  // The key of a pending reminder, as the worker would see it.
  std::string pending_id = shown["pending"][0]["message_id"];
  std::string key = pending_id.substr(pending_id.find(':') + 1);
  ASSERT_EQ(key[0], '@') << key;
  for (const std::string& k : {key, got[0].message.reminder.key}) {
    auto cancelled = producer_->Cancel({{1, "plain"}, {1, k}});
    ASSERT_TRUE(cancelled.ok()) << cancelled.status();
    EXPECT_EQ((*cancelled)[0].code(), absl::StatusCode::kNotFound);
    EXPECT_EQ((*cancelled)[1].code(), absl::StatusCode::kInvalidArgument) << k;
    EXPECT_EQ(producer_->Reschedule({1, k}, SystemNowMs() + kHour).code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Pending(Show(1, "a1")), Pending(shown));
  ExpectQuiet();
}

TEST_F(AppointmentsTest, AReminderDueWhileTheServerIsDownIsSentAfterTheRestart) {
  int64_t start = SystemNowMs() + 4000;  // the 2 s reminder due in ~2 s, while down
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  EXPECT_EQ(Receive(2).size(), 2u);
  Disconnect();
  StopServer();
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::max<int64_t>(start - 2000 - SystemNowMs(), 0) + 300));
  StartServer();
  Connect();
  auto due = Receive(2, std::chrono::milliseconds(1500));
  ASSERT_EQ(Kinds(due), (std::vector<std::string>{"reminder/email", "reminder/sms"}));
  EXPECT_LT(SystemNowMs(), start) << "sent after the start";
  ExpectQuiet();
  EXPECT_TRUE(WaitNothingPending(1, "a1"));
}

// Pipelined on the asynchronous client: each request sees the ones before it.
TEST_F(AppointmentsTest, PipelinedUpsertsOfOneAppointmentApplyInOrder) {
  int64_t start = StartIn(3 * kDay);
  asio::io_context io;
  Options options = For("p-secret");
  AsyncClient client(io, options);
  absl::Status started = absl::UnknownError("not started");
  client.Start([&](absl::Status st) { started = st; });
  std::vector<AsyncClient::AppointmentResults> results(4);
  int answered = 0;
  auto upsert = [&](int i, uint64_t version, int64_t at) {
    client.UpsertAppointments({Appt("p", at, version)}, [&, i](auto r) {
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) results[i] = std::move(*r);
      if (++answered == 4) client.Close();
    });
  };
  upsert(0, 1, start);
  upsert(1, 2, start + kHour);
  upsert(2, 3, start + 2 * kHour);
  upsert(3, 2, start + 5 * kHour);  // stale by now
  io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_EQ(answered, 4);
  EXPECT_EQ(results[0].at(0)->outcome, UpsertOutcome::kCreated);
  EXPECT_EQ(results[1].at(0)->outcome, UpsertOutcome::kModified);
  EXPECT_EQ(results[2].at(0)->outcome, UpsertOutcome::kModified);
  EXPECT_EQ(results[3].at(0).status().code(), absl::StatusCode::kFailedPrecondition);
  json shown = Show(1, "p");
  EXPECT_EQ(shown["appointment"]["start_ms"], start + 2 * kHour);
  EXPECT_EQ(shown["appointment"]["version"], 3);
  for (const auto& [kind, due] : Pending(shown)) {
    EXPECT_TRUE(due == start + 2 * kHour - kDay || due == start + 2 * kHour - 2000)
        << kind << " " << due;
  }
  // The worker gets the confirmation and the change notices of the last
  // revision that reached it; none of a superseded plan's reminders.
  for (const Got& g : Receive(6, std::chrono::milliseconds(1500))) {
    EXPECT_NE(g.doc["kind"], "reminder");
  }
}

// A worker's ack detail goes into the audit trail as it came: tabs and line
// breaks in it must not corrupt the trail (nor crash the admin's Show).
TEST_F(AppointmentsTest, AnAckDetailWithTabsAndLineBreaksIsAuditedAsOneLine) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  std::vector<Message> got;
  for (auto deadline = Clock::now() + std::chrono::seconds(5);
       got.size() < 2 && Clock::now() < deadline;) {
    auto m = worker_->Receive(std::chrono::milliseconds(200));
    ASSERT_TRUE(m.ok()) << m.status();
    for (Message& x : *m) got.push_back(std::move(x));
  }
  ASSERT_EQ(got.size(), 2u);
  const std::string odd = "provider said:\nx\tx\tx\tx\tx\tx\tx\n\t99999999999999999999999\t";
  auto acks = worker_->Ack({{got[0].lease_id, AckOutcome::kSent, odd},
                            {got[1].lease_id, AckOutcome::kDelivered, "line\r\nbreak"}});
  ASSERT_TRUE(acks.ok()) << acks.status();
  // The confirmations leave the plan once the acks are durable.
  for (int i = 0; i < 200 && Show(1, "a1")["pending"].size() != 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  json audit = Show(1, "a1")["audit"];
  std::vector<std::string> outcomes;
  for (const auto& e : audit) {
    if (e["what"] == "sent" || e["what"] == "delivered") {
      outcomes.push_back(e["what"].get<std::string>() + ": " + e["reason"].get<std::string>());
      EXPECT_EQ(e["kind"], "confirmation");
    }
  }
  std::sort(outcomes.begin(), outcomes.end());
  EXPECT_EQ(outcomes.size(), 2u) << audit.dump(1);
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.find_first_of("\t\n\r"), std::string::npos) << o;
  }
  EXPECT_TRUE(producer_->Ping().ok());
}

// The audit trail of an appointment is stored under its id and a NUL: an id
// holding a NUL would share another's trail. Such an id is refused.
TEST_F(AppointmentsTest, AnAppointmentIdWithANulIsRefused) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a", start)).ok());
  size_t audit_before = Show(1, "a")["audit"].size();
  auto nul = producer_->UpsertAppointment(Appt(std::string("a\0b", 3), start));
  EXPECT_EQ(nul.status().code(), absl::StatusCode::kInvalidArgument) << nul.status();
  EXPECT_EQ(Show(1, "a")["audit"].size(), audit_before);
  EXPECT_EQ(Receive(4, std::chrono::milliseconds(1000)).size(), 2u);  // a's confirmation only
}

// A message the worker failed for good is a dead letter like any other; the
// admin's replay renders it again and the audit has both outcomes.
TEST_F(AppointmentsTest, ADeadLetterOfAnAppointmentMessageIsReplayed) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  std::vector<Message> got;
  for (auto deadline = Clock::now() + std::chrono::seconds(5);
       got.size() < 2 && Clock::now() < deadline;) {
    auto m = worker_->Receive(std::chrono::milliseconds(200));
    ASSERT_TRUE(m.ok()) << m.status();
    for (Message& x : *m) got.push_back(std::move(x));
  }
  ASSERT_EQ(got.size(), 2u);
  const Message& failed = got[0];
  auto acks = worker_->Ack({{got[0].lease_id, AckOutcome::kFailedPermanent, "bad number"},
                            {got[1].lease_id, AckOutcome::kSent, "ok"}});
  ASSERT_TRUE(acks.ok()) << acks.status();
  absl::StatusOr<std::vector<DeadLetter>> dead;
  for (int i = 0; i < 200; ++i) {
    dead = admin_->ListDeadLetters(1, 10);
    ASSERT_TRUE(dead.ok()) << dead.status();
    if (!dead->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].reminder.key, failed.reminder.key);
  EXPECT_EQ((*dead)[0].last_detail, "bad number");
  EXPECT_EQ(WaitLive(4), 4u);  // the reminders

  auto replayed = admin_->ReplayDeadLetters({{1, failed.reminder.key}});
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_TRUE((*replayed)[0].ok()) << (*replayed)[0];
  auto again = Receive(1, std::chrono::seconds(2));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message.message_id, failed.message_id);
  EXPECT_EQ(again[0].doc["kind"], "confirmation");
  EXPECT_EQ(again[0].doc["appointment"]["start_time"], ParisTime(start));
  EXPECT_EQ(WaitLive(4), 4u);
  std::vector<std::string> outcomes;
  json audit = Show(1, "a1")["audit"];
  for (const auto& e : audit) {
    if (e["kind"] == "confirmation" && e["what"] != "planned") {
      outcomes.push_back(e["what"].get<std::string>() + " " + e["channel"].get<std::string>() +
                         ": " + e["reason"].get<std::string>());
    }
  }
  std::string channel = ChannelName(failed.reminder.channel);
  std::string other = channel == "sms" ? "email" : "sms";
  std::vector<std::string> expected{"failed " + channel + ": bad number",
                                    "sent " + channel + ": ok", "sent " + other + ": ok"};
  std::sort(outcomes.begin(), outcomes.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(outcomes, expected) << audit.dump(1);
  ExpectQuiet();
}

// One request may change an appointment twice: the last change wins in the
// engine too (a confirm re-schedules the reminders, the cancel after it in
// the same batch drops them: none may stay live).
TEST_F(AppointmentsTest, AConfirmThenACancelInOneBatchLeaveNoReminderLive) {
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("b", start)).ok());
  EXPECT_EQ(Receive(2).size(), 2u);
  EXPECT_EQ(WaitLive(4), 4u);
  auto r = producer_->AppointmentCommands(
      {{1, "b", AppointmentAction::kConfirm}, {1, "b", AppointmentAction::kToReschedule}});
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& x : *r) EXPECT_TRUE(x.ok()) << x.status();
  auto notices = Receive(2);
  EXPECT_EQ(Kinds(notices), (std::vector<std::string>{"cancellation/email", "cancellation/sms"}));
  EXPECT_TRUE(WaitNothingPending(1, "b"));
  EXPECT_EQ(WaitLive(0), 0u);
  for (const char* k : {"@a/b/reminder/sms/86400", "@a/b/reminder/email/2"}) {
    EXPECT_EQ(admin_->Inspect({1, k}).status().code(), absl::StatusCode::kNotFound) << k;
  }
  ExpectQuiet();
}

// Two tenants may use the same appointment id; one batch may hold both.
TEST_F(AppointmentsTest, TwoTenantsSameAppointmentIdInOneBatch) {
  Configure(2);
  int64_t start = StartIn(3 * kDay);
  auto r = producer_->UpsertAppointments({Appt("a", start, 1, 1), Appt("a", start + kHour, 1, 2)});
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& x : *r) ASSERT_TRUE(x.ok()) << x.status();
  std::map<uint32_t, int> by_tenant;
  for (const Got& g : Receive(4)) ++by_tenant[g.doc["tenant"].get<uint32_t>()];
  EXPECT_EQ(by_tenant, (std::map<uint32_t, int>{{1, 2}, {2, 2}}));
  EXPECT_EQ(WaitLive(8), 8u);
  for (auto [tenant, at] : {std::pair<uint32_t, int64_t>{1, start}, {2, start + kHour}}) {
    auto in = admin_->Inspect({tenant, "@a/a/reminder/sms/86400"});
    ASSERT_TRUE(in.ok()) << "tenant " << tenant << ": " << in.status();
    EXPECT_EQ(in->reminder.due_ms, at - kDay) << "tenant " << tenant;
    EXPECT_EQ(Pending(Show(tenant, "a")).size(), 4u);
  }
}

// The calendar and patient indexes follow an appointment that changes
// calendar or patient: an absence on the old calendar, or STOP from the old
// patient, leaves it alone; the new ones reach it.
TEST_F(AppointmentsTest, AnAppointmentMovedToAnotherCalendarAndPatientIsFoundByTheNewOnes) {
  Put(ObjectKind::kCalendar, 1, "dr-other", R"({"name": "Dr Autre"})");
  Put(ObjectKind::kPatient, 1, "p2", R"({"first_name": "Paul", "mobile": "+33698765432"})");
  int64_t start = StartIn(3 * kDay);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start, 1)).ok());
  AppointmentInput moved = Appt("a1", start, 2);
  moved.calendar = "dr-other";
  moved.patient = "p2";
  auto r = producer_->UpsertAppointment(moved);
  ASSERT_TRUE(r.ok()) << r.status();
  Receive(10, std::chrono::milliseconds(500));
  size_t pending = Pending(Show(1, "a1")).size();
  EXPECT_EQ(pending, 2u);  // p2 has a mobile only: two reminders by SMS
  auto n = producer_->PostAbsence(1, "dr-martin", start - kHour, start + kHour);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
  auto stop = producer_->PatientReply(1, "p1", "", PatientReplyKind::kStop);
  EXPECT_TRUE(stop.ok() || absl::IsNotFound(stop.status())) << stop.status();
  EXPECT_EQ(Pending(Show(1, "a1")).size(), pending);
  EXPECT_EQ(Show(1, "a1")["appointment"]["lifecycle"], "active");
  n = producer_->PostAbsence(1, "dr-other", start - kHour, start + kHour);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u);
  auto notices = Receive(1);
  ASSERT_EQ(Kinds(notices), (std::vector<std::string>{"cancellation/sms"}));
  EXPECT_EQ(notices[0].message.reminder.recipient, "+33698765432");
  EXPECT_TRUE(WaitNothingPending(1, "a1"));
}

// The tenant's token secret survives a tenant update and a restart: links
// already sent keep working.
TEST_F(AppointmentsTest, LinksSentBeforeATenantUpdateAndARestartStillWork) {
  int64_t start = StartIn(5 * kHour);
  ASSERT_TRUE(producer_->UpsertAppointment(Appt("a1", start)).ok());
  auto got = Receive(2);
  ASSERT_EQ(got.size(), 2u);
  std::string link = got[0].doc["links"]["confirm"];
  std::string token = link.substr(link.find("token=") + 6);
  json tenant = Put(ObjectKind::kTenant, 1, "", R"({"name": "Cabinet Dupont et associés",
      "time_zone": "Europe/Paris", "reminder_offsets": ["24h", "2s"], "min_lead": "0s",
      "action_url": "https://r.example/a", "rebook_url": "https://book.example"})");
  EXPECT_FALSE(tenant.contains("secret")) << tenant.dump();
  Restart();
  auto r = producer_->RedeemToken(token);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->action, "confirm");
  auto acks = Receive(2);
  ASSERT_EQ(Kinds(acks), (std::vector<std::string>{"confirm_ack/email", "confirm_ack/sms"}));
  EXPECT_EQ(acks[0].doc["establishment"]["name"], "Cabinet Dupont et associés");
}

// An absence acknowledged just before a clean shutdown: after the restart,
// every notice is sent once and no reminder of the 500 is left.
TEST_F(AppointmentsTest, AnAbsenceRightBeforeARestartHasTheSameOutcome) {
  int64_t day = StartIn(2 * kDay);
  std::vector<AppointmentInput> batch;
  for (int i = 0; i < 500; ++i)
    batch.push_back(Appt("r-" + std::to_string(i), day + (i % 40) * 15 * kMinute));
  batch.push_back(Appt("next-day", day + kDay));
  auto results = producer_->UpsertAppointments(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(Receive(1002, std::chrono::seconds(20)).size(), 1002u);
  auto n = producer_->PostAbsence(1, "dr-martin", day, day + 12 * kHour);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 500u);
  json next_before = Show(1, "next-day");

  Restart();

  std::map<std::string, int> by_kind;
  std::set<std::string> ids;
  for (const Got& g : Receive(1000, std::chrono::seconds(20))) {
    ++by_kind[g.kind()];
    ids.insert(g.message.message_id);
  }
  EXPECT_EQ(by_kind,
            (std::map<std::string, int>{{"cancellation/email", 500}, {"cancellation/sms", 500}}));
  EXPECT_EQ(ids.size(), 1000u);
  ExpectQuiet();
  EXPECT_EQ(WaitLive(4), 4u);  // next-day's reminders only
  EXPECT_EQ(Pending(Show(1, "next-day")), Pending(next_before));
  EXPECT_TRUE(WaitNothingPending(1, "r-123"));
}

}  // namespace
}  // namespace rappel::client
