// Messages after they leave the plan: late outcomes (out of order,
// repeated), the per-tenant summary by local day (a day boundary, a DST
// change), the message list (filters, paging, one tenant's only, ties at one
// at_ms, after a purge), and both across a restart;
// a summary row put once per ack batch.
#include <algorithm>
#include <functional>
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

TEST_F(OutcomesTest, MessageListShowsOnlyItsTenantsMessagesThoughAnotherHasMore) {
  PutObject(ObjectKind::kTenant, 2, "", R"({"time_zone": "Europe/Paris"})");
  PutObject(ObjectKind::kCalendar, 2, "dr-martin", R"({"name": "Dr Martin"})");
  PutObject(ObjectKind::kType, 2, "consult", R"({"name": "Consultation", "mode": "on_site"})");
  PutObject(ObjectKind::kPatient, 2, "p1", R"({"first_name": "Paul", "mobile": "+33698765432",
      "email": "paul@example.org"})");
  int64_t start = LocalMs("Europe/Paris", 2026, 7, 1, 10);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Upsert(Appt("mine" + std::to_string(i), start)).ok());
  ASSERT_EQ(Deliveries().size(), 6u);
  clock_.Advance(kMinuteMs);
  // Tenant 2's messages are newer and far more: a list walking them would
  // page them first.
  std::vector<Appointment> theirs;
  for (int i = 0; i < 60; ++i) {
    theirs.push_back(Appt("theirs" + std::to_string(i), start + i * kMinuteMs));
    theirs.back().tenant = 2;
  }
  for (const auto& r : UpsertAll(theirs)) ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(Deliveries().size(), 120u);
  EXPECT_EQ(book_->appointments(1), 3u);
  EXPECT_EQ(book_->appointments(2), 60u);

  json all = List({.limit = 1000});
  ASSERT_EQ(all["messages"].size(), 6u) << all.dump();
  for (const json& m : all["messages"]) {
    EXPECT_EQ(m["message_id"].get<std::string>().substr(0, 2), "1:") << m.dump();
    EXPECT_EQ(m["appointment"].get<std::string>().substr(0, 4), "mine") << m.dump();
  }
  std::string cursor;
  size_t seen = 0;
  for (int pages = 0; pages < 10; ++pages) {
    json page = List({.limit = 2, .cursor = cursor});
    for (const json& m : page["messages"]) {
      EXPECT_EQ(m["message_id"].get<std::string>().substr(0, 2), "1:") << m.dump();
      ++seen;
    }
    cursor = page["next_cursor"];
    if (cursor.empty()) break;
  }
  EXPECT_EQ(seen, 6u);
  EXPECT_EQ(List({.tenant = 2, .limit = 1000})["messages"].size(), 120u);
}

TEST_F(OutcomesTest, MessageListPagesEveryMessageOnceWhenAllShareOneMillisecond) {
  // Ids whose order as strings differs from their pieces' order: a prefix
  // ("x" and "x/y"), a '/' inside, digits ("10" before "9"), a byte above
  // 0x7f, a long one.
  std::vector<std::string> ids = {"x",  "x/y", "x/y/z",    "x0",           "x.", "X",
                                  "9",  "10",  "\xc3\xa9", "x/confirmation", "a",  std::string(120, 'a')};
  std::vector<Appointment> appts;
  for (size_t i = 0; i < ids.size(); ++i) {
    appts.push_back(Appt(ids[i], LocalMs("Europe/Paris", 2026, 7, 1, 10) +
                                         static_cast<int64_t>(i) * kHourMs));
  }
  for (const auto& r : UpsertAll(appts)) ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(Deliveries().size(), 2 * ids.size());  // acked in one batch: one at_ms

  // Newest first, and at one at_ms by message id, descending (as strings).
  json all = List({.limit = 1000});
  std::vector<std::string> expected;
  for (const json& m : all["messages"]) {
    EXPECT_EQ(m["at_ms"], all["messages"][0]["at_ms"]);
    expected.push_back(m["message_id"]);
  }
  ASSERT_EQ(expected.size(), 2 * ids.size());
  std::vector<std::string> sorted = expected;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  EXPECT_EQ(expected, sorted);

  for (uint32_t limit = 1; limit <= 3; ++limit) {
    std::vector<std::string> seen;
    std::string cursor;
    for (size_t pages = 0; pages <= expected.size(); ++pages) {
      json page = List({.limit = limit, .cursor = cursor});
      EXPECT_LE(page["messages"].size(), limit);
      for (const json& m : page["messages"]) seen.push_back(m["message_id"]);
      cursor = page["next_cursor"];
      if (cursor.empty()) break;
    }
    EXPECT_EQ(seen, expected) << "limit " << limit;
  }
}

