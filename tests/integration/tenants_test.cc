// Tenant-scoped tokens end to end: an in-process rappeld on 127.0.0.1:<any
// port> with tokens for all tenants (to set up and to look) and tokens
// limited to tenant 1 (and 3), driven by the client library. For every
// request type that names a tenant, the limited token acting on tenant 2 is
// refused with PermissionDenied naming tenant 2 and nothing changes;
// listings show it only its tenants; it still works on tenant 1.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rappel/client.h"
#include "server/common/clock.h"
#include "server/common/log_budget.h"
#include "server/main/rappeld.h"
#include "server/net/tenant_access.h"
#include "tests/testing/rappeld_thread.h"
#include "tests/testing/temp_dir.h"

namespace rappel::client {
namespace {

using nlohmann::json;
using server::SystemNowMs;
using ::testing::HasSubstr;
using ::testing::Not;
using Role = protocol::wire::Role;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

std::vector<server::TenantId> Tenants(std::initializer_list<uint32_t> ids) {
  std::vector<server::TenantId> out;
  for (uint32_t id : ids) out.push_back(server::TenantId{id});
  return out;
}

// PermissionDenied, naming the tenant.
void ExpectDenied(const absl::Status& st, uint32_t tenant) {
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("tenant " + std::to_string(tenant))) << st;
}
template <typename T>
void ExpectDenied(const absl::StatusOr<T>& r, uint32_t tenant) {
  ExpectDenied(r.status(), tenant);
}
// PermissionDenied for an instance-wide request.
void ExpectAllTenantsNeeded(const absl::Status& st) {
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("all tenants")) << st;
}

class TenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::RappeldOptions options;
    options.engine.store.path = dir_.Sub("db");
    options.server.port = 0;
    options.handler.tokens = {
        server::MakeCredential("platform-secret", Role::Producer, "platform"),
        server::MakeCredential("operator-secret", Role::Admin, "operator"),
        server::MakeCredential("worker-secret", Role::Worker, "worker"),
        server::MakeCredential("clinic-1-secret", Role::Producer, "clinic-1", Tenants({1})),
        server::MakeCredential("admin-1-3-secret", Role::Admin, "admin-1-3", Tenants({1, 3})),
        server::MakeCredential("worker-1-secret", Role::Worker, "worker-1", Tenants({1})),
    };
    absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started;

    platform_ = Client("platform-secret");
    operator_ = Client("operator-secret");
    worker_ = Client("worker-secret");
    clinic1_ = Client("clinic-1-secret");
    admin13_ = Client("admin-1-3-secret");
    ASSERT_TRUE(platform_ && operator_ && worker_ && clinic1_ && admin13_);
    ASSERT_TRUE(
        worker_->Subscribe({Channel::kSms, Channel::kEmail, Channel::kVoice}, 256, 64).ok());

    // Tenants 1 and 2 alike: the objects, an appointment "a" in 5 hours
    // (its confirmation notices carry a confirm link), a reminder "r" due
    // tomorrow, and a dead letter "dead".
    start_ = (SystemNowMs() + 5 * kHour) / kMinute * kMinute;
    for (uint32_t t : {1u, 2u}) {
      Put(ObjectKind::kTenant, t, "", R"({"name": "Cabinet", "time_zone": "Europe/Paris",
          "reminder_offsets": ["24h"], "min_lead": "0s", "action_url": "https://r.example/a",
          "channels_by_kind": {"confirmation": ["sms", "email"]}})");
      Put(ObjectKind::kCalendar, t, "dr", R"({"name": "Dr Martin"})");
      Put(ObjectKind::kAppointmentType, t, "consult",
          R"({"name": "Consultation", "mode": "on_site"})");
      Put(ObjectKind::kPatient, t, "p1", R"({"first_name": "Jeanne", "last_name": "Roux",
          "mobile": "+33612345678", "email": "jeanne@example.org"})");
      auto up = platform_->UpsertAppointment(Appt(t, "a", start_));
      ASSERT_TRUE(up.ok()) << up.status();
      auto s = platform_->Schedule({Raw(t, "r", SystemNowMs() + kDay, Channel::kSms),
                                    Raw(t, "dead", SystemNowMs(), Channel::kVoice)});
      ASSERT_TRUE(s.ok()) << s.status();
      for (const auto& item : *s) ASSERT_TRUE(item.ok()) << item.status();
    }
    // 2 confirmation notices (sms, e-mail) per tenant, and the 2 "dead".
    size_t dead = 0;
    size_t notices = 0;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((dead < 2 || notices < 4) && Clock::now() < deadline) {
      auto got = worker_->Receive(std::chrono::milliseconds(200));
      ASSERT_TRUE(got.ok()) << got.status();
      std::vector<AckItem> acks;
      for (const Message& m : *got) {
        if (m.reminder.key == "dead") {
          acks.push_back({m.lease_id, AckOutcome::kFailedPermanent, "no such number"});
          ++dead;
          continue;
        }
        acks.push_back({m.lease_id, AckOutcome::kSent, "ok"});
        ++notices;
        json doc = json::parse(m.reminder.payload);
        if (doc.contains("links") && doc["links"].contains("confirm")) {
          std::string link = doc["links"]["confirm"];
          confirm_token_[m.reminder.tenant] = link.substr(link.find("token=") + 6);
        }
      }
      if (!acks.empty()) {
        ASSERT_TRUE(worker_->Ack(acks).ok());
      }
    }
    ASSERT_EQ(dead, 2u);
    ASSERT_EQ(notices, 4u);
    ASSERT_EQ(confirm_token_.count(1), 1u);
    ASSERT_EQ(confirm_token_.count(2), 1u);
  }
  void TearDown() override {
    platform_.reset();
    operator_.reset();
    worker_.reset();
    clinic1_.reset();
    admin13_.reset();
    server_.Stop();
  }

  std::unique_ptr<BlockingClient> Client(const std::string& token) {
    auto c = Connect(token);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  absl::StatusOr<std::unique_ptr<BlockingClient>> Connect(const std::string& token) {
    Options o;
    o.port = server_.port();
    o.token = token;
    o.reconnect.enabled = false;
    return BlockingClient::Connect(o);
  }
  void Put(ObjectKind kind, uint32_t tenant, const std::string& id, const std::string& doc) {
    auto r = platform_->PutObject(kind, tenant, id, doc);
    EXPECT_TRUE(r.ok()) << ObjectKindName(kind) << ": " << r.status();
  }
  static AppointmentInput Appt(uint32_t tenant, const std::string& id, int64_t start_ms,
                               uint64_t version = 1) {
    AppointmentInput a;
    a.tenant = tenant;
    a.id = id;
    a.calendar = "dr";
    a.type = "consult";
    a.patient = "p1";
    a.start_ms = start_ms;
    a.end_ms = start_ms + 30 * kMinute;
    a.version = version;
    return a;
  }
  static Reminder Raw(uint32_t tenant, const std::string& key, int64_t due_ms, Channel c) {
    Reminder r;
    r.tenant = tenant;
    r.key = key;
    r.channel = c;
    r.recipient = "+33600000000";
    r.due_ms = due_ms;
    r.payload = "hi";
    return r;
  }
  // The appointment as the operator sees it.
  json Shown(uint32_t tenant, const std::string& id) {
    auto s = operator_->ShowAppointment(tenant, id);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? json::parse(*s)["appointment"] : json();
  }
  int64_t DueOf(uint32_t tenant, const std::string& key) {
    auto st = operator_->Inspect({tenant, key});
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? st->reminder.due_ms : -1;
  }

  rappel::testing::TempDir dir_;
  rappel::testing::RappeldThread server_;
  std::unique_ptr<BlockingClient> platform_, operator_, worker_, clinic1_, admin13_;
  int64_t start_ = 0;
  std::map<uint32_t, std::string> confirm_token_;
};

