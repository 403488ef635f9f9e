// Encoding of client requests into frames and decoding of the server's
// replies into the public value types (rappel/types.h). Internal to the
// client library: pure functions over FlatBuffers, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/framing.h"
#include "rappel/types.h"

namespace rappel::client::codec {

namespace wire = protocol::wire;
using flatbuffers::FlatBufferBuilder;

// Each Encode* finishes `b` as one frame with `request_id`; the expected
// reply type is what Decode* of the same name reads.
void EncodeHello(FlatBufferBuilder& b, uint64_t id, const Options& options);
void EncodeSchedule(FlatBufferBuilder& b, uint64_t id, const std::vector<Reminder>& reminders);
void EncodeCancel(FlatBufferBuilder& b, uint64_t id, const std::vector<Key>& keys);
void EncodeReschedule(FlatBufferBuilder& b, uint64_t id, const Key& key, int64_t due_ms);
void EncodePing(FlatBufferBuilder& b, uint64_t id);
void EncodeSubscribe(FlatBufferBuilder& b, uint64_t id, const Subscription& s);
void EncodeAck(FlatBufferBuilder& b, uint64_t id, const std::vector<AckItem>& items);
// max_tenants: at most this many in ServerStats::by_tenant (0: the server's default).
void EncodeStats(FlatBufferBuilder& b, uint64_t id, uint32_t max_tenants);
void EncodeCompact(FlatBufferBuilder& b, uint64_t id);
void EncodeInspect(FlatBufferBuilder& b, uint64_t id, const Key& key);
void EncodeKeyList(FlatBufferBuilder& b, uint64_t id, const KeyListQuery& q);
void EncodeDeadLetterList(FlatBufferBuilder& b, uint64_t id, uint32_t tenant, uint32_t limit);
void EncodeDeadLetterReplay(FlatBufferBuilder& b, uint64_t id, const std::vector<Key>& keys);
void EncodeBackup(FlatBufferBuilder& b, uint64_t id, const std::string& dir);
void EncodeRateLimitSet(FlatBufferBuilder& b, uint64_t id, const std::vector<RateLimit>& limits);
// max_rows 0: the server's default.
void EncodeRateList(FlatBufferBuilder& b, uint64_t id, uint32_t max_rows);
// Appointments. `object_id` is empty for a tenant.
void EncodeObjectPut(FlatBufferBuilder& b, uint64_t id, ObjectKind kind, uint32_t tenant,
                     const std::string& object_id, const std::string& json);
void EncodeObjectGet(FlatBufferBuilder& b, uint64_t id, ObjectKind kind, uint32_t tenant,
                     const std::string& object_id);
void EncodeAppointmentUpsert(FlatBufferBuilder& b, uint64_t id,
                             const std::vector<AppointmentInput>& items);
void EncodeAppointmentCommands(FlatBufferBuilder& b, uint64_t id,
                               const std::vector<AppointmentCommand>& items);
void EncodeCalendarAbsence(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                           const std::string& calendar, int64_t from_ms, int64_t to_ms);
void EncodeDelayAlert(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                      const std::string& calendar, int64_t delay_ms);
// `appointment` empty: the patient's next active appointment.
void EncodePatientReply(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                        const std::string& patient, const std::string& appointment,
                        PatientReplyKind kind);
void EncodeTokenRedeem(FlatBufferBuilder& b, uint64_t id, const std::string& token);
// With `hypothetical` (not null): the dry run of that appointment, its
// tenant and id also naming the one shown.
void EncodeAppointmentShow(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                           const std::string& appointment, const AppointmentInput* hypothetical);

// Replies. `f` has been verified and its body type checked by the caller.
std::vector<absl::StatusOr<ScheduleOutcome>> DecodeScheduleReply(const wire::Frame* f);
// Cancel, Ack and DeadLetterReplay replies: one status per item.
std::vector<absl::Status> DecodeItemStatuses(const wire::Frame* f);
// Reschedule, Subscribe, Backup, RateLimitSet, Pong
absl::Status DecodeStatusReply(const wire::Frame* f);
RateList DecodeRateListReply(const wire::Frame* f);
ServerStats DecodeStatsReply(const wire::Frame* f);
absl::StatusOr<CompactResult> DecodeCompactReply(const wire::Frame* f);
absl::StatusOr<ReminderState> DecodeInspectReply(const wire::Frame* f);
absl::StatusOr<KeyPage> DecodeKeyListReply(const wire::Frame* f);
std::vector<DeadLetter> DecodeDeadLetterListReply(const wire::Frame* f);
std::vector<Message> DecodeDelivery(const wire::Frame* f);
// ObjectReply and AppointmentShowReply: the JSON document, or the error.
absl::StatusOr<std::string> DecodeJsonReply(const wire::Frame* f);
void EncodeCredits(FlatBufferBuilder& b, uint64_t id, uint32_t tenant, int64_t add);
void EncodeOutcomeReport(FlatBufferBuilder& b, uint64_t id, const std::vector<OutcomeItem>& items);
// OutcomeReportReply: per item, whether it changed the message, or its error.
std::vector<absl::StatusOr<bool>> DecodeOutcomeReportReply(const wire::Frame* f);
void EncodeMessageSummary(FlatBufferBuilder& b, uint64_t id, uint32_t tenant,
                          const std::string& from_day, const std::string& to_day);
void EncodeMessageList(FlatBufferBuilder& b, uint64_t id, const MessageListQuery& q);
// AppointmentUpsertReply and AppointmentCommandsReply: one result per item.
std::vector<absl::StatusOr<AppointmentResult>> DecodeAppointmentResults(const wire::Frame* f);
// The AppointmentCommandsReply to a PatientReply: its one result (DataLoss
// when the reply does not hold exactly one).
absl::StatusOr<AppointmentResult> DecodeSingleAppointmentResult(const wire::Frame* f);
absl::StatusOr<uint32_t> DecodeCalendarReply(const wire::Frame* f);  // affected
absl::StatusOr<TokenRedeemResult> DecodeTokenRedeemReply(const wire::Frame* f);

}  // namespace rappel::client::codec