TEST_F(OutcomesTest, MessageListAfterAppointmentsAreReclaimed) {
  PutObject(ObjectKind::kTenant, 1, "", R"({"time_zone": "Europe/Paris", "audit_retention": "240h",
      "reminder_offsets": ["48h", "24h"]})");
  int64_t start = clock_.now_ms() + 2 * kDayMs;
  ASSERT_TRUE(Upsert(Appt("old", start)).ok());
  ASSERT_TRUE(Upsert(Appt("recent", start + 5 * kDayMs)).ok());
  RunUntil(start + 11 * kDayMs);
  ASSERT_EQ(book_->appointments(1), 2u);
  EXPECT_EQ(book_->Reclaim(), 1u);  // "old" ended more than 10 days ago
  EXPECT_EQ(book_->appointments(1), 1u);
  json after = List({.limit = 1000});
  ASSERT_FALSE(after["messages"].empty());
  for (const json& m : after["messages"]) EXPECT_EQ(m["appointment"], "recent") << m.dump();
  // A new appointment after the purge is listed (first: it is the newest).
  clock_.Advance(kMinuteMs);
  ASSERT_TRUE(Upsert(Appt("new", start + 20 * kDayMs)).ok());
  ASSERT_EQ(Deliveries().size(), 2u);
  EXPECT_EQ(book_->appointments(1), 2u);
  json with_new = List({.limit = 1000});
  ASSERT_EQ(with_new["messages"].size(), after["messages"].size() + 2);
  EXPECT_EQ(with_new["messages"][0]["appointment"], "new");
  Restart();
  EXPECT_EQ(book_->appointments(1), 2u);
  EXPECT_EQ(List({.limit = 1000}), with_new);
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

