// The client codec for the appointment messages: each request encodes into a
// frame that passes the protocol's verifier (protocol::VerifyFrame: prefix,
// identifier, FlatBuffers verifier, body present) and reads back field by
// field; each reply, built by hand as rappeld would send it, decodes into the
// public types, its errors into the matching absl status code.
#include "client/codec.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace rappel::client::codec {
namespace {

// A finished builder's frame, copied out and verified like a received one.
class Verified {
 public:
  explicit Verified(const FlatBufferBuilder& b)
      : bytes_(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()) {
    auto frame = protocol::VerifyFrame(bytes_.data(), bytes_.size(), protocol::FrameLimits{});
    if (frame.ok()) {
      root_ = *frame;
    } else {
      status_ = frame.status();
    }
  }
  // The root points into bytes_: never copied nor moved.
  Verified(const Verified&) = delete;
  Verified& operator=(const Verified&) = delete;
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  const wire::Frame* operator->() const { return root_; }
  const wire::Frame* get() const { return root_; }

 private:
  std::vector<uint8_t> bytes_;
  const wire::Frame* root_ = nullptr;
  absl::Status status_;
};

AppointmentInput FullAppointment() {
  AppointmentInput a;
  a.tenant = 7;
  a.id = "appt-42";
  a.calendar = "dr-martin";
  a.type = "consult-30";
  a.patient = "pat-9";
  a.start_ms = 1'772'434'800'000;
  a.end_ms = 1'772'436'600'000;
  a.location = "12 rue de la Paix";
  a.notes = "bring the X-rays";
  a.booked_online = true;
  a.booked_at_ms = 1'772'000'000'000;
  a.channels = ChannelBit(Channel::kSms) | ChannelBit(Channel::kEmail);
  a.version = 1'234'567'890'123ull;
  return a;
}

void ExpectAppointment(const wire::Appointment* w, const AppointmentInput& a) {
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->tenant(), a.tenant);
  ASSERT_NE(w->id(), nullptr);
  EXPECT_EQ(w->id()->str(), a.id);
  ASSERT_NE(w->calendar(), nullptr);
  EXPECT_EQ(w->calendar()->str(), a.calendar);
  ASSERT_NE(w->type(), nullptr);
  EXPECT_EQ(w->type()->str(), a.type);
  ASSERT_NE(w->patient(), nullptr);
  EXPECT_EQ(w->patient()->str(), a.patient);
  EXPECT_EQ(w->start_ms(), a.start_ms);
  EXPECT_EQ(w->end_ms(), a.end_ms);
  ASSERT_NE(w->location(), nullptr);
  EXPECT_EQ(w->location()->str(), a.location);
  ASSERT_NE(w->notes(), nullptr);
  EXPECT_EQ(w->notes()->str(), a.notes);
  EXPECT_EQ(w->booked_online(), a.booked_online);
  EXPECT_EQ(w->booked_at_ms(), a.booked_at_ms);
  EXPECT_EQ(w->channels(), a.channels);
  EXPECT_EQ(w->version(), a.version);
}

flatbuffers::Offset<wire::Status> WireStatus(FlatBufferBuilder& b, wire::ErrorCode code,
                                             const std::string& message) {
  return wire::CreateStatus(b, code, b.CreateString(message));
}

// ---- Requests ----

TEST(CodecTest, ObjectPutCarriesKindTenantIdAndDocument) {
  FlatBufferBuilder b;
  EncodeObjectPut(b, 11, ObjectKind::kCalendar, 7, "dr-martin", R"({"tz":"Europe/Paris"})");
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 11u);
  ASSERT_EQ(f->body_type(), wire::Body::ObjectPut);
  const wire::ObjectPut* put = f->body_as_ObjectPut();
  EXPECT_EQ(put->kind(), wire::ObjectKind::Calendar);
  EXPECT_EQ(put->tenant(), 7u);
  ASSERT_NE(put->id(), nullptr);
  EXPECT_EQ(put->id()->str(), "dr-martin");
  ASSERT_NE(put->json(), nullptr);
  EXPECT_EQ(put->json()->str(), R"({"tz":"Europe/Paris"})");
}