TEST_F(TenantsTest, HelloTakesTheRightSecretOnly) {
  for (const char* wrong : {"clinic-1-secreT", "clinic-1-secre", "clinic-1-secret ", "", "x"}) {
    auto c = Connect(wrong);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << "'" << wrong << "'";
  }
  auto right = Connect("clinic-1-secret");
  ASSERT_TRUE(right.ok()) << right.status();
  EXPECT_TRUE((*right)->Ping().ok());
}

TEST_F(TenantsTest, ReminderRequestsForAnotherTenantAreRefusedAndChangeNothing) {
  int64_t due = SystemNowMs() + 2 * kDay;
  // Schedule: the tenant-2 item is refused in its place, the other goes.
  auto s =
      clinic1_->Schedule({Raw(2, "new", due, Channel::kSms), Raw(1, "new", due, Channel::kSms)});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u);
  ExpectDenied((*s)[0], 2);
  EXPECT_TRUE((*s)[1].ok()) << (*s)[1].status();
  EXPECT_EQ(operator_->Inspect({2, "new"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DueOf(1, "new"), due);

  // Cancel: the same, in place.
  auto c = clinic1_->Cancel({{1, "new"}, {2, "r"}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_TRUE((*c)[0].ok()) << (*c)[0];
  ExpectDenied((*c)[1], 2);
  EXPECT_EQ(operator_->Inspect({1, "new"}).status().code(), absl::StatusCode::kNotFound);
  int64_t r2 = DueOf(2, "r");
  EXPECT_GT(r2, 0);  // still pending

  // Reschedule: the whole request.
  ExpectDenied(clinic1_->Reschedule({2, "r"}, due), 2);
  EXPECT_EQ(DueOf(2, "r"), r2);
  EXPECT_TRUE(clinic1_->Reschedule({1, "r"}, due).ok());
  EXPECT_EQ(DueOf(1, "r"), due);
}

TEST_F(TenantsTest, AppointmentRequestsForAnotherTenantAreRefusedAndChangeNothing) {
  json before = Shown(2, "a");
  ASSERT_EQ(before["lifecycle"], "active") << before.dump();

  // Objects.
  ExpectDenied(clinic1_->PutObject(ObjectKind::kPatient, 2, "p1",
                                   R"({"first_name": "Eve", "mobile": "+33699999999"})"),
               2);
  ExpectDenied(clinic1_->GetObject(ObjectKind::kPatient, 2, "p1"), 2);
  auto patient = platform_->GetObject(ObjectKind::kPatient, 2, "p1");
  ASSERT_TRUE(patient.ok());
  EXPECT_THAT(*patient, HasSubstr("Jeanne"));
  EXPECT_THAT(*patient, Not(HasSubstr("Eve")));
  ExpectDenied(clinic1_->PutObject(ObjectKind::kTenant, 2, "", R"({"time_zone": "UTC"})"), 2);
  EXPECT_TRUE(clinic1_->GetObject(ObjectKind::kPatient, 1, "p1").ok());

  // Batched: in place.
  auto up = clinic1_->UpsertAppointments(
      {Appt(2, "a", start_ + kHour, 2), Appt(1, "a", start_ + kHour, 2)});
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_EQ(up->size(), 2u);
  ExpectDenied((*up)[0], 2);
  ASSERT_TRUE((*up)[1].ok()) << (*up)[1].status();
  EXPECT_EQ((*up)[1]->outcome, UpsertOutcome::kModified);
  auto cmd = clinic1_->AppointmentCommands(
      {{2, "a", AppointmentAction::kCancelByPractitioner, VisitStatus::kNone, 0},
       {1, "a", AppointmentAction::kSetStatus, VisitStatus::kWaitingRoom, 0}});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  ASSERT_EQ(cmd->size(), 2u);
  ExpectDenied((*cmd)[0], 2);
  EXPECT_TRUE((*cmd)[1].ok()) << (*cmd)[1].status();
  EXPECT_EQ(Shown(1, "a")["status"], "waiting_room");

  // One tenant each: the whole request.
  ExpectDenied(clinic1_->PostAbsence(2, "dr", start_ - kHour, start_ + kHour), 2);
  ExpectDenied(clinic1_->DelayAlert(2, "dr", 20 * kMinute), 2);
  ExpectDenied(clinic1_->PatientReply(2, "p1", "a", PatientReplyKind::kCancel), 2);
  ExpectDenied(clinic1_->PatientReply(2, "p1", "", PatientReplyKind::kStop), 2);
  ExpectDenied(clinic1_->CancelAppointment(2, "a", CancelledBy::kPractitioner), 2);

  // Redeeming tenant 2's confirm link is refused before the token is used:
  // its owner can still redeem it afterwards.
  ExpectDenied(clinic1_->RedeemToken(confirm_token_[2]), 2);
  json after = Shown(2, "a");
  EXPECT_EQ(after["revision"], before["revision"]);
  EXPECT_EQ(after["start_ms"], before["start_ms"]);
  EXPECT_EQ(after["lifecycle"], "active");
  EXPECT_EQ(after["confirmed"], false);
  auto redeemed = platform_->RedeemToken(confirm_token_[2]);
  ASSERT_TRUE(redeemed.ok()) << redeemed.status();
  EXPECT_EQ(redeemed->tenant, 2u);
  EXPECT_EQ(Shown(2, "a")["confirmed"], true);
  // No message went out to tenant 2's patient for any of the refusals (the
  // confirmation acknowledgements of the redeem aside).
  auto got = worker_->Receive(std::chrono::milliseconds(500));
  ASSERT_TRUE(got.ok());
  for (const Message& m : *got) {
    if (m.reminder.tenant != 2) continue;
    json doc = json::parse(m.reminder.payload);
    EXPECT_EQ(doc.value("kind", ""), "confirm_ack") << m.reminder.payload;
  }
}

TEST_F(TenantsTest, MessageOutcomesSummaryAndListOfAnotherTenantAreRefused) {
  // The SMS confirmation of "a" in each tenant, as the operator lists it.
  auto sms_of = [&](uint32_t tenant) {
    MessageListQuery q;
    q.tenant = tenant;
    q.channel = static_cast<uint8_t>(Channel::kSms);
    q.kind = "confirmation";
    auto l = operator_->MessageList(q);
    EXPECT_TRUE(l.ok()) << l.status();
    json doc = l.ok() ? json::parse(*l) : json();
    EXPECT_EQ(doc["messages"].size(), 1u) << doc.dump();
    return doc["messages"].empty() ? json() : doc["messages"][0];
  };
  json sms1 = sms_of(1), sms2 = sms_of(2);
  ASSERT_EQ(sms2["status"], "sent");
  std::string id1 = sms1["message_id"], id2 = sms2["message_id"];
  ASSERT_EQ(id2.substr(0, 2), "2:");

  auto worker1 = Client("worker-1-secret");
  ASSERT_TRUE(worker1);
  auto r = worker1->ReportOutcomes({{id2, LateOutcome::kDelivered, "DELIVRD"},
                                    {id1, LateOutcome::kDelivered, "DELIVRD"},
                                    {"1:@a/nope/confirmation/sms/1", LateOutcome::kDelivered, ""}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  ExpectDenied((*r)[0], 2);
  ASSERT_TRUE((*r)[1].ok()) << (*r)[1].status();
  EXPECT_TRUE(*(*r)[1]);
  EXPECT_EQ((*r)[2].status().code(), absl::StatusCode::kNotFound);
  // A producer of tenant 1 too; the same report again changes nothing.
  auto again = clinic1_->ReportOutcomes({{id1, LateOutcome::kDelivered, ""}});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*(*again)[0]);
  EXPECT_EQ(sms_of(1)["status"], "delivered");
  EXPECT_EQ(sms_of(2)["status"], "sent");

  ExpectDenied(clinic1_->MessageSummary(2), 2);
  MessageListQuery other;
  other.tenant = 2;
  ExpectDenied(clinic1_->MessageList(other), 2);
  auto own = clinic1_->MessageSummary(1);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(json::parse(*own)["total"]["delivered"], 1);
  auto theirs = operator_->MessageSummary(2);
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(json::parse(*theirs)["total"]["delivered"], 0);
  // Workers report; they do not read the clinic's summary or list.
  EXPECT_EQ(worker1->MessageSummary(1).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(TenantsTest, AdminRequestsForAnotherTenantAreRefusedAndChangeNothing) {
  ExpectDenied(admin13_->Inspect({2, "r"}), 2);
  EXPECT_TRUE(admin13_->Inspect({1, "r"}).ok());
  ExpectDenied(admin13_->ShowAppointment(2, "a"), 2);
  EXPECT_TRUE(admin13_->ShowAppointment(1, "a").ok());
  ExpectDenied(admin13_->DryRun(Appt(2, "a", start_ + kDay, 9)), 2);
  EXPECT_TRUE(admin13_->DryRun(Appt(1, "a", start_ + kDay, 9)).ok());

  // Credits: neither read nor added.
  auto credits_before = operator_->Credits(2);
  ASSERT_TRUE(credits_before.ok()) << credits_before.status();
  ExpectDenied(admin13_->Credits(2, 500), 2);
  ExpectDenied(admin13_->Credits(2), 2);
  auto credits_after = operator_->Credits(2);
  ASSERT_TRUE(credits_after.ok());
  EXPECT_EQ(json::parse(*credits_after)["added"], json::parse(*credits_before)["added"]);
  EXPECT_EQ(json::parse(*credits_after)["balance"], json::parse(*credits_before)["balance"]);
  EXPECT_TRUE(admin13_->Credits(1, 5).ok());

  // Dead letters: another tenant's list is refused; a replay of its letter
  // is refused in place.
  ExpectDenied(admin13_->ListDeadLetters(2, 10), 2);
  auto replay = admin13_->ReplayDeadLetters({{2, "dead"}, {1, "dead"}});
  ASSERT_TRUE(replay.ok()) << replay.status();
  ASSERT_EQ(replay->size(), 2u);
  ExpectDenied((*replay)[0], 2);
  EXPECT_TRUE((*replay)[1].ok()) << (*replay)[1];
  auto left = operator_->ListDeadLetters(0, 10);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].reminder.tenant, 2u);

  // Instance-wide: Compact and Backup need a token for all tenants.
  ExpectAllTenantsNeeded(admin13_->Compact().status());
  std::string backup = dir_.Sub("backup");
  std::filesystem::create_directories(backup);
  ExpectAllTenantsNeeded(admin13_->Backup(backup));
  EXPECT_TRUE(std::filesystem::is_empty(backup));
  EXPECT_TRUE(operator_->Compact().ok());
}

TEST_F(TenantsTest, ListingsShowOnlyTheTokensTenants) {
  // Dead letters: tenant 0 means "all of mine".
  auto mine = admin13_->ListDeadLetters(0, 10);
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].reminder.tenant, 1u);
  auto all = operator_->ListDeadLetters(0, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  auto one = admin13_->ListDeadLetters(1, 10);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);

  // Stats: only its tenants' rows; the instance-wide counters are 0.
  auto everything = operator_->Stats();
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->by_tenant.size(), 2u);
  EXPECT_GT(everything->pending, 0u);
  auto stats = admin13_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->by_tenant.size(), 1u);
  EXPECT_EQ(stats->by_tenant[0].tenant, 1u);
  EXPECT_EQ(stats->by_tenant[0].dead_letters, 1u);
  auto row1 = std::find_if(everything->by_tenant.begin(), everything->by_tenant.end(),
                           [](const auto& r) { return r.tenant == 1; });
  ASSERT_NE(row1, everything->by_tenant.end());
  EXPECT_EQ(stats->by_tenant[0].live, row1->live);
  EXPECT_EQ(stats->tenants, 1u);
  EXPECT_EQ(stats->pending, 0u);
  EXPECT_EQ(stats->log_records, 0u);
  EXPECT_EQ(stats->dead_letters, 0u);

  // Rates: its tenants' rows only, not the channel's overall one.
  ASSERT_TRUE(operator_
                  ->SetRateLimits({{Channel::kSms, true, 0, 1000, 1000, 0},
                                   {Channel::kSms, false, 2, 100, 1000, 0},
                                   {Channel::kSms, false, 1, 50, 1000, 0}})
                  .ok());
  auto rates_all = operator_->Rates();
  ASSERT_TRUE(rates_all.ok());
  EXPECT_EQ(rates_all->rows.size(), 3u);
  auto rates = admin13_->Rates();
  ASSERT_TRUE(rates.ok()) << rates.status();
  ASSERT_EQ(rates->rows.size(), 1u);
  EXPECT_FALSE(rates->rows[0].limit.all_tenants);
  EXPECT_EQ(rates->rows[0].limit.tenant, 1u);
  EXPECT_EQ(rates->rows[0].limit.count, 50u);
}