// A full store fails commits: what they would have counted must not stay in
// memory (the summary is a view of the store), and a report or an ack
// retried after the refusal counts once.
TEST_F(OutcomesTest, AFailedCommitCountsNothingAndARetryCountsOnce) {
  Close();
  engine_options_.store.initial_map_bytes = 1 << 20;
  engine_options_.store.max_map_bytes = 3 << 20;
  Open();
  const int64_t start = LocalMs("Europe/Paris", 2026, 6, 20, 10);
  std::vector<std::string> sms;  // the confirmations' message keys
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Upsert(Appt("s" + std::to_string(i), start + i * kHourMs)).ok());
  }
  for (const Got& g : Deliveries()) {
    if (g.doc["channel"] == "sms") sms.push_back(g.key);
  }
  ASSERT_EQ(sms.size(), 10u);
  // Filled with smaller and smaller writes, until even a small one fails.
  int filler = 0;
  for (size_t notes : {4000, 400, 40, 0}) {
    absl::Status full;
    for (int i = 0; i < 100'000 && full.ok(); ++i, ++filler) {
      Appointment a = Appt("f" + std::to_string(filler), start + kDayMs + filler * kMinuteMs);
      a.notes = std::string(notes, 'n');
      full = Upsert(a).status();
    }
    ASSERT_TRUE(absl::IsResourceExhausted(full) || absl::IsAborted(full)) << full;
  }

  // Late outcomes, all in one report (with the longest details a client may
  // send: a commit too big for what is left), then each refused one again.
  int landed = 0, refused = 0;
  std::vector<OutcomeReport> batch;
  for (const std::string& key : sms) {
    batch.push_back(OutcomeReport{1, key, LateOutcome::kDelivered, std::string(1024, 'd')});
  }
  auto first = Report(batch);
  for (size_t i = 0; i < sms.size(); ++i) {
    if (first[i].ok()) {
      EXPECT_TRUE(*first[i]);
      ++landed;
      continue;
    }
    EXPECT_TRUE(absl::IsResourceExhausted(first[i].status()) || absl::IsAborted(first[i].status()))
        << first[i].status();
    ++refused;
    auto again = Report1(sms[i], LateOutcome::kDelivered, "DELIVRD");
    if (again.ok()) {
      EXPECT_TRUE(*again) << sms[i];
      ++landed;
    }
  }
  ASSERT_GT(refused, 0) << "no report was refused: the store was not full enough";
  auto delivered_in = [&](const json& summary) {
    json row = Row(summary, "2026-06-01", "sms", "confirmation");
    return row.is_null() ? -1 : row["delivered"].get<int>();
  };
  EXPECT_EQ(delivered_in(Summary("2026-06-01", "2026-06-01")), landed);
  EXPECT_EQ(List({.status = "delivered"})["messages"].size(), static_cast<size_t>(landed));

  // Acks: the filler's confirmations fall due; each commit that fails counts
  // nothing, and the message stays pending (it is handed out again).
  int acked = 0;
  while (!core_->Poll(clock_.now_ms(), 1 << 16)) {
  }
  queue_.RunPending();
  std::vector<Got> leased = std::move(got_);
  got_.clear();
  ASSERT_FALSE(leased.empty());
  for (const Got& g : leased) {
    bool done = false;
    absl::Status st;
    dispatcher_->AckBatch(worker_, {{g.lease_id, AckOutcome::kSent, "ok"}}, [&](auto results) {
      st = results.at(0);
      done = true;
    });
    ASSERT_TRUE(queue_.RunUntil([&] { return done; }));
    if (st.ok()) ++acked;
  }
  json s = Summary("2026-06-01", "2026-06-01");
  EXPECT_EQ(s["total"]["sent"].get<int>(), 20 + acked) << s.dump();

  // What memory showed is what the store holds.
  json before = Summary("2026-06-01", "2026-06-01");
  Close();
  engine_options_.store.max_map_bytes = 256 << 20;
  Open();
  EXPECT_EQ(Summary("2026-06-01", "2026-06-01"), before);
  // The refused ones can be reported now, once.
  int late = 0;
  for (const std::string& key : sms) {
    auto r = Report1(key, LateOutcome::kDelivered);
    ASSERT_TRUE(r.ok()) << r.status();
    late += *r;
  }
  EXPECT_EQ(late, 10 - landed);
  EXPECT_EQ(delivered_in(Summary("2026-06-01", "2026-06-01")), 10);
}

TEST_F(OutcomesTest, ALateOutcomeCountsInTheDayItsMessageWasCountedIn) {
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 7, 1, 10))).ok());
  ASSERT_EQ(Deliveries().size(), 2u);  // 1 June, 09:00 in Paris
  // The tenant moves its zone: 09:00 in Paris was 31 May, 21:00 in Honolulu.
  PutObject(ObjectKind::kTenant, 1, "", R"({"name": "Cabinet Dupont", "time_zone": "Pacific/Honolulu",
      "reminder_offsets": ["48h", "24h"], "action_url": "https://r.example/a"})");
  ASSERT_EQ(*Report1("@a/a1/confirmation/sms/0", LateOutcome::kDelivered), true);
  json s = Summary("2026-05-31", "2026-06-01");
  json row = Row(s, "2026-06-01", "sms", "confirmation");
  ASSERT_FALSE(row.is_null()) << s.dump();
  EXPECT_EQ(row["sent"], 1);
  EXPECT_EQ(row["delivered"], 1);
  EXPECT_TRUE(Row(s, "2026-05-31", "sms", "confirmation").is_null()) << s.dump();
  // The list says the same day, and finds it under it.
  json listed = List({.day = "2026-06-01", .channel = "sms"});
  ASSERT_EQ(listed["messages"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["messages"][0]["day"], "2026-06-01");
}

