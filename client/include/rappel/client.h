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
// Not yet here (issue 3): the asynchronous, pipelined API on Asio, and
// automatic reconnection with re-subscription.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rappel::client {

enum class Channel : uint8_t { kSms = 1, kEmail = 2, kVoice = 3, kPush = 4 };

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
};

enum class AckOutcome { kSent, kDelivered, kOpened, kFailedRetryable, kFailedPermanent };

struct AckItem {
  uint64_t lease_id = 0;
  AckOutcome outcome = AckOutcome::kSent;
  std::string detail;
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
};

// What a forced compaction did (BlockingClient::Compact).
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

struct DeadLetter {
  Reminder reminder;
  uint32_t attempts = 0;
  std::string last_detail;
  int64_t dead_at_ms = 0;
};

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 7411;
  std::string token;  // empty: the server's loopback default
  std::string client_name = "rappel-client";
  std::chrono::milliseconds timeout{10'000};
};

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
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(uint32_t tenant, uint32_t limit);
  absl::StatusOr<std::vector<absl::Status>> ReplayDeadLetters(const std::vector<Key>& keys);
  // Hot backup into `dir` on the server's machine (must exist, empty).
  // Runs on a thread of its own on the server; FailedPrecondition while
  // another backup is running.
  absl::Status Backup(const std::string& dir);
  // Forces a compaction pass; returns once the reclaimed space is durable.
  absl::StatusOr<CompactResult> Compact();

 private:
  struct Impl;
  explicit BlockingClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rappel::client
