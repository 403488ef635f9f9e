// One valid frame of every request type, with every text field of the
// schema set to a non-empty value, as a client would send it against the
// sample clinic of tests (tenant 1). The UTF-8 tests corrupt each text field
// of these in turn, and the request-handler fuzzer uses them as its seeds;
// the tests check that every request the router hands to a family has a
// sample here and that each sample fills every text field the schema has.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/framing.h"

namespace rappel::testing {

struct RequestSample {
  protocol::wire::Body type;
  std::vector<uint8_t> frame;  // length prefix included, verified
};

namespace request_samples_detail {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
namespace wire = protocol::wire;

template <typename Build>
RequestSample Make(uint64_t id, wire::Body type, Build build) {
  FlatBufferBuilder b;
  Offset<void> body = build(b);
  protocol::FinishFrame(b, id, type, body);
  return {type, std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize())};
}

inline Offset<wire::ReminderKey> Key(FlatBufferBuilder& b, const std::string& key) {
  return wire::CreateReminderKey(b, 1, b.CreateString(key));
}

inline Offset<wire::Appointment> Appointment(FlatBufferBuilder& b, const std::string& id,
                                             int64_t start_ms) {
  return wire::CreateAppointment(b, 1, b.CreateString(id), b.CreateString("dr-martin"),
                                 b.CreateString("consult"), b.CreateString("p1"), start_ms,
                                 start_ms + 30 * 60'000, b.CreateString("Salle 2"),
                                 b.CreateString("à jeun"), false, 0, 30, 1);
}

}  // namespace request_samples_detail