TEST_F(TenantsTest, KeyListingIsScopedToTheTokensTenantsAndPaged) {
  // Five keys "k/T-i" in each of tenants 1 and 2, one of tenant 1's cancelled.
  for (uint32_t t : {1u, 2u}) {
    std::vector<Reminder> batch;
    for (int i = 0; i < 5; ++i) {
      batch.push_back(Raw(t, "k/" + std::to_string(t) + "-" + std::to_string(i),
                          SystemNowMs() + kDay, Channel::kSms));
    }
    ASSERT_TRUE(platform_->Schedule(batch).ok());
  }
  ASSERT_TRUE(platform_->Cancel({{1, "k/1-2"}}).ok());

  ExpectDenied(admin13_->ListKeys({.tenant = 2}), 2);
  EXPECT_EQ(clinic1_->ListKeys({.tenant = 1}).status().code(),  // a producer: its role
            absl::StatusCode::kPermissionDenied);
  auto over = admin13_->ListKeys({.tenant = 1, .limit = 1001});
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument) << over.status();

  // Tenant 1 by pages of 2: its own live keys, in order, the cursor the last key.
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto p = admin13_->ListKeys({.tenant = 1, .prefix = "k/", .after = after, .limit = 2});
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_LE(p->keys.size(), 2u);
    seen.insert(seen.end(), p->keys.begin(), p->keys.end());
    if (p->next_cursor.empty()) break;
    EXPECT_EQ(p->next_cursor, p->keys.back());
    after = p->next_cursor;
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("k/1-0", "k/1-1", "k/1-3", "k/1-4"));

  // Without a prefix, the fixture's reminder "r" too; tenant 2's keys never.
  auto all1 = operator_->ListKeys({.tenant = 1, .limit = 1000});
  ASSERT_TRUE(all1.ok()) << all1.status();
  EXPECT_TRUE(all1->next_cursor.empty());
  EXPECT_THAT(all1->keys, ::testing::Contains("r"));
  EXPECT_THAT(all1->keys, ::testing::Not(::testing::Contains(HasSubstr("k/2-"))));
  auto two = operator_->ListKeys({.tenant = 2, .prefix = "k/2-3"});
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_THAT(two->keys, ::testing::ElementsAre("k/2-3"));
  auto none = operator_->ListKeys({.tenant = 7});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->keys.empty());
}

