// AsyncClient: the asynchronous rappel client on Asio. One AsyncClient is
// one connection to rappeld, pipelined: every call encodes a request, queues
// it and returns at once; the callback runs on the io_context's thread when
// the answer arrives (replies are matched to requests by request id).
//
//   asio::io_context io;
//   rappel::client::AsyncClient c(io, options);
//   c.Start([&](absl::Status st) { ... });           // connected, or why not
//   c.Schedule(batch, [](auto results) { ... });     // many may be in flight
//   io.run();
//
// Contract:
// - Not thread-safe: call it from the thread that runs `io` (asio::post from
//   elsewhere), or before `io` runs. Callbacks run on that thread, never
//   inside the call that made the request.
// - Every callback runs exactly once: with the answer, with
//   DeadlineExceeded (no answer within Options::timeout), Unavailable (the
//   connection dropped while the request was on the wire: it may or may not
//   have been applied), the server's error, or Cancelled (Close or the
//   destructor).
// - A lost connection is made again with backoff (Options::reconnect);
//   requests made meanwhile wait for it, up to Options::timeout. After each
//   reconnect the client says Hello again and renews its subscription. A bad
//   token or protocol version is final: no reconnect, everything fails with
//   that error.
// - Several endpoints (Options::endpoints, a replicated shard): connecting
//   tries them in turn, at once, until one answers; the reconnect backoff
//   is waited only once every one has failed (and Start's `done` gets an
//   error only then). A standby (its HelloReply says so) is left for the
//   leader it names (Options::follow_leader). A request a standby refuses
//   (Unavailable naming the leader: not applied) is sent again on the
//   leader with its first deadline, after the replies still due on the
//   standby; at most Options::max_redirects leaders are followed in a row
//   before the backoff, so two nodes naming each other cannot make it
//   spin.
// - Destroy it on the io thread or after `io` has stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rappel/types.h"

namespace asio {
class io_context;
}

namespace rappel::client {

class AsyncClient {
 public:
  template <typename T>
  using Callback = std::function<void(absl::StatusOr<T>)>;
  using StatusCallback = std::function<void(absl::Status)>;
  using ScheduleResults = std::vector<absl::StatusOr<ScheduleOutcome>>;
  using ItemStatuses = std::vector<absl::Status>;
  using AppointmentResults = std::vector<absl::StatusOr<AppointmentResult>>;

  AsyncClient(asio::io_context& io, Options options);
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Connects and says Hello. `done` gets the outcome of the first attempt;
  // if it failed and reconnecting is enabled (and the error is not final),
  // the client keeps trying in the background.
  void Start(StatusCallback done);
  // Fails every pending request with Cancelled and closes for good.
  void Close();
  // Called with Ok each time a connection is ready (after Hello and
  // re-subscribe) and with the reason each time one is lost.
  void set_connection_handler(StatusCallback handler);

  bool connected() const;
  // The node of the current (or last) connection, "HOST:PORT", and what its
  // HelloReply said it is (kSingle before any).
  std::string endpoint() const;
  ShardRole shard_role() const;
  // Requests made and not yet answered (queued or on the wire).
  size_t outstanding() const;

  // ---- Producer ----
  // Answers once every accepted reminder is durable; one result per item.
  void Schedule(const std::vector<Reminder>& reminders, Callback<ScheduleResults> done);
  void Cancel(const std::vector<Key>& keys, Callback<ItemStatuses> done);
  void Reschedule(const Key& key, int64_t due_ms, StatusCallback done);
  void Ping(StatusCallback done);

  // ---- Worker ----
  // Takes messages: `on_messages` gets each pushed batch; ack each message
  // by lease id (Ack) before its deadline. The subscription is renewed after
  // every reconnect (leases of the lost connection go to other workers or
  // come back here).
  using DeliveryHandler = std::function<void(std::vector<Message>)>;
  void Subscribe(const Subscription& subscription, DeliveryHandler on_messages,
                 StatusCallback done);
  // Subscribe with a handler that decides each message's outcome; the client
  // acks each pushed batch in one Ack. `on_ack` (optional) sees each Ack's
  // per-item results.
  using MessageHandler = std::function<AckOutcome(const Message&)>;
  void Serve(const Subscription& subscription, MessageHandler handler, StatusCallback done,
             Callback<ItemStatuses> on_ack = nullptr);
  void Ack(const std::vector<AckItem>& items, Callback<ItemStatuses> done);

