// Messages after they leave the plan: late outcomes (out of order,
// repeated), the per-tenant summary by local day (a day boundary, a DST
// change), the message list (filters, paging), and both across a restart;
// a summary row put once per ack batch.
#include <set>

#include "server/plan/message_outcome.h"
#include "server/plan/message_summary.h"
#include "tests/plan/book_fixture.h"

namespace rappel::server::plan {
namespace {

using namespace message_state;

TEST(LateOutcomeRules, OnlyForwardAndIdempotent) {
  uint8_t s = kSent;
  s = ApplyLateOutcome(s, LateOutcome::kOpened);  // before its "delivered"
  EXPECT_EQ(s, kSent | kDelivered | kOpened);
  EXPECT_EQ(ApplyLateOutcome(s, LateOutcome::kDelivered), s);
  EXPECT_EQ(ApplyLateOutcome(s, LateOutcome::kOpened), s);
  EXPECT_EQ(ApplyLateOutcome(s, LateOutcome::kFailed), s);  // opened proves receipt
  EXPECT_EQ(ApplyLateOutcome(s, LateOutcome::kClicked), s | kClicked);
  uint8_t bounced = ApplyLateOutcome(kSent | kDelivered, LateOutcome::kFailed);
  EXPECT_EQ(bounced, kSent | kFailed);
  EXPECT_EQ(ApplyLateOutcome(bounced, LateOutcome::kDelivered), bounced);
  EXPECT_EQ(ApplyLateOutcome(bounced, LateOutcome::kOpened), kSent | kDelivered | kOpened);
  EXPECT_EQ(ApplyLateOutcome(kDropped, LateOutcome::kDelivered), kDropped);
  EXPECT_EQ(MessageStateName(bounced), "failed");
  EXPECT_EQ(MessageStateName(kSent | kDelivered), "delivered");
}

// The su/ puts in `writes`.
std::vector<const WriteBatch::StateOp*> SummaryPuts(const Engine::StateWrites& writes) {
  std::vector<const WriteBatch::StateOp*> out;
  for (const auto& op : writes) {
    if (!op.is_delete && op.key.starts_with("su/")) out.push_back(&op);
  }
  return out;
}

TEST(MessageSummaryWrites, ARowIsPutOncePerWritesWithItsLatestValue) {
  MessageSummary summary, reference;
  MessageSummary::Key a{1, 20541, Channel::kSms, MessageKind::kReminder};
  MessageSummary::Key b{1, 20541, Channel::kEmail, MessageKind::kReminder};
  Engine::StateWrites batch;
  std::string last_a, last_b;
  for (int i = 0; i < 5; ++i) {  // acks of one batch, other writes between
    summary.Note(a, 0, kSent, DropClass::kNone, 1, &batch);
    batch.push_back(StatePut("pa/x" + std::to_string(i), "record"));
    summary.Note(b, 0, kSent, DropClass::kNone, 0, &batch);
    Engine::StateWrites one;
    reference.Note(a, 0, kSent, DropClass::kNone, 1, &one);
    reference.Note(b, 0, kSent, DropClass::kNone, 0, &one);
    last_a = one.at(0).value;
    last_b = one.at(1).value;
  }
  auto puts = SummaryPuts(batch);
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0]->key, MessageSummary::RecordKey(a));
  EXPECT_EQ(puts[0]->value, last_a);  // 5 sent, 5 credits
  EXPECT_EQ(puts[1]->key, MessageSummary::RecordKey(b));
  EXPECT_EQ(puts[1]->value, last_b);
  EXPECT_EQ(batch.size(), 7u);
  EXPECT_EQ(summary.Range(1, 20541, 20541), reference.Range(1, 20541, 20541));

  // The next writes (here: the same vector, emptied and refilled by others,
  // so the remembered place holds another key) get their own put.
  batch.clear();
  batch.push_back(StatePut("pa/y", "record"));
  summary.Note(a, kSent, kSent | kDelivered, DropClass::kNone, 0, &batch);
  Engine::StateWrites one;
  reference.Note(a, kSent, kSent | kDelivered, DropClass::kNone, 0, &one);
  puts = SummaryPuts(batch);
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(batch.at(0).key, "pa/y");
  EXPECT_EQ(puts[0]->value, one.at(0).value);
  // And another vector between: back to the first, the row is put again
  // there only if its put there is gone.
  Engine::StateWrites other;
  summary.Note(b, kSent, kSent | kFailed, DropClass::kNone, 0, &other);
  summary.Note(a, kSent | kDelivered, kSent | kDelivered | kOpened, DropClass::kNone, 0, &batch);
  EXPECT_EQ(SummaryPuts(other).size(), 1u);
  EXPECT_EQ(SummaryPuts(batch).size(), 2u);  // a's earlier put here was not remembered
  EXPECT_EQ(SummaryPuts(batch).back()->key, MessageSummary::RecordKey(a));
}