TEST(CodecTest, ObjectGetOfATenantHasAnEmptyId) {
  FlatBufferBuilder b;
  EncodeObjectGet(b, 12, ObjectKind::kTenant, 9, "");
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 12u);
  ASSERT_EQ(f->body_type(), wire::Body::ObjectGet);
  const wire::ObjectGet* get = f->body_as_ObjectGet();
  EXPECT_EQ(get->kind(), wire::ObjectKind::Tenant);
  EXPECT_EQ(get->tenant(), 9u);
  EXPECT_TRUE(get->id() == nullptr || get->id()->str().empty());
}

TEST(CodecTest, EveryObjectKindMapsToItsWireValue) {
  const std::pair<ObjectKind, wire::ObjectKind> kinds[] = {
      {ObjectKind::kTenant, wire::ObjectKind::Tenant},
      {ObjectKind::kCalendar, wire::ObjectKind::Calendar},
      {ObjectKind::kAppointmentType, wire::ObjectKind::AppointmentType},
      {ObjectKind::kPatient, wire::ObjectKind::Patient},
      {ObjectKind::kTemplate, wire::ObjectKind::Template},
  };
  for (const auto& [kind, expected] : kinds) {
    FlatBufferBuilder b;
    EncodeObjectGet(b, 1, kind, 1, "reminder/sms/fr");
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->body_as_ObjectGet()->kind(), expected) << ObjectKindName(kind);
  }
}

TEST(CodecTest, AppointmentUpsertCarriesEveryField) {
  AppointmentInput full = FullAppointment();
  AppointmentInput plain;
  plain.tenant = 8;
  plain.id = "appt-1";
  FlatBufferBuilder b;
  EncodeAppointmentUpsert(b, 13, {full, plain});
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 13u);
  ASSERT_EQ(f->body_type(), wire::Body::AppointmentUpsert);
  const auto* items = f->body_as_AppointmentUpsert()->items();
  ASSERT_NE(items, nullptr);
  ASSERT_EQ(items->size(), 2u);
  ExpectAppointment(items->Get(0), full);
  ExpectAppointment(items->Get(1), plain);
  // By default every channel is allowed: sms, email, voice and push.
  EXPECT_EQ(items->Get(1)->channels(), 30);
  EXPECT_FALSE(items->Get(1)->booked_online());
}

TEST(CodecTest, ChannelBitsAreThoseOfTheSchema) {
  EXPECT_EQ(ChannelBit(Channel::kSms), 2);
  EXPECT_EQ(ChannelBit(Channel::kEmail), 4);
  EXPECT_EQ(ChannelBit(Channel::kVoice), 8);
  EXPECT_EQ(ChannelBit(Channel::kPush), 16);
  EXPECT_EQ(ChannelBit(Channel::kSms) | ChannelBit(Channel::kEmail) | ChannelBit(Channel::kVoice) |
                ChannelBit(Channel::kPush),
            kAllChannels);
}