// `now_ms`: the clock the samples' due times and appointments are set from.
inline std::vector<RequestSample> RequestSamples(int64_t now_ms) {
  using namespace request_samples_detail;
  using B = FlatBufferBuilder;
  const int64_t day = 24 * 3600 * 1000LL;
  std::vector<RequestSample> out;
  out.push_back(Make(1, wire::Body::Hello, [](B& b) {
    return wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString("secret"),
                             b.CreateString("sample-client")).Union();
  }));
  out.push_back(Make(2, wire::Body::Schedule, [&](B& b) {
    std::vector<uint8_t> payload = {'h', 'i'};
    std::vector<Offset<wire::Reminder>> rs;
    for (int i = 0; i < 2; ++i) {
      rs.push_back(wire::CreateReminder(b, 1, b.CreateString("r-" + std::to_string(i)),
                                        wire::Channel::Sms, b.CreateString("+33612345678"),
                                        now_ms + day + i, 0, b.CreateVector(payload)));
    }
    return wire::CreateSchedule(b, b.CreateVector(rs)).Union();
  }));
  out.push_back(Make(3, wire::Body::Cancel, [](B& b) {
    std::vector<Offset<wire::ReminderKey>> ks = {Key(b, "r-0"), Key(b, "r-1")};
    return wire::CreateCancel(b, b.CreateVector(ks)).Union();
  }));
  out.push_back(Make(4, wire::Body::Reschedule, [&](B& b) {
    return wire::CreateReschedule(b, Key(b, "r-0"), now_ms + 2 * day).Union();
  }));
  out.push_back(Make(5, wire::Body::Subscribe, [](B& b) {
    std::vector<wire::Channel> cs = {wire::Channel::Sms, wire::Channel::Email};
    return wire::CreateSubscribe(b, b.CreateVector(cs), 10, 5).Union();
  }));
  out.push_back(Make(6, wire::Body::Ack, [](B& b) {
    std::vector<Offset<wire::AckItem>> is = {wire::CreateAckItem(
        b, 1, wire::AckOutcome::FailedRetryable, b.CreateString("503 from provider"))};
    return wire::CreateAck(b, b.CreateVector(is)).Union();
  }));
  out.push_back(Make(7, wire::Body::Stats, [](B& b) { return wire::CreateStats(b, 5).Union(); }));
  out.push_back(Make(8, wire::Body::Inspect, [](B& b) {
    return wire::CreateInspect(b, Key(b, "r-1")).Union();
  }));
  out.push_back(Make(9, wire::Body::DeadLetterList, [](B& b) {
    return wire::CreateDeadLetterList(b, 1, 10).Union();
  }));
  out.push_back(Make(10, wire::Body::DeadLetterReplay, [](B& b) {
    std::vector<Offset<wire::ReminderKey>> ks = {Key(b, "r-0")};
    return wire::CreateDeadLetterReplay(b, b.CreateVector(ks)).Union();
  }));
  out.push_back(Make(11, wire::Body::Backup, [](B& b) {
    return wire::CreateBackup(b, b.CreateString("/nonexistent/rappel-backup")).Union();
  }));
  out.push_back(Make(12, wire::Body::Ping, [](B& b) { return wire::CreatePing(b).Union(); }));
  out.push_back(Make(13, wire::Body::Compact, [](B& b) { return wire::CreateCompact(b).Union(); }));
  out.push_back(Make(14, wire::Body::ObjectPut, [](B& b) {
    return wire::CreateObjectPut(b, wire::ObjectKind::Patient, 1, b.CreateString("p2"),
                                 b.CreateString(R"({"first_name": "Zoé", "mobile": "+33611111111"})"))
        .Union();
  }));
  out.push_back(Make(15, wire::Body::ObjectGet, [](B& b) {
    return wire::CreateObjectGet(b, wire::ObjectKind::Patient, 1, b.CreateString("p1")).Union();
  }));
  out.push_back(Make(16, wire::Body::AppointmentUpsert, [&](B& b) {
    std::vector<Offset<wire::Appointment>> as = {Appointment(b, "a-1", now_ms + 3 * day)};
    return wire::CreateAppointmentUpsert(b, b.CreateVector(as)).Union();
  }));
  out.push_back(Make(17, wire::Body::AppointmentCommands, [](B& b) {
    std::vector<Offset<wire::AppointmentCommand>> cs = {
        wire::CreateAppointmentCommand(b, 1, b.CreateString("a-1"),
                                       wire::AppointmentAction::Confirm),
        wire::CreateAppointmentCommand(b, 1, b.CreateString("a-1"),
                                       wire::AppointmentAction::SendNow, wire::VisitStatus::None,
                                       0, b.CreateString("reminder"))};
    return wire::CreateAppointmentCommands(b, b.CreateVector(cs)).Union();
  }));
  out.push_back(Make(18, wire::Body::CalendarAbsence, [&](B& b) {
    return wire::CreateCalendarAbsence(b, 1, b.CreateString("dr-martin"), now_ms + 10 * day,
                                       now_ms + 11 * day).Union();
  }));
  out.push_back(Make(19, wire::Body::DelayAlert, [](B& b) {
    return wire::CreateDelayAlert(b, 1, b.CreateString("dr-martin"), 15 * 60'000).Union();
  }));
  out.push_back(Make(20, wire::Body::PatientReply, [](B& b) {
    return wire::CreatePatientReply(b, 1, b.CreateString("p1"), b.CreateString("a-1"),
                                    wire::PatientReplyKind::Confirm).Union();
  }));
  out.push_back(Make(21, wire::Body::TokenRedeem, [](B& b) {
    return wire::CreateTokenRedeem(b, b.CreateString("not-a-token")).Union();
  }));
  out.push_back(Make(22, wire::Body::AppointmentShow, [&](B& b) {
    return wire::CreateAppointmentShow(b, 1, b.CreateString("a-1"),
                                       Appointment(b, "a-2", now_ms + 4 * day)).Union();
  }));
  out.push_back(Make(23, wire::Body::Credits, [](B& b) { return wire::CreateCredits(b, 1, 0).Union(); }));
  out.push_back(Make(24, wire::Body::RateLimitSet, [](B& b) {
    std::vector<Offset<wire::RateLimit>> ls = {
        wire::CreateRateLimit(b, wire::Channel::Sms, 0, true, 100, 1000, 200)};
    return wire::CreateRateLimitSet(b, b.CreateVector(ls)).Union();
  }));
  out.push_back(Make(25, wire::Body::RateList, [](B& b) { return wire::CreateRateList(b).Union(); }));
  // Message outcomes, summary and list.
  out.push_back(Make(61, wire::Body::OutcomeReport, [](B& b) {
    std::vector<Offset<wire::OutcomeItem>> is = {wire::CreateOutcomeItem(
        b, b.CreateString("1:@a/demo-1/confirmation/email/0"), wire::LateOutcome::Failed,
        b.CreateString("550 5.1.1 mailbox unknown"))};
    return wire::CreateOutcomeReport(b, b.CreateVector(is)).Union();
  }));
  out.push_back(Make(62, wire::Body::MessageSummary, [](B& b) {
    return wire::CreateMessageSummary(b, 1, b.CreateString("2026-06-01"), b.CreateString("2026-06-30"))
        .Union();
  }));
  out.push_back(Make(63, wire::Body::MessageList, [](B& b) {
    return wire::CreateMessageList(b, 1, b.CreateString("2026-06-01"), b.CreateString("p-1001"),
                                   b.CreateString("demo-1"), wire::Channel::Sms,
                                   b.CreateString("reminder"), b.CreateString("delivered"), 20,
                                   b.CreateString("1780300000000:1:@a/demo-1/reminder/sms/0"))
        .Union();
  }));
  out.push_back(Make(64, wire::Body::KeyList, [](B& b) {
    return wire::CreateKeyList(b, 1, b.CreateString("r-"), b.CreateString("r-0"), 10).Union();
  }));
  return out;
}

}  // namespace rappel::testing