class OutcomesTest : public BookTest {
 protected:
  std::vector<absl::StatusOr<bool>> Report(std::vector<OutcomeReport> items) {
    return Wait<std::vector<absl::StatusOr<bool>>>(
        [&](auto done) { book_->ReportOutcomes(std::move(items), done); });
  }
  absl::StatusOr<bool> Report1(const std::string& key, LateOutcome o, std::string detail = "") {
    return Report({OutcomeReport{1, key, o, std::move(detail)}}).at(0);
  }
  json Summary(const std::string& from, const std::string& to, uint32_t tenant = 1) {
    queue_.RunUntil([&] { return engine_->idle(); });
    auto s = book_->MessageSummaryJson(SummaryQuery{tenant, from, to});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? json::parse(*s) : json();
  }
  json List(MessageListQuery q) {
    queue_.RunUntil([&] { return engine_->idle(); });
    if (q.tenant == 0) q.tenant = 1;
    auto s = book_->MessageListJson(q);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? json::parse(*s) : json();
  }
  // The summary row of (day, channel, kind), or null.
  static json Row(const json& summary, const std::string& day, const std::string& channel,
                  const std::string& kind) {
    for (const json& r : summary["rows"]) {
      if (r["day"] == day && r["channel"] == channel && r["kind"] == kind) return r;
    }
    return nullptr;
  }
  static std::string Key(const Got& g) { return g.key; }
  // The delivery of `kind/channel`, by its document.
  static const Got& Find(const std::vector<Got>& got, const std::string& kind,
                         const std::string& channel) {
    for (const Got& g : got) {
      if (g.doc["kind"] == kind && g.doc["channel"] == channel) return g;
    }
    ADD_FAILURE() << "no " << kind << "/" << channel;
    return got.front();
  }
};

