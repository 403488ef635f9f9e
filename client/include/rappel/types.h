// The value types of the rappel client library, shared by the asynchronous
// client (rappel/async_client.h) and its blocking facade (rappel/client.h).
// They mirror protocol/rappel.fbs; see protocol/README.md for meanings.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rappel::client {

enum class Channel : uint8_t { kSms = 1, kEmail = 2, kVoice = 3, kPush = 4 };

// "sms", "email", "voice", "push" ("unknown" for any other value).
inline const char* ChannelName(Channel c) {
  switch (c) {
    case Channel::kSms: return "sms";
    case Channel::kEmail: return "email";
    case Channel::kVoice: return "voice";
    case Channel::kPush: return "push";
  }
  return "unknown";
}

struct Reminder {
  uint32_t tenant = 0;
  std::string key;          // unique within the tenant
  Channel channel = Channel::kSms;
  std::string recipient;
  int64_t due_ms = 0;       // unix milliseconds
  int64_t expiry_ms = 0;    // 0: never expires
  std::string payload;
};

struct Key {
  uint32_t tenant = 0;
  std::string key;
};

enum class ScheduleOutcome { kCreated, kReplaced, kUnchanged };

// A message leased to this worker: ack it by lease_id before the deadline.
struct Message {
  std::string message_id;   // the same across retries and redeliveries
  uint64_t lease_id = 0;
  uint32_t attempt = 1;
  int64_t lease_deadline_ms = 0;
  Reminder reminder;
  bool track_opens = false;  // its template asks for open tracking (report it: ReportOutcomes)
};

enum class AckOutcome { kSent, kDelivered, kOpened, kFailedRetryable, kFailedPermanent };

// What a worker takes: messages of these channels, at most max_in_flight
// leased to it at once, at most batch_size per pushed batch.
struct Subscription {
  std::vector<Channel> channels;
  uint32_t max_in_flight = 256;
  uint32_t batch_size = 64;
};

struct AckItem {
  uint64_t lease_id = 0;
  AckOutcome outcome = AckOutcome::kSent;
  std::string detail;
};

// A node's part in a replicated shard (protocol/README.md "Replication").
enum class ShardRole { kSingle = 0, kLeader = 1, kStandby = 2 };

// ServerStats::replication: the node's role and durable position.
struct ReplicationState {
  ShardRole role = ShardRole::kSingle;
  std::string leader;      // a standby's leader's client address; empty: unknown
  uint64_t term = 0;       // durable position: a primary's last commit,
  uint64_t index = 0;      // a standby's last group made durable
  int64_t commit_ms = 0;   // a standby: the primary's commit time of that group
  bool streaming = false;  // a standby: receiving the primary's stream
  std::string last_error;  // a standby: why its last stream ended
  struct Standby {
    std::string node;
    uint64_t term = 0;  // its acked durable position
    uint64_t index = 0;
  };
  std::vector<Standby> standbys;  // a primary: the standbys streaming from it
};

// Admin views (role admin).
struct ServerStats {
  uint64_t pending = 0;       // waiting in the wheel or for a worker
  uint64_t leased = 0;        // handed to workers, not yet acked
  uint64_t dead_letters = 0;
  uint64_t log_records = 0;
  uint64_t store_used_bytes = 0;
  uint64_t commits = 0;
  uint64_t ready_by_channel[5] = {};  // indexed by Channel: due, waiting for a worker
  std::string fatal_error;    // non-empty: the server refuses writes