  // ---- Admin ----
  // `max_tenants`: at most this many in ServerStats::by_tenant (0: the
  // server's default, 20).
  void Stats(Callback<ServerStats> done, uint32_t max_tenants = 0);
  // NotFound when there is no such reminder.
  void Inspect(const Key& key, Callback<ReminderState> done);
  // One page of a tenant's live keys (protocol/README.md "Key listing").
  void ListKeys(const KeyListQuery& query, Callback<KeyPage> done);
  void ListDeadLetters(uint32_t tenant, uint32_t limit, Callback<std::vector<DeadLetter>> done);
  void ReplayDeadLetters(const std::vector<Key>& keys, Callback<ItemStatuses> done);
  // Hot backup into `dir` on the server's machine (must exist, empty).
  // Runs on a thread of its own on the server; FailedPrecondition while
  // another backup is running.
  void Backup(const std::string& dir, StatusCallback done);
  // Forces a compaction pass; answers once the reclaimed space is durable.
  void Compact(Callback<CompactResult> done);
  // Sets (count > 0) or removes (count 0) rate limits, all in one commit;
  // answers once durable. InvalidArgument (nothing set) if any is invalid.
  void SetRateLimits(const std::vector<RateLimit>& limits, StatusCallback done);
  // The limits, tokens, and what waits or was late, per channel and per
  // (tenant, channel). `max_rows` 0: the server's default (1000).
  void Rates(Callback<RateList> done, uint32_t max_rows = 0);

  // ---- Appointments (producer; admin may too) ----
  // Configuration objects as JSON documents (protocol/README.md
  // "Appointments"). `id` is empty for a tenant, "<kind>/<channel>/<locale>"
  // for a template. Both answer with the object as stored (secrets left
  // out); NotFound when there is no such object (or tenant).
  void PutObject(ObjectKind kind, uint32_t tenant, const std::string& id, const std::string& json,
                 Callback<std::string> done);
  void GetObject(ObjectKind kind, uint32_t tenant, const std::string& id,
                 Callback<std::string> done);
  // One result per item, in order: FailedPrecondition for a stale version,
  // NotFound for an unknown tenant, calendar, type or patient,
  // InvalidArgument for a bad item.
  void UpsertAppointments(const std::vector<AppointmentInput>& items,
                          Callback<AppointmentResults> done);
  void AppointmentCommands(const std::vector<AppointmentCommand>& commands,
                           Callback<AppointmentResults> done);
  // Cancels every active appointment of the calendar starting in
  // [from_ms, to_ms), each patient notified; answers how many.
  void PostAbsence(uint32_t tenant, const std::string& calendar, int64_t from_ms, int64_t to_ms,
                   Callback<uint32_t> done);
  // The calendar runs `delay_ms` late: the day's remaining patients are told
  // their new arrival time; answers how many.
  void DelayAlert(uint32_t tenant, const std::string& calendar, int64_t delay_ms,
                  Callback<uint32_t> done);
  // A reply the patient sent; `appointment` empty: their next active one.
  void PatientReply(uint32_t tenant, const std::string& patient, const std::string& appointment,
                    PatientReplyKind kind, Callback<AppointmentResult> done);
  // A self-service token from a message's link. PermissionDenied: forged;
  // FailedPrecondition: expired, already used, or out of its window.
  void RedeemToken(const std::string& token, Callback<TokenRedeemResult> done);
  // Admin: an appointment's state, plan and audit trail as JSON; NotFound
  // when there is no such appointment.
  void ShowAppointment(uint32_t tenant, const std::string& id, Callback<std::string> done);
  // Admin: what upserting `appointment` now would plan, as JSON; nothing is
  // written.
  void DryRun(const AppointmentInput& appointment, Callback<std::string> done);
  // Admin: adds `add` credits to the tenant's balance (0: only reads it);
  // the ledger, what waits, and the forecast, as JSON.
  void Credits(uint32_t tenant, int64_t add, Callback<std::string> done);

  // Outcomes known after the ack (worker, producer or admin of the
  // message's tenant); per item: whether it changed the message, or its
  // error (NotFound, FailedPrecondition, PermissionDenied).
  using OutcomeResults = std::vector<absl::StatusOr<bool>>;
  void ReportOutcomes(const std::vector<OutcomeItem>& items, Callback<OutcomeResults> done);
  // Producer or admin: the tenant's message summary over [from_day,
  // to_day] (local dates; empty: the 30 days to today), as JSON.
  void MessageSummary(uint32_t tenant, const std::string& from_day, const std::string& to_day,
                      Callback<std::string> done);
  // Producer or admin: one page of the tenant's message list, as JSON.
  void MessageList(const MessageListQuery& query, Callback<std::string> done);

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rappel::client