TEST(CodecTest, AppointmentCommandsCarryActionStatusAndVersion) {
  const std::pair<AppointmentAction, wire::AppointmentAction> actions[] = {
      {AppointmentAction::kCancelByPractitioner, wire::AppointmentAction::CancelByPractitioner},
      {AppointmentAction::kCancelByPatient, wire::AppointmentAction::CancelByPatient},
      {AppointmentAction::kToReschedule, wire::AppointmentAction::ToReschedule},
      {AppointmentAction::kConfirm, wire::AppointmentAction::Confirm},
      {AppointmentAction::kArrived, wire::AppointmentAction::Arrived},
      {AppointmentAction::kSetStatus, wire::AppointmentAction::SetStatus},
  };
  const std::pair<VisitStatus, wire::VisitStatus> statuses[] = {
      {VisitStatus::kNone, wire::VisitStatus::None},
      {VisitStatus::kSeen, wire::VisitStatus::Seen},
      {VisitStatus::kWaitingRoom, wire::VisitStatus::WaitingRoom},
      {VisitStatus::kAbsent, wire::VisitStatus::Absent},
      {VisitStatus::kExcused, wire::VisitStatus::Excused},
  };
  std::vector<AppointmentCommand> commands;
  for (size_t i = 0; i < std::size(actions); ++i) {
    AppointmentCommand c;
    c.tenant = 3 + static_cast<uint32_t>(i);
    c.id = "appt-" + std::to_string(i);
    c.action = actions[i].first;
    c.status = statuses[i % std::size(statuses)].first;
    c.version = 100 + i;
    commands.push_back(c);
  }
  AppointmentCommand excused{4, "appt-x", AppointmentAction::kSetStatus, VisitStatus::kExcused, 0};
  commands.push_back(excused);

  FlatBufferBuilder b;
  EncodeAppointmentCommands(b, 14, commands);
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 14u);
  ASSERT_EQ(f->body_type(), wire::Body::AppointmentCommands);
  const auto* items = f->body_as_AppointmentCommands()->items();
  ASSERT_NE(items, nullptr);
  ASSERT_EQ(items->size(), commands.size());
  for (size_t i = 0; i < std::size(actions); ++i) {
    const wire::AppointmentCommand* w = items->Get(static_cast<flatbuffers::uoffset_t>(i));
    EXPECT_EQ(w->tenant(), 3 + i);
    ASSERT_NE(w->id(), nullptr);
    EXPECT_EQ(w->id()->str(), "appt-" + std::to_string(i));
    EXPECT_EQ(w->action(), actions[i].second) << i;
    EXPECT_EQ(w->status(), statuses[i % std::size(statuses)].second) << i;
    EXPECT_EQ(w->version(), 100 + i);
  }
  const wire::AppointmentCommand* last = items->Get(items->size() - 1);
  EXPECT_EQ(last->action(), wire::AppointmentAction::SetStatus);
  EXPECT_EQ(last->status(), wire::VisitStatus::Excused);
  EXPECT_EQ(last->version(), 0u);
}

TEST(CodecTest, CalendarAbsenceCarriesItsWindow) {
  FlatBufferBuilder b;
  EncodeCalendarAbsence(b, 15, 7, "dr-martin", 1'772'434'800'000, 1'772'521'200'000);
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 15u);
  ASSERT_EQ(f->body_type(), wire::Body::CalendarAbsence);
  const wire::CalendarAbsence* a = f->body_as_CalendarAbsence();
  EXPECT_EQ(a->tenant(), 7u);
  ASSERT_NE(a->calendar(), nullptr);
  EXPECT_EQ(a->calendar()->str(), "dr-martin");
  EXPECT_EQ(a->from_ms(), 1'772'434'800'000);
  EXPECT_EQ(a->to_ms(), 1'772'521'200'000);
}

TEST(CodecTest, DelayAlertCarriesTheDelay) {
  FlatBufferBuilder b;
  EncodeDelayAlert(b, 16, 7, "dr-martin", 25 * 60'000);
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 16u);
  ASSERT_EQ(f->body_type(), wire::Body::DelayAlert);
  const wire::DelayAlert* d = f->body_as_DelayAlert();
  EXPECT_EQ(d->tenant(), 7u);
  ASSERT_NE(d->calendar(), nullptr);
  EXPECT_EQ(d->calendar()->str(), "dr-martin");
  EXPECT_EQ(d->delay_ms(), 1'500'000);
}

TEST(CodecTest, PatientReplyCarriesEachKind) {
  const std::pair<PatientReplyKind, wire::PatientReplyKind> kinds[] = {
      {PatientReplyKind::kConfirm, wire::PatientReplyKind::Confirm},
      {PatientReplyKind::kCancel, wire::PatientReplyKind::Cancel},
      {PatientReplyKind::kStop, wire::PatientReplyKind::Stop},
  };
  for (const auto& [kind, expected] : kinds) {
    FlatBufferBuilder b;
    EncodePatientReply(b, 17, 7, "pat-9", kind == PatientReplyKind::kCancel ? "appt-42" : "",
                       kind);
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->request_id(), 17u);
    ASSERT_EQ(f->body_type(), wire::Body::PatientReply);
    const wire::PatientReply* r = f->body_as_PatientReply();
    EXPECT_EQ(r->tenant(), 7u);
    ASSERT_NE(r->patient(), nullptr);
    EXPECT_EQ(r->patient()->str(), "pat-9");
    std::string appointment = r->appointment() != nullptr ? r->appointment()->str() : "";
    EXPECT_EQ(appointment, kind == PatientReplyKind::kCancel ? "appt-42" : "");
    EXPECT_EQ(r->reply(), expected);
  }
}

