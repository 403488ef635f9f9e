// MessageViews: a tenant's message summary (counts by local day, channel
// and kind over a period) and its message list (each message that left a
// plan: sent, failed or dropped, with its latest outcome), as JSON
// documents (fields in protocol/README.md, "Message summary and list").
// Reads only.
//
// The list walks the tenant's own appointments held in memory (one
// patient's or one appointment's when the query names them), never another
// tenant's, and keeps the first `limit` + 1 after the cursor in a heap: a
// page costs a look at every message the tenant's appointments hold
// (O(messages of the tenant) time, O(limit) memory; message ids are built
// for the page's messages only). It runs on the io thread: for an
// operator's or a clinic's screen, not a hot path.
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/engine/engine.h"
#include "server/plan/appointment_log.h"
#include "server/plan/message_summary.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {

struct SummaryQuery {
  uint32_t tenant = 0;
  std::string from_day;  // local date YYYY-MM-DD; empty: 30 days before `to_day`
  std::string to_day;    // inclusive; empty: today (tenant's local day)
};

struct MessageListQuery {
  uint32_t tenant = 0;
  std::string day;          // local date YYYY-MM-DD the message was acked or dropped
  std::string patient;      // each filter: empty matches every message
  std::string appointment;
  std::string channel;      // "sms", "email", ...
  std::string kind;         // "reminder", ...
  std::string status;       // "sent", "delivered", "opened", "clicked", "failed", "dropped"
  uint32_t limit = 0;       // 0: 50; at most 1 000
  std::string cursor;       // from the previous page's next_cursor; empty: the newest
};

class MessageViews {
 public:
  // Each must outlive the views.
  MessageViews(Engine& engine, const ObjectRegistry& registry, const AppointmentLog& log,
               const MessageSummary& summary)
      : engine_(engine), registry_(registry), log_(log), summary_(summary) {}

  // NotFound for an unknown tenant; InvalidArgument for a bad date, a
  // period that ends before it starts or spans more than 400 days.
  absl::StatusOr<std::string> Summary(const SummaryQuery& q) const;
  // NotFound for an unknown tenant; InvalidArgument for a bad filter or
  // cursor.
  absl::StatusOr<std::string> List(const MessageListQuery& q) const;

 private:
  Engine& engine_;  // its clock
  const ObjectRegistry& registry_;
  const AppointmentLog& log_;
  const MessageSummary& summary_;
};

}  // namespace rappel::server::plan