TEST_F(OutcomesTest, LateOutcomesOutOfOrderAndRepeatedChangeOnlyOnce) {
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 7, 1, 10))).ok());
  auto got = Deliveries();
  ASSERT_EQ(Kinds(got), (std::vector<std::string>{"confirmation/email", "confirmation/sms"}));
  const std::string email = Find(got, "confirmation", "email").key;
  const std::string sms = Find(got, "confirmation", "sms").key;
  EXPECT_EQ(Find(got, "confirmation", "email").message_id, "1:" + email);

  // Opened before delivered: counts as delivered too; the late delivered,
  // a repeat, and a bounce after the open change nothing.
  EXPECT_EQ(*Report1(email, LateOutcome::kOpened, "pixel"), true);
  EXPECT_EQ(*Report1(email, LateOutcome::kDelivered), false);
  EXPECT_EQ(*Report1(email, LateOutcome::kOpened), false);
  EXPECT_EQ(*Report1(email, LateOutcome::kFailed, "550 mailbox full"), false);
  // The SMS: delivered, then a bounce (the operator's later word), then
  // the delivered receipt again: stays failed.
  EXPECT_EQ(*Report1(sms, LateOutcome::kDelivered, "DELIVRD"), true);
  EXPECT_EQ(*Report1(sms, LateOutcome::kFailed, "EXPIRED"), true);
  EXPECT_EQ(*Report1(sms, LateOutcome::kDelivered, "DELIVRD"), false);

  json s = Summary("2026-06-01", "2026-06-01");
  json e = Row(s, "2026-06-01", "email", "confirmation");
  json m = Row(s, "2026-06-01", "sms", "confirmation");
  ASSERT_FALSE(e.is_null()) << s.dump();
  ASSERT_FALSE(m.is_null()) << s.dump();
  EXPECT_EQ(e["sent"], 1);
  EXPECT_EQ(e["delivered"], 1);
  EXPECT_EQ(e["opened"], 1);
  EXPECT_EQ(e["failed"], 0);
  EXPECT_EQ(m["sent"], 1);
  EXPECT_EQ(m["delivered"], 0);
  EXPECT_EQ(m["failed"], 1);
  EXPECT_EQ(s["total"]["sent"], 2);

  // Recorded in the audit once each: the changes, not the repeats.
  int opened = 0, failed = 0;
  for (const json& line : Audit("a1")) {
    if (line["what"] == "opened") ++opened;
    if (line["what"] == "failed" && line["channel"] == "sms") {
      ++failed;
      EXPECT_EQ(line["reason"], "EXPIRED");
    }
  }
  EXPECT_EQ(opened, 1);
  EXPECT_EQ(failed, 1);

  // Unknown ids, one item among good ones.
  auto r = Report({OutcomeReport{1, "@a/nope/confirmation/sms/0", LateOutcome::kDelivered, ""},
                   OutcomeReport{1, "not a key", LateOutcome::kDelivered, ""},
                   OutcomeReport{1, email, LateOutcome::kClicked, ""},
                   OutcomeReport{2, email, LateOutcome::kClicked, ""}});
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*r[2], true);
  EXPECT_EQ(r[3].status().code(), absl::StatusCode::kNotFound);  // the same key, another tenant
  // A message still pending (the reminder) was never sent.
  json pending = Pending("a1");
  ASSERT_FALSE(pending.empty());
  std::string pending_id = pending[0]["message_id"];
  EXPECT_EQ(Report1(pending_id.substr(2), LateOutcome::kDelivered).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(OutcomesTest, SummaryCountsTheTenantsLocalDayAcrossMidnightAndDst) {
  auto book_at = [&](const std::string& id, int64_t at) {
    RunUntil(at);
    ASSERT_TRUE(Upsert(Appt(id, LocalMs("Europe/Paris", 2026, 12, 1, 10))).ok());
    ASSERT_EQ(Deliveries().size(), 2u);
  };
  // 23:30 and 00:30 Paris on the eve of the change to winter time: 21:30
  // and 22:30 UTC, one UTC day, two local days.
  book_at("a1", LocalMs("Europe/Paris", 2026, 10, 24, 23, 30));
  book_at("a2", LocalMs("Europe/Paris", 2026, 10, 25, 0, 30));
  // The DST day is 25 hours long: 01:30 and 23:30 are the same local day,
  // and 00:30 the next day is 23:30 UTC on the 25th.
  book_at("a3", LocalMs("Europe/Paris", 2026, 10, 25, 23, 30));
  book_at("a4", LocalMs("Europe/Paris", 2026, 10, 26, 0, 30));
  json s = Summary("2026-10-24", "2026-10-26");
  auto sent = [&](const std::string& day) {
    json r = Row(s, day, "sms", "confirmation");
    return r.is_null() ? 0 : r["sent"].get<int>();
  };
  EXPECT_EQ(sent("2026-10-24"), 1) << s.dump();
  EXPECT_EQ(sent("2026-10-25"), 2) << s.dump();
  EXPECT_EQ(sent("2026-10-26"), 1) << s.dump();
  EXPECT_EQ(s["total"]["sent"], 8);
  EXPECT_EQ(s["from"], "2026-10-24");
  // A late outcome counts in the day the message was sent, not the day it
  // arrives.
  std::string a1_sms = "@a/a1/confirmation/sms/0";
  ASSERT_EQ(List({.appointment = "a1", .channel = "sms"})["messages"].size(), 1u);
  EXPECT_EQ(*Report1(a1_sms, LateOutcome::kDelivered), true);
  s = Summary("2026-10-24", "2026-10-26");
  EXPECT_EQ(Row(s, "2026-10-24", "sms", "confirmation")["delivered"], 1);
  EXPECT_EQ(Row(s, "2026-10-26", "sms", "confirmation")["delivered"], 0);
  // Bad periods.
  EXPECT_EQ(book_->MessageSummaryJson({1, "2026-10-26", "2026-10-24"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(book_->MessageSummaryJson({1, "2026-13-01", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(book_->MessageSummaryJson({9, "", ""}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OutcomesTest, MessageListPagesNewestFirstWithFilters) {
  PutObject(ObjectKind::kPatient, 1, "p2", R"({"first_name": "Paul", "mobile": "+33698765432"})");
  for (int i = 0; i < 7; ++i) {
    Appointment a = Appt("a" + std::to_string(i), LocalMs("Europe/Paris", 2026, 7, 1, 10 + i));
    if (i == 6) a.patient = "p2";
    ASSERT_TRUE(Upsert(a).ok());
    ASSERT_FALSE(Deliveries().empty());
    clock_.Advance(kMinuteMs);
  }
  // 6 x (sms + email) + 1 sms = 13 messages.
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  int64_t last_at = INT64_MAX;
  for (; pages < 10; ++pages) {
    json page = List({.limit = 5, .cursor = cursor});
    for (const json& m : page["messages"]) {
      EXPECT_LE(m["at_ms"].get<int64_t>(), last_at);  // newest first
      last_at = m["at_ms"];
      seen.push_back(m["message_id"]);
    }
    cursor = page["next_cursor"];
    if (cursor.empty()) break;
    EXPECT_EQ(page["messages"].size(), 5u);
  }
  EXPECT_EQ(pages, 2);  // 5 + 5 + 3
  EXPECT_EQ(seen.size(), 13u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 13u);
  EXPECT_EQ(seen.front(), "1:@a/a6/confirmation/sms/0");

  EXPECT_EQ(List({.channel = "email"})["messages"].size(), 6u);
  EXPECT_EQ(List({.patient = "p2"})["messages"].size(), 1u);
  EXPECT_EQ(List({.appointment = "a3"})["messages"].size(), 2u);
  EXPECT_EQ(List({.kind = "reminder"})["messages"].size(), 0u);
  EXPECT_EQ(List({.day = "2026-06-01"})["messages"].size(), 13u);
  EXPECT_EQ(List({.day = "2026-06-02"})["messages"].size(), 0u);
  ASSERT_EQ(*Report1("@a/a2/confirmation/email/0", LateOutcome::kOpened), true);
  json opened = List({.status = "opened"});
  ASSERT_EQ(opened["messages"].size(), 1u);
  EXPECT_EQ(opened["messages"][0]["appointment"], "a2");
  EXPECT_EQ(List({.status = "sent"})["messages"].size(), 12u);
  for (MessageListQuery bad : {MessageListQuery{.channel = "fax"}, MessageListQuery{.kind = "x"},
                               MessageListQuery{.status = "read"}, MessageListQuery{.cursor = "x"},
                               MessageListQuery{.limit = 5000}}) {
    bad.tenant = 1;
    EXPECT_EQ(book_->MessageListJson(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
  // Another tenant sees none of them.
  PutObject(ObjectKind::kTenant, 2, "", R"({"time_zone": "Europe/Paris"})");
  EXPECT_EQ(List({.tenant = 2})["messages"].size(), 0u);
  EXPECT_EQ(Summary("2026-06-01", "2026-06-01", 2)["rows"].size(), 0u);
}

TEST_F(OutcomesTest, DroppedMessagesAreListedAndCountedByReason) {
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 6, 10, 10))).ok());
  Deliveries();
  // Notifications off after planning: the reminders are dropped as they
  // fall due.
  PutObject(ObjectKind::kPatient, 1, "p1", R"({"first_name": "Jeanne", "mobile": "+33612345678",
      "email": "jeanne@example.org", "notifications": false})");
  auto got = RunUntil(LocalMs("Europe/Paris", 2026, 6, 9, 11));
  EXPECT_TRUE(got.empty());
  json dropped = List({.status = "dropped"});
  ASSERT_FALSE(dropped["messages"].empty()) << dropped.dump();
  EXPECT_EQ(dropped["messages"][0]["drop_reason"], "opt_out");
  json s = Summary("2026-06-08", "2026-06-09");
  EXPECT_EQ(s["total"]["dropped"], dropped["messages"].size());
  EXPECT_EQ(s["total"]["dropped_by_reason"]["opt_out"], dropped["messages"].size());
  std::string id = dropped["messages"][0]["message_id"];
  EXPECT_EQ(Report1(id.substr(2), LateOutcome::kDelivered).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(OutcomesTest, SummaryListAndStatesSurviveARestart) {
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 7, 1, 10))).ok());
  ASSERT_EQ(Deliveries().size(), 2u);
  ASSERT_EQ(*Report1("@a/a1/confirmation/sms/0", LateOutcome::kDelivered), true);
  json before = Summary("2026-06-01", "2026-06-01");
  json list_before = List({});
  Restart();
  EXPECT_EQ(Summary("2026-06-01", "2026-06-01"), before);
  EXPECT_EQ(List({}), list_before);
  EXPECT_EQ(*Report1("@a/a1/confirmation/sms/0", LateOutcome::kDelivered), false);
  EXPECT_EQ(*Report1("@a/a1/confirmation/email/0", LateOutcome::kOpened), true);
  EXPECT_EQ(Summary("2026-06-01", "2026-06-01")["total"]["opened"], 1);
}

TEST_F(OutcomesTest, TemplateAsksForOpenTracking) {
  PutObject(ObjectKind::kTemplate, 1, "confirmation/email/fr",
            R"({"subject": "RDV", "body": "Votre rendez-vous", "track_opens": true})");
  PutObject(ObjectKind::kTemplate, 1, "confirmation/sms/en", R"({"body": "x", "track_opens": 1})",
            absl::StatusCode::kInvalidArgument);
  std::vector<std::pair<std::string, bool>> seen;
  auto worker = dispatcher_->AddWorker(
      WorkerOptions{{Channel::kEmail}, 16, 16, std::nullopt, {}},
      [&](const std::vector<LeasedMessage>& batch) {
        for (const auto& m : batch) seen.emplace_back(m.reminder->key, m.track_opens);
      });
  ASSERT_TRUE(worker.ok());
  dispatcher_->RemoveWorker(worker_);  // the fixture's worker takes e-mail too
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 7, 1, 10))).ok());
  while (!core_->Poll(clock_.now_ms(), 1 << 16)) {
  }
  queue_.RunPending();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, "@a/a1/confirmation/email/0");
  EXPECT_TRUE(seen[0].second);
}

}  // namespace
}  // namespace rappel::server::plan