TEST(CodecTest, TokenRedeemCarriesTheToken) {
  FlatBufferBuilder b;
  EncodeTokenRedeem(b, 18, "v1.abc.def");
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 18u);
  ASSERT_EQ(f->body_type(), wire::Body::TokenRedeem);
  ASSERT_NE(f->body_as_TokenRedeem()->token(), nullptr);
  EXPECT_EQ(f->body_as_TokenRedeem()->token()->str(), "v1.abc.def");
}

TEST(CodecTest, AppointmentShowHasNoHypotheticalUnlessADryRun) {
  {
    FlatBufferBuilder b;
    EncodeAppointmentShow(b, 19, 7, "appt-42", nullptr);
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->request_id(), 19u);
    ASSERT_EQ(f->body_type(), wire::Body::AppointmentShow);
    const wire::AppointmentShow* s = f->body_as_AppointmentShow();
    EXPECT_EQ(s->tenant(), 7u);
    ASSERT_NE(s->id(), nullptr);
    EXPECT_EQ(s->id()->str(), "appt-42");
    EXPECT_EQ(s->hypothetical(), nullptr);
  }
  {
    AppointmentInput a = FullAppointment();
    FlatBufferBuilder b;
    EncodeAppointmentShow(b, 20, a.tenant, a.id, &a);
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->request_id(), 20u);
    ASSERT_EQ(f->body_type(), wire::Body::AppointmentShow);
    const wire::AppointmentShow* s = f->body_as_AppointmentShow();
    EXPECT_EQ(s->tenant(), a.tenant);
    ASSERT_NE(s->id(), nullptr);
    EXPECT_EQ(s->id()->str(), a.id);
    ExpectAppointment(s->hypothetical(), a);
  }
}

// ---- Replies ----

