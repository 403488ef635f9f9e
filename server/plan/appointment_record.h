// The appointment record: an appointment as the book holds it (its pending
// plan, the numbers of its records) and its binary encoding in `pa/<seq 8>`.
// It is written on every event (the hot path), so no JSON here.
//
// Format (a format byte, then fields in order; integers are varints since
// format 4, signed ones zigzagged: the record's size is pages written per
// commit, bench/RESULTS.md):
//   format, tenant, id, version, revision, calendar, type, patient,
//   start_ms, end_ms, location, notes, booked_online, booked_at_ms,
//   channels, lifecycle, status, confirmed, arrived, delay_ms,
//   schedule_revision, links_used, scheduled_at_ms (since format 5; before,
//   the schedule revision is the revision, no link is marked used and
//   scheduled_at_ms is booked_at_ms),
//   plan: count, then per message kind, channel, occurrence, due_ms,
//         credits, flags (credits and flags since format 3),
//   audit: count, then the au/ numbers,
//   sent (format 5 on): count, then per message kind, channel, occurrence,
//         at_ms, state, drop class, credits, day (format 6 on; before, the
//         day is unknown: kUnknownDay).
// Formats 2 and 3 had fixed big-endian integers and are still read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/plan/model.h"

namespace rappel::server::plan {

// A pending message of an appointment's plan.
struct PlanRef {
  static constexpr uint8_t kReserved = 1;           // `credits` are held in the ledger's reserved
  static constexpr uint8_t kMovedByQuietHours = 2;  // its due time is the sending hours'

  MessageKind kind;
  Channel channel;
  uint32_t occurrence;
  int64_t due_ms;
  uint32_t credits = 0;     // its cost as planned (metered tenants' SMS and voice)
  uint8_t flags = 0;        // kReserved, kMovedByQuietHours
  uint32_t lease_cost = 0;  // not stored: its cost as rendered for the worker holding it

  bool reserved() const { return (flags & kReserved) != 0; }
  // What it holds in its tenant's ledger's reserved.
  uint32_t held() const { return reserved() ? credits : 0; }
};

// A message of the appointment that left its plan: acked (sent or failed)
// or dropped as it fell due (message_outcome.h). The message list and
// late outcomes read it; kept until the tenant's audit retention, the
// newest kMaxSentPerAppointment of them.
struct SentRef {
  static constexpr int64_t kUnknownDay = INT64_MIN;  // stored before format 6

  MessageKind kind;
  Channel channel;
  uint32_t occurrence;
  int64_t at_ms = 0;        // when its ack (or drop) was submitted
  uint8_t state = 0;        // message_state bits
  uint8_t drop_class = 0;   // DropClass, when dropped
  uint32_t credits = 0;     // spent on it
  // The tenant's local day it is counted in (MessageSummary), as it was
  // when counted: its late outcomes go to the same row whatever the zone
  // is since.
  int64_t day = kUnknownDay;
};

// The tenant's local day `m` is counted in (before format 6, the day of its
// at_ms in the tenant's zone as it is now).
inline int64_t DayOf(const Tenant& t, const SentRef& m) {
  return m.day != SentRef::kUnknownDay ? m.day : LocalDayOf(t, m.at_ms);
}

// Bounds of one appointment's record, so that a record is always small
// enough to rewrite on every ack and to read back (DecodeEntry accepts far
// more, for records written before the bounds): the newest messages and
// audit records are kept, the oldest forgotten (their au/ records deleted).
inline constexpr size_t kMaxSentPerAppointment = 1024;
inline constexpr size_t kMaxAuditPerAppointment = 1024;

// An appointment as the book holds it.
struct BookEntry {
  Appointment appt;
  std::vector<PlanRef> plan;
  uint64_t seq = 0;             // its record: pa/<seq> (perhaps still in flight)
  uint64_t durable_seq = 0;     // its latest durable record (0: none yet)
  uint64_t oldest_seq = 0;      // its oldest record perhaps still stored
  std::vector<uint64_t> audit;  // its audit records: au/<n>, oldest first
  std::vector<SentRef> sent;    // its messages out of the plan, oldest first
};

// The record of `e` (appt, plan and audit numbers; not the seqs).
std::string EncodeEntry(const BookEntry& e);
// The record stored under pa/<seq>. DataLoss for an unknown format or a
// malformed record.
absl::StatusOr<BookEntry> DecodeEntry(uint64_t seq, std::string_view bytes);

}  // namespace rappel::server::plan