  // Operator views. "Live" = scheduled and not yet completed, cancelled or
  // dead-lettered: pending plus leased.
  struct TenantCount {
    uint32_t tenant = 0;
    uint64_t live = 0;
    uint64_t dead_letters = 0;
  };
  uint64_t live_by_channel[5] = {};  // indexed by Channel
  std::vector<TenantCount> by_tenant;  // largest first, at most the max_tenants asked
  uint64_t tenants = 0;              // tenants with a live reminder
  uint64_t due_next_hour = 0;        // counted by whole minutes
  uint64_t due_next_day = 0;
  uint64_t live_records = 0;         // log records that are live (the rest is garbage)
  uint64_t live_bytes = 0;
  uint64_t log_bytes = 0;
  uint64_t store_map_bytes = 0;
  uint64_t records_appended = 0;     // since the server started, over `commits`
  uint64_t batches_committed = 0;
  uint64_t max_records_per_commit = 0;
  uint64_t max_batches_per_commit = 0;
  uint64_t retrying = 0;             // reminders with a durable failure count
  uint64_t dead_letters_dropped = 0;
  uint64_t compaction_steps = 0;
  // Rate limits (see RateState for the detail).
  uint64_t rate_waiting = 0;                 // due, waiting for a token (also in pending)
  uint64_t rate_waiting_by_channel[5] = {};  // indexed by Channel
  uint64_t rate_late = 0;     // reported unable to make their deadline, since the server started
  uint64_t rate_expired = 0;  // of those, dropped: expired while waiting
  // The node's part in its shard. A standby answers Stats with this only
  // (every counter above 0: it has no engine).
  ReplicationState replication;
};

// ---- Rate limits (protocol/README.md "Rate limits") ----

// One sending limit, a token bucket: `count` messages per `period_ms`, at
// most `burst` at once. A channel overall (all_tenants: the provider's
// limit, shared by every tenant) or one tenant on one channel (on top of
// the channel's). "sms: 50/s burst 100" is
// RateLimit{Channel::kSms, true, 0, 50, 1000, 100}.
struct RateLimit {
  Channel channel = Channel::kSms;
  bool all_tenants = false;
  uint32_t tenant = 0;        // when !all_tenants
  uint32_t count = 0;         // messages per period; 0: no limit (SetRateLimits removes it)
  uint32_t period_ms = 1000;  // 1 ms to one day
  uint32_t burst = 0;         // 0: count
};

// A row of the rates view: a channel overall or one tenant on one channel.
struct RateState {
  RateLimit limit;       // channel, all_tenants, tenant name the row; count 0: no limit of its own
  uint64_t tokens = 0;   // whole tokens in its bucket now
  uint64_t waiting = 0;  // due, waiting for a token
  uint64_t late = 0;     // reported unable to make their deadline
  uint64_t expired = 0;  // of those, dropped: expired while waiting
};

struct RateList {
  std::vector<RateState> rows;  // by channel; the channel overall first, then tenants
  bool truncated = false;       // more than max_rows
};

// What a forced compaction did (Compact).
struct CompactResult {
  uint64_t log_records_before = 0;
  uint64_t log_bytes_before = 0;
  uint64_t log_records_after = 0;
  uint64_t log_bytes_after = 0;
  uint64_t live_records = 0;
  uint64_t relocated = 0;
  uint64_t store_used_bytes = 0;
};

struct ReminderState {
  Reminder reminder;
  uint64_t version = 0;
  bool leased = false;
};

// One page of a tenant's live reminder keys (KeyList), in byte order.
struct KeyListQuery {
  uint32_t tenant = 0;
  std::string prefix;  // empty: every key
  std::string after;   // the previous page's next_cursor; empty: the first page
  uint32_t limit = 0;  // 0: 100; at most 1000
};
struct KeyPage {
  std::vector<std::string> keys;
  std::string next_cursor;  // empty on the last page
};

struct DeadLetter {
  Reminder reminder;
  uint32_t attempts = 0;
  std::string last_detail;
  int64_t dead_at_ms = 0;
};

// ---- Appointments (protocol/README.md "Appointments") ----

// Bit (1 << channel) of a channel in AppointmentInput::channels.
inline constexpr uint8_t ChannelBit(Channel c) { return static_cast<uint8_t>(1u << static_cast<int>(c)); }
// Every channel: sms, email, voice and push (the protocol's default).
inline constexpr uint8_t kAllChannels = 30;