TEST(CodecTest, ObjectReplyGivesTheDocumentOrTheError) {
  {
    FlatBufferBuilder b;
    auto body = wire::CreateObjectReply(b, 0, b.CreateString(R"({"id":"dr-martin"})"));
    protocol::FinishFrame(b, 1, wire::Body::ObjectReply, body.Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    auto json = DecodeJsonReply(f.get());
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_EQ(*json, R"({"id":"dr-martin"})");
  }
  {
    FlatBufferBuilder b;
    auto st = WireStatus(b, wire::ErrorCode::NotFound, "no calendar dr-who");
    protocol::FinishFrame(b, 2, wire::Body::ObjectReply, wire::CreateObjectReply(b, st).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    auto json = DecodeJsonReply(f.get());
    EXPECT_TRUE(absl::IsNotFound(json.status())) << json.status();
    EXPECT_EQ(json.status().message(), "no calendar dr-who");
  }
  {
    FlatBufferBuilder b;
    auto st = WireStatus(b, wire::ErrorCode::InvalidArgument, "unknown time zone Mars/Olympus");
    protocol::FinishFrame(b, 3, wire::Body::ObjectReply, wire::CreateObjectReply(b, st).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeJsonReply(f.get()).status()));
  }
}

TEST(CodecTest, AppointmentShowReplyGivesTheDocumentOrTheError) {
  {
    FlatBufferBuilder b;
    auto ok = WireStatus(b, wire::ErrorCode::Ok, "");
    auto body = wire::CreateAppointmentShowReply(b, ok, b.CreateString(R"({"plan":[]})"));
    protocol::FinishFrame(b, 4, wire::Body::AppointmentShowReply, body.Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    auto json = DecodeJsonReply(f.get());
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_EQ(*json, R"({"plan":[]})");
  }
  {
    FlatBufferBuilder b;
    auto st = WireStatus(b, wire::ErrorCode::PermissionDenied, "admin only");
    protocol::FinishFrame(b, 5, wire::Body::AppointmentShowReply,
                          wire::CreateAppointmentShowReply(b, st).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(absl::IsPermissionDenied(DecodeJsonReply(f.get()).status()));
  }
}

TEST(CodecTest, JsonReplyOfAnotherTypeIsDataLoss) {
  FlatBufferBuilder b;
  protocol::FinishFrame(b, 6, wire::Body::CalendarReply, wire::CreateCalendarReply(b, 0, 3).Union());
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(absl::IsDataLoss(DecodeJsonReply(f.get()).status()));
}

// A reply of three results: one applied, one stale, one for an unknown patient.
template <typename CreateReply>
void BuildResults(FlatBufferBuilder& b, wire::Body type, CreateReply create) {
  std::vector<flatbuffers::Offset<wire::AppointmentResult>> results;
  results.push_back(wire::CreateAppointmentResult(b, 0, wire::UpsertOutcome::Modified, 3, 4));
  results.push_back(wire::CreateAppointmentResult(
      b, WireStatus(b, wire::ErrorCode::FailedPrecondition, "stale: version 2 < 5")));
  results.push_back(wire::CreateAppointmentResult(
      b, WireStatus(b, wire::ErrorCode::NotFound, "no patient pat-0")));
  protocol::FinishFrame(b, 7, type, create(b, b.CreateVector(results)).Union());
}

void ExpectThreeResults(const std::vector<absl::StatusOr<AppointmentResult>>& r) {
  ASSERT_EQ(r.size(), 3u);
  ASSERT_TRUE(r[0].ok()) << r[0].status();
  EXPECT_EQ(r[0]->outcome, UpsertOutcome::kModified);
  EXPECT_EQ(r[0]->revision, 3u);
  EXPECT_EQ(r[0]->planned, 4u);
  EXPECT_TRUE(absl::IsFailedPrecondition(r[1].status())) << r[1].status();
  EXPECT_EQ(r[1].status().message(), "stale: version 2 < 5");
  EXPECT_TRUE(absl::IsNotFound(r[2].status())) << r[2].status();
}

TEST(CodecTest, AppointmentUpsertReplyGivesOneResultPerItem) {
  FlatBufferBuilder b;
  BuildResults(b, wire::Body::AppointmentUpsertReply, [](FlatBufferBuilder& b, auto v) {
    return wire::CreateAppointmentUpsertReply(b, v);
  });
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectThreeResults(DecodeAppointmentResults(f.get()));
}

TEST(CodecTest, AppointmentCommandsReplyGivesOneResultPerItem) {
  FlatBufferBuilder b;
  BuildResults(b, wire::Body::AppointmentCommandsReply, [](FlatBufferBuilder& b, auto v) {
    return wire::CreateAppointmentCommandsReply(b, v);
  });
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectThreeResults(DecodeAppointmentResults(f.get()));
}

TEST(CodecTest, EveryUpsertOutcomeDecodes) {
  const std::pair<wire::UpsertOutcome, UpsertOutcome> outcomes[] = {
      {wire::UpsertOutcome::Created, UpsertOutcome::kCreated},
      {wire::UpsertOutcome::Modified, UpsertOutcome::kModified},
      {wire::UpsertOutcome::Updated, UpsertOutcome::kUpdated},
      {wire::UpsertOutcome::Unchanged, UpsertOutcome::kUnchanged},
  };
  FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<wire::AppointmentResult>> results;
  for (const auto& [w, _] : outcomes) results.push_back(wire::CreateAppointmentResult(b, 0, w, 1, 0));
  protocol::FinishFrame(b, 8, wire::Body::AppointmentUpsertReply,
                        wire::CreateAppointmentUpsertReply(b, b.CreateVector(results)).Union());
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  auto r = DecodeAppointmentResults(f.get());
  ASSERT_EQ(r.size(), std::size(outcomes));
  for (size_t i = 0; i < r.size(); ++i) {
    ASSERT_TRUE(r[i].ok()) << r[i].status();
    EXPECT_EQ(r[i]->outcome, outcomes[i].second) << UpsertOutcomeName(outcomes[i].second);
  }
}

TEST(CodecTest, AppointmentResultsAbsentAreNone) {
  FlatBufferBuilder b;
  protocol::FinishFrame(b, 9, wire::Body::AppointmentUpsertReply,
                        wire::CreateAppointmentUpsertReply(b).Union());
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(DecodeAppointmentResults(f.get()).empty());
}

// The answer to a PatientReply: an AppointmentCommandsReply of `n` results,
// each with `code`.
Verified PatientReplyAnswer(size_t n, wire::ErrorCode code) {
  FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<wire::AppointmentResult>> results;
  for (size_t i = 0; i < n; ++i) {
    auto st = code == wire::ErrorCode::Ok ? 0 : WireStatus(b, code, "refused");
    results.push_back(wire::CreateAppointmentResult(b, st, wire::UpsertOutcome::Updated, 6, 2));
  }
  protocol::FinishFrame(b, 10, wire::Body::AppointmentCommandsReply,
                        wire::CreateAppointmentCommandsReply(b, b.CreateVector(results)).Union());
  return Verified(b);
}

TEST(CodecTest, PatientReplyAnswerIsItsOneResult) {
  Verified one = PatientReplyAnswer(1, wire::ErrorCode::Ok);
  ASSERT_TRUE(one.ok()) << one.status();
  auto r = DecodeSingleAppointmentResult(one.get());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, UpsertOutcome::kUpdated);
  EXPECT_EQ(r->revision, 6u);
  EXPECT_EQ(r->planned, 2u);

  Verified refused = PatientReplyAnswer(1, wire::ErrorCode::NotFound);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(absl::IsNotFound(DecodeSingleAppointmentResult(refused.get()).status()));

  for (size_t n : {0, 2}) {
    Verified wrong = PatientReplyAnswer(n, wire::ErrorCode::Ok);
    ASSERT_TRUE(wrong.ok()) << wrong.status();
    auto st = DecodeSingleAppointmentResult(wrong.get()).status();
    EXPECT_TRUE(absl::IsDataLoss(st)) << n << ": " << st;
  }
}

TEST(CodecTest, CalendarReplyGivesTheCountOrTheError) {
  {
    FlatBufferBuilder b;
    protocol::FinishFrame(b, 11, wire::Body::CalendarReply,
                          wire::CreateCalendarReply(b, 0, 12).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    auto n = DecodeCalendarReply(f.get());
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 12u);
  }
  {
    FlatBufferBuilder b;
    auto st = WireStatus(b, wire::ErrorCode::NotFound, "no calendar dr-who");
    protocol::FinishFrame(b, 12, wire::Body::CalendarReply,
                          wire::CreateCalendarReply(b, st, 0).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(absl::IsNotFound(DecodeCalendarReply(f.get()).status()));
  }
  {
    FlatBufferBuilder b;
    auto st = WireStatus(b, wire::ErrorCode::InvalidArgument, "end before start");
    protocol::FinishFrame(b, 13, wire::Body::CalendarReply,
                          wire::CreateCalendarReply(b, st, 0).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeCalendarReply(f.get()).status()));
  }
}

TEST(CodecTest, TokenRedeemReplyGivesWhatWasDoneOrTheError) {
  {
    FlatBufferBuilder b;
    auto body = wire::CreateTokenRedeemReply(b, 0, 7, b.CreateString("appt-42"),
                                             b.CreateString("confirm"));
    protocol::FinishFrame(b, 14, wire::Body::TokenRedeemReply, body.Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    auto r = DecodeTokenRedeemReply(f.get());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->tenant, 7u);
    EXPECT_EQ(r->appointment, "appt-42");
    EXPECT_EQ(r->action, "confirm");
  }
  const std::pair<wire::ErrorCode, absl::StatusCode> errors[] = {
      {wire::ErrorCode::PermissionDenied, absl::StatusCode::kPermissionDenied},     // forged
      {wire::ErrorCode::FailedPrecondition, absl::StatusCode::kFailedPrecondition},  // expired
  };
  for (const auto& [code, expected] : errors) {
    FlatBufferBuilder b;
    auto st = WireStatus(b, code, "token refused");
    // Fields next to an error are not to be trusted: the error wins.
    auto body = wire::CreateTokenRedeemReply(b, st, 7, b.CreateString("appt-42"));
    protocol::FinishFrame(b, 15, wire::Body::TokenRedeemReply, body.Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    auto r = DecodeTokenRedeemReply(f.get());
    EXPECT_EQ(r.status().code(), expected) << r.status();
    EXPECT_EQ(r.status().message(), "token refused");
  }
}

TEST(CodecTest, RateLimitSetCarriesEveryLimit) {
  FlatBufferBuilder b;
  EncodeRateLimitSet(b, 9,
                     {RateLimit{Channel::kSms, true, 0, 50, 1000, 100},
                      RateLimit{Channel::kVoice, false, 7, 10, 60'000, 0}});
  Verified f(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->request_id(), 9u);
  ASSERT_EQ(f->body_type(), wire::Body::RateLimitSet);
  const auto* limits = f->body_as_RateLimitSet()->limits();
  ASSERT_NE(limits, nullptr);
  ASSERT_EQ(limits->size(), 2u);
  EXPECT_EQ(limits->Get(0)->channel(), wire::Channel::Sms);
  EXPECT_TRUE(limits->Get(0)->all_tenants());
  EXPECT_EQ(limits->Get(0)->count(), 50u);
  EXPECT_EQ(limits->Get(0)->period_ms(), 1000u);
  EXPECT_EQ(limits->Get(0)->burst(), 100u);
  EXPECT_EQ(limits->Get(1)->channel(), wire::Channel::Voice);
  EXPECT_FALSE(limits->Get(1)->all_tenants());
  EXPECT_EQ(limits->Get(1)->tenant(), 7u);
  EXPECT_EQ(limits->Get(1)->period_ms(), 60'000u);
  EXPECT_EQ(limits->Get(1)->burst(), 0u);

  FlatBufferBuilder l;
  EncodeRateList(l, 10, 25);
  Verified g(l);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->body_type(), wire::Body::RateList);
  EXPECT_EQ(g->body_as_RateList()->max_rows(), 25u);
}

TEST(CodecTest, RateRepliesDecode) {
  {
    FlatBufferBuilder b;
    auto st = WireStatus(b, wire::ErrorCode::InvalidArgument, "a rate's period is 1 ms to one day");
    protocol::FinishFrame(b, 1, wire::Body::RateLimitSetReply,
                          wire::CreateRateLimitSetReply(b, st).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeStatusReply(f.get())));
  }
  {
    FlatBufferBuilder b;
    std::vector<flatbuffers::Offset<wire::RateRow>> rows;
    rows.push_back(wire::CreateRateRow(
        b, wire::CreateRateLimit(b, wire::Channel::Sms, 0, true, 50, 1000, 100), 12, 300, 4, 1));
    rows.push_back(wire::CreateRateRow(
        b, wire::CreateRateLimit(b, wire::Channel::Sms, 7, false, 0, 1000, 0), 0, 20, 2, 0));
    rows.push_back(wire::CreateRateRow(b));  // no limit table at all: defaults
    protocol::FinishFrame(b, 2, wire::Body::RateListReply,
                          wire::CreateRateListReply(b, b.CreateVector(rows), true).Union());
    Verified f(b);
    ASSERT_TRUE(f.ok()) << f.status();
    RateList list = DecodeRateListReply(f.get());
    EXPECT_TRUE(list.truncated);
    ASSERT_EQ(list.rows.size(), 3u);
    EXPECT_TRUE(list.rows[0].limit.all_tenants);
    EXPECT_EQ(list.rows[0].limit.count, 50u);
    EXPECT_EQ(list.rows[0].limit.burst, 100u);
    EXPECT_EQ(list.rows[0].tokens, 12u);
    EXPECT_EQ(list.rows[0].waiting, 300u);
    EXPECT_EQ(list.rows[0].late, 4u);
    EXPECT_EQ(list.rows[0].expired, 1u);
    EXPECT_FALSE(list.rows[1].limit.all_tenants);
    EXPECT_EQ(list.rows[1].limit.tenant, 7u);
    EXPECT_EQ(list.rows[1].limit.count, 0u);
    EXPECT_EQ(list.rows[1].waiting, 20u);
    EXPECT_EQ(list.rows[2].waiting, 0u);
  }
}

}  // namespace
}  // namespace rappel::client::codec
