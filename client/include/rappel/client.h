// The rappel client library: a blocking client for producers (schedule,
// cancel, reschedule) and delivery workers (subscribe, receive, ack).
//
// One BlockingClient is one connection; it is not thread-safe (use one per
// thread). Every call returns a Status: Unavailable when the connection is
// lost (connect again), DeadlineExceeded when the server did not answer
// within Options::timeout, and the server's own error otherwise (see
// protocol/README.md for the codes). Per-item results of batched calls come
// in the order of the items.
//
// It is a facade over AsyncClient (rappel/async_client.h) running its own
// io_context on the calling thread: one request at a time. Use AsyncClient
// to pipeline. With Options::reconnect enabled (the default) a lost
// connection is made again in the background of the next call, and a
// subscription is renewed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rappel/types.h"

namespace rappel::client {

class BlockingClient {
 public:
  // Connects and says Hello. Errors: Unavailable (cannot connect),
  // Unauthenticated (bad token), FailedPrecondition (protocol version).
  static absl::StatusOr<std::unique_ptr<BlockingClient>> Connect(const Options& options);
  ~BlockingClient();

  // Returns once every accepted reminder is durable on the server.
  absl::StatusOr<std::vector<absl::StatusOr<ScheduleOutcome>>> Schedule(
      const std::vector<Reminder>& reminders);
  absl::StatusOr<std::vector<absl::Status>> Cancel(const std::vector<Key>& keys);
  absl::Status Reschedule(const Key& key, int64_t due_ms);
  absl::Status Ping();
  // The node connected to ("HOST:PORT") and its part in its shard (see
  // AsyncClient::endpoint).
  std::string endpoint() const;
  ShardRole shard_role() const;

  // Worker side. After Subscribe, the server pushes messages; Receive
  // returns those that arrived, waiting up to `wait` for at least one (an
  // empty vector when none came).
  absl::Status Subscribe(const std::vector<Channel>& channels, uint32_t max_in_flight,
                         uint32_t batch_size);
  absl::StatusOr<std::vector<Message>> Receive(std::chrono::milliseconds wait);
  absl::StatusOr<std::vector<absl::Status>> Ack(const std::vector<AckItem>& items);

  // Admin side. NotFound from Inspect when there is no such reminder.
  // `max_tenants`: at most this many in ServerStats::by_tenant (0: the
  // server's default, 20).
  absl::StatusOr<ServerStats> Stats(uint32_t max_tenants = 0);
  absl::StatusOr<ReminderState> Inspect(const Key& key);
  // One page of a tenant's live keys (protocol/README.md "Key listing").
  absl::StatusOr<KeyPage> ListKeys(const KeyListQuery& query);
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(uint32_t tenant, uint32_t limit);
  absl::StatusOr<std::vector<absl::Status>> ReplayDeadLetters(const std::vector<Key>& keys);
  // Hot backup into `dir` on the server's machine (must exist, empty).
  // Runs on a thread of its own on the server; FailedPrecondition while
  // another backup is running.
  absl::Status Backup(const std::string& dir);
  // Forces a compaction pass; returns once the reclaimed space is durable.
  absl::StatusOr<CompactResult> Compact();
  // Rate limits: set (count > 0) or removed (count 0) in one commit, and
  // the view of them (see rappel/async_client.h).
  absl::Status SetRateLimits(const std::vector<RateLimit>& limits);
  absl::StatusOr<RateList> Rates(uint32_t max_rows = 0);

  // Appointments (producer; admin may too). See rappel/async_client.h for
  // the meaning of each; per-item results come in the order of the items.
  absl::StatusOr<std::string> PutObject(ObjectKind kind, uint32_t tenant, const std::string& id,
                                        const std::string& json);
  absl::StatusOr<std::string> GetObject(ObjectKind kind, uint32_t tenant, const std::string& id);
  absl::StatusOr<std::vector<absl::StatusOr<AppointmentResult>>> UpsertAppointments(
      const std::vector<AppointmentInput>& items);
  absl::StatusOr<std::vector<absl::StatusOr<AppointmentResult>>> AppointmentCommands(
      const std::vector<AppointmentCommand>& commands);
  absl::StatusOr<uint32_t> PostAbsence(uint32_t tenant, const std::string& calendar,
                                       int64_t from_ms, int64_t to_ms);
  absl::StatusOr<uint32_t> DelayAlert(uint32_t tenant, const std::string& calendar,
                                      int64_t delay_ms);
  absl::StatusOr<AppointmentResult> PatientReply(uint32_t tenant, const std::string& patient,
                                                 const std::string& appointment,
                                                 PatientReplyKind kind);
  absl::StatusOr<TokenRedeemResult> RedeemToken(const std::string& token);
  // Admin.
  absl::StatusOr<std::string> ShowAppointment(uint32_t tenant, const std::string& id);
  absl::StatusOr<std::string> DryRun(const AppointmentInput& appointment);
  absl::StatusOr<std::string> Credits(uint32_t tenant, int64_t add = 0);
  // Outcomes after the ack, message summary and list (AsyncClient's).
  absl::StatusOr<std::vector<absl::StatusOr<bool>>> ReportOutcomes(
      const std::vector<OutcomeItem>& items);
  absl::StatusOr<std::string> MessageSummary(uint32_t tenant, const std::string& from_day = "",
                                             const std::string& to_day = "");
  absl::StatusOr<std::string> MessageList(const MessageListQuery& query);

  // The platform's calls (one appointment each), over the batched ones
  // above: the item's own error is returned as the call's.
  absl::StatusOr<AppointmentResult> UpsertAppointment(const AppointmentInput& appointment);
  // kPractitioner: AppointmentAction::kCancelByPractitioner; kPatient:
  // kCancelByPatient. No version check.
  absl::StatusOr<AppointmentResult> CancelAppointment(uint32_t tenant, const std::string& id,
                                                      CancelledBy by);
  // VisitStatus::kNone clears the status. No version check.
  absl::StatusOr<AppointmentResult> SetStatus(uint32_t tenant, const std::string& id,
                                              VisitStatus status);

 private:
  struct Impl;
  explicit BlockingClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rappel::client