// A configuration object, sent and returned as a JSON document.
enum class ObjectKind : uint8_t {
  kTenant = 1,           // id: empty; the object is the tenant itself
  kCalendar = 2,
  kAppointmentType = 3,
  kPatient = 4,
  kTemplate = 5,         // id: "<kind>/<channel>/<locale>", e.g. "reminder/sms/fr"
};

// "tenant", "calendar", "type", "patient", "template" ("unknown" otherwise).
inline const char* ObjectKindName(ObjectKind k) {
  switch (k) {
    case ObjectKind::kTenant: return "tenant";
    case ObjectKind::kCalendar: return "calendar";
    case ObjectKind::kAppointmentType: return "type";
    case ObjectKind::kPatient: return "patient";
    case ObjectKind::kTemplate: return "template";
  }
  return "unknown";
}

// An appointment as the platform knows it. Upserting it creates it or
// applies a change; a version older than the one held is refused with
// FailedPrecondition, the same version is a no-op.
struct AppointmentInput {
  uint32_t tenant = 0;
  std::string id;
  std::string calendar;
  std::string type;         // the appointment type's id
  std::string patient;
  int64_t start_ms = 0;     // unix milliseconds
  int64_t end_ms = 0;
  std::string location;
  std::string notes;
  bool booked_online = false;
  int64_t booked_at_ms = 0;  // 0: when rappel first hears of it
  uint8_t channels = kAllChannels;  // ChannelBit of each channel allowed
  uint64_t version = 0;
};

enum class UpsertOutcome : uint8_t {
  kCreated,
  kModified,    // time, date, calendar, type or location changed: the patient is told
  kUpdated,     // other fields changed: re-planned, no change notice
  kUnchanged,   // the same version again: nothing done
};

// "created", "modified", "updated", "unchanged" ("unknown" otherwise).
inline const char* UpsertOutcomeName(UpsertOutcome o) {
  switch (o) {
    case UpsertOutcome::kCreated: return "created";
    case UpsertOutcome::kModified: return "modified";
    case UpsertOutcome::kUpdated: return "updated";
    case UpsertOutcome::kUnchanged: return "unchanged";
  }
  return "unknown";
}

// The result of one upserted appointment or one command on it.
struct AppointmentResult {
  UpsertOutcome outcome = UpsertOutcome::kCreated;
  uint32_t revision = 0;    // rappel's revision of the appointment after it
  uint32_t planned = 0;     // messages pending in its plan
};

enum class AppointmentAction : uint8_t {
  kCancelByPractitioner = 0,
  kCancelByPatient = 1,
  kToReschedule = 2,        // cancelled, the patient is asked to rebook
  kConfirm = 3,             // confirmed by the patient
  kArrived = 4,             // the patient says they have arrived
  kSetStatus = 5,           // AppointmentCommand::status (kNone clears it)
  kSendNow = 6,             // AppointmentCommand::kind, now, with the appointment as it is
};

enum class VisitStatus : uint8_t { kNone, kSeen, kWaitingRoom, kAbsent, kExcused };

struct AppointmentCommand {
  uint32_t tenant = 0;
  std::string id;
  AppointmentAction action = AppointmentAction::kCancelByPractitioner;
  VisitStatus status = VisitStatus::kNone;  // for kSetStatus
  uint64_t version = 0;     // 0: no version check; else refused if older than held
  // kSendNow: the message kind ("confirmation", "change", "cancellation",
  // "patient_cancel_ack", "confirm_ack", "reminder", "pre_visit",
  // "second_reminder", "post_visit", "recall", "practitioner", "delay_alert").
  std::string kind{};
};

// Who cancels, for BlockingClient::CancelAppointment.
enum class CancelledBy : uint8_t { kPractitioner, kPatient };

// A patient's reply (by SMS, e-mail): confirm, cancel, or stop all messages.
enum class PatientReplyKind : uint8_t { kConfirm, kCancel, kStop, kStart };

// What a redeemed self-service token did.
struct TokenRedeemResult {
  uint32_t tenant = 0;
  std::string appointment;
  std::string action;       // "confirm", "cancel", "arrival"
};