TEST_F(TenantsTest, RateLimitsOfAnotherTenantOrOfAChannelAreRefusedAndChangeNothing) {
  ASSERT_TRUE(operator_->SetRateLimits({{Channel::kSms, false, 2, 100, 1000, 0}}).ok());
  // One foreign item refuses the whole request: tenant 1's limit is not set.
  ExpectDenied(admin13_->SetRateLimits(
                   {{Channel::kSms, false, 1, 7, 1000, 0}, {Channel::kSms, false, 2, 0, 1000, 0}}),
               2);
  ExpectAllTenantsNeeded(admin13_->SetRateLimits({{Channel::kSms, true, 0, 5, 1000, 0}}));
  auto rates = operator_->Rates();
  ASSERT_TRUE(rates.ok());
  ASSERT_EQ(rates->rows.size(), 1u);
  EXPECT_EQ(rates->rows[0].limit.tenant, 2u);
  EXPECT_EQ(rates->rows[0].limit.count, 100u);
  // Its own tenant's limit goes.
  EXPECT_TRUE(admin13_->SetRateLimits({{Channel::kSms, false, 3, 7, 1000, 0}}).ok());
  rates = operator_->Rates();
  ASSERT_TRUE(rates.ok());
  EXPECT_EQ(rates->rows.size(), 2u);
}