TEST_F(OutcomesTest, AMessageExpiredWaitingForARateTokenIsDroppedAsExpired) {
  bool set = false;
  dispatcher_->SetRateLimits({RateLimit{Channel::kSms, TenantId{1}, 1, 86'400'000, 1}},
                             [&](absl::Status st) {
                               EXPECT_TRUE(st.ok()) << st;
                               set = true;
                             });
  ASSERT_TRUE(queue_.RunUntil([&] { return set; }));
  ASSERT_TRUE(Upsert(Appt("a1", LocalMs("Europe/Paris", 2026, 6, 3, 10))).ok());
  ASSERT_TRUE(Upsert(Appt("a2", LocalMs("Europe/Paris", 2026, 6, 3, 11))).ok());
  Deliveries();  // one SMS goes, the other waits for tomorrow's token
  RunUntil(LocalMs("Europe/Paris", 2026, 6, 3, 12));  // past both appointments
  // (Those never prepared for a worker leave the engine unheard of: the
  // sweep finds them.)
  book_->SweepGone();
  json s = Summary("2026-06-01", "2026-06-03");
  EXPECT_EQ(s["total"]["failed"], 0) << s.dump();
  ASSERT_TRUE(s["total"]["dropped_by_reason"].contains("expired")) << s.dump();
  EXPECT_GE(s["total"]["dropped_by_reason"]["expired"].get<int>(), 1) << s.dump();
  json dropped = List({.channel = "sms", .status = "dropped"});
  ASSERT_FALSE(dropped["messages"].empty()) << dropped.dump();
  EXPECT_EQ(dropped["messages"][0]["drop_reason"], "expired");
  EXPECT_TRUE(List({.status = "failed"})["messages"].empty());
}

// An appointment changed without end keeps a bounded record: the newest
// messages and audit records, the oldest audit records deleted.
TEST_F(OutcomesTest, AnAppointmentsSentListAndAuditAreBounded) {
  Close();
  engine_options_.store.sync = false;  // thousands of commits; durability is not the point
  Open();
  int64_t start = LocalMs("Europe/Paris", 2026, 9, 1, 10);
  size_t moves = kMaxSentPerAppointment / 2 + 50;  // two change notices per move
  for (size_t i = 0; i < moves; ++i) {
    ASSERT_TRUE(Upsert(Appt("a1", start + static_cast<int64_t>(i % 2) * kHourMs, i + 1)).ok());
    Deliveries();
  }
  queue_.RunUntil([&] { return engine_->idle(); });
  auto count_audit = [&] {
    auto reader = engine_->store().NewReader();
    EXPECT_TRUE(reader.ok());
    size_t n = 0;
    EXPECT_TRUE(reader
                    ->ScanState("au/", [&](std::string_view k, std::string_view) {
                      if (k.substr(0, 3) != "au/") return false;
                      ++n;
                      return true;
                    })
                    .ok());
    return n;
  };
  EXPECT_EQ(count_audit(), kMaxAuditPerAppointment);
  json listed = List({.appointment = "a1", .limit = 100});
  ASSERT_EQ(listed["messages"].size(), 100u);
  // The newest is kept: the last move's notices.
  EXPECT_EQ(listed["messages"][0]["kind"], "change");
  Restart();  // and the record reads back
  EXPECT_EQ(Show("a1")["appointment"]["version"], moves);
  EXPECT_EQ(count_audit(), kMaxAuditPerAppointment);
  size_t sent = 0;
  std::string cursor;
  do {
    json page = List({.appointment = "a1", .limit = 1000, .cursor = cursor});
    sent += page["messages"].size();
    cursor = page["next_cursor"];
  } while (!cursor.empty());
  EXPECT_EQ(sent, kMaxSentPerAppointment);
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