// How a client retries a lost connection: waits `initial`, doubling up to
// `max`, then says Hello again and re-subscribes. Requests that were on the
// wire when the connection dropped fail with Unavailable (they may or may
// not have been applied; schedule, cancel and ack are safe to repeat);
// requests made while disconnected wait for the new connection, up to
// Options::timeout.
struct ReconnectPolicy {
  bool enabled = true;
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5'000};
};

// TLS to rappeld (its port speaks TLS from the first byte when configured
// with a certificate; protocol/README.md "TLS"). TLS 1.2 at least.
struct TlsOptions {
  bool enabled = false;
  // PEM CA certificates the server's certificate must verify against;
  // empty: the system's trust store (/etc/ssl/certs).
  std::string ca_file;
  // PEM certificate chain and key of this client, for a server that asks
  // for one (mutual TLS); both or neither.
  std::string cert_file;
  std::string key_file;
  // The name (or IP address) the server's certificate must carry, also sent
  // as SNI when a name; empty: the host of the endpoint connected to.
  std::string server_name;
  // false: accept any certificate (tests and debugging only: anybody on the
  // path could then read and change the traffic).
  bool verify = true;
};

// An outcome known after the ack (protocol/README.md "Message outcomes").
enum class LateOutcome { kDelivered, kOpened, kClicked, kFailed };
struct OutcomeItem {
  std::string message_id;  // Message::message_id
  LateOutcome outcome = LateOutcome::kDelivered;
  std::string detail;      // the provider's answer (a bounce's reason)
};

// A tenant's message list: each filter left empty matches every message.
struct MessageListQuery {
  uint32_t tenant = 0;
  std::string day;          // local date YYYY-MM-DD
  std::string patient;
  std::string appointment;
  uint8_t channel = 0;      // a Channel; 0: every channel
  std::string kind;         // "reminder", ...
  std::string status;       // sent, delivered, opened, clicked, failed, dropped
  uint32_t limit = 0;       // 0: 50
  std::string cursor;       // the previous page's next_cursor
};

// One rappeld node's client address.
struct Endpoint {
  std::string host;
  uint16_t port = 7411;
};

// "HOST[:PORT],HOST[:PORT],..." (an IPv6 address in brackets: "[::1]:7411";
// a missing port is `default_port`). InvalidArgument naming the bad entry;
// an empty list is one too.
absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(std::string_view list,
                                                     uint16_t default_port = 7411);

// What a client does on reaching a node of a replicated shard that does not
// lead it (a standby: its HelloReply says so and names the leader; it
// refuses writes with Unavailable naming the leader, and nothing refused
// was applied).
enum class FollowLeader {
  // Go to the leader at Hello, and on a refusal (the refused requests are
  // sent again there, once, with their deadline).
  kAlways,
  // Stay on a standby for what it answers (Ping, Stats); on a refusal go to
  // the leader as kAlways does (rappelctl: status of the node asked,
  // writes to the leader).
  kOnRefusal,
  // Never: a refusal is the request's Unavailable.
  kNever,
};

struct Options {
  // One node; ignored when `endpoints` is set.
  std::string host = "127.0.0.1";
  uint16_t port = 7411;
  // The nodes of a replicated shard: the client connects to the first that
  // answers, trying the others in turn (round robin, without waiting)
  // before each reconnect backoff; empty: {host, port}.
  std::vector<Endpoint> endpoints;
  FollowLeader follow_leader = FollowLeader::kAlways;
  // Leaders followed in a row without reaching one that leads (two nodes
  // naming each other during a failover) before the client waits its
  // reconnect backoff and starts over from the endpoints.
  int max_redirects = 4;
  TlsOptions tls;  // off: plain TCP
  std::string token;  // empty: the server's loopback default
  std::string client_name = "rappel-client";
  // A request not answered within this fails with DeadlineExceeded (and the
  // connection, now out of step, is dropped and made again).
  std::chrono::milliseconds timeout{10'000};
  ReconnectPolicy reconnect;
};

}  // namespace rappel::client