TEST_F(TenantsTest, RefusalsAreLoggedWithTheTokensNameNeverItsSecret) {
  // A fresh second of the log budget (earlier refusals may have spent it).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ::testing::internal::CaptureStderr();
  ExpectDenied(clinic1_->Reschedule({2, "r"}, SystemNowMs() + kDay), 2);
  EXPECT_EQ(Connect("not-a-token").status().code(), absl::StatusCode::kUnauthenticated);
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("refused Reschedule for tenant 2 from 127.0.0.1:"));
  EXPECT_THAT(log, HasSubstr(": token 'clinic-1' may not act for it"));
  EXPECT_THAT(log, HasSubstr("authentication failed from 127.0.0.1:"));
  EXPECT_THAT(log, Not(HasSubstr("clinic-1-secret")));
  EXPECT_THAT(log, Not(HasSubstr("not-a-token")));
}

TEST_F(TenantsTest, AFloodOfRefusalsLogsABoundedNumberOfLines) {
  // Wait out the current second's budget so that the count below is exact
  // whatever ran before (the budget is per second, for the process).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ::testing::internal::CaptureStderr();
  auto began = Clock::now();
  constexpr int kRefusals = 500;
  for (int i = 0; i < kRefusals; ++i) {
    ASSERT_EQ(clinic1_->Reschedule({2, "r"}, SystemNowMs() + kDay).code(),
              absl::StatusCode::kPermissionDenied);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  std::string log = ::testing::internal::GetCapturedStderr();
  size_t lines = std::count(log.begin(), log.end(), '\n');
  // At most the budget per (started) second.
  EXPECT_LE(lines, server::kRefusalLinesPerSecond * (static_cast<size_t>(seconds) + 2));
  EXPECT_GE(lines, 1u);
  if (lines < static_cast<size_t>(kRefusals)) {
    // The suppressed ones are counted in a later line, or were still
    // pending at the end of the flood: ask once more after a second.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ::testing::internal::CaptureStderr();
    ExpectDenied(clinic1_->Reschedule({2, "r"}, SystemNowMs() + kDay), 2);
    log += ::testing::internal::GetCapturedStderr();
    EXPECT_THAT(log, HasSubstr("more refusals not logged before this one"));
  }
}

TEST(LogBudgetTest, LetsNLinesASecondAndCountsTheRest) {
  server::LogBudget budget(3);
  for (int i = 0; i < 3; ++i) {
    auto g = budget.Take(1000 + i);
    EXPECT_TRUE(g.log);
    EXPECT_EQ(g.suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(budget.Take(1500).log);
  auto next = budget.Take(2000);  // a new second
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.suppressed, 5u);
  EXPECT_EQ(budget.Take(2001).suppressed, 0u);
}

}  // namespace
}  // namespace rappel::client
