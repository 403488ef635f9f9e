// Delivery: the appointment book's side of handing a message out (the
// dispatcher's MessageFilter), and of its outcome.
//
//   Prepare (as it is leased):
//     drop   the appointment is gone or cancelled, a visit status set,
//            notifications off, no consent, the address replied STOP,
//            covered by a household's SMS, over the daily cap, no address
//     hold   a metered tenant cannot pay its rendered cost (until credit
//            is added)
//     else   rendered (MessageRenderer), its cost leased, counted
//   OnOutcome (as its ack is committed): credits spent or released, an
//     audit line, and the message leaves the pending plan unless retried.
//   Every message that leaves the plan (acked, dropped, expired) is kept
//   in the appointment's sent list and counted in the MessageSummary;
//   ReportLate applies an outcome reported after the ack
//   (message_outcome.h).
// What a drop or an outcome changes is written in the commit that
// completes the message (the writes it is given).
//
// Thread: the owner (io) thread.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "server/dispatch/message_filter.h"
#include "server/engine/engine.h"
#include "server/plan/appointment_log.h"
#include "server/plan/credit_account.h"
#include "server/plan/households.h"
#include "server/plan/message_outcome.h"
#include "server/plan/message_summary.h"
#include "server/plan/message_renderer.h"
#include "server/plan/registry.h"
#include "server/plan/reminder_cap.h"

namespace rappel::server::plan {

class Delivery {
 public:
  // Each must outlive us.
  Delivery(Engine& engine, const ObjectRegistry& registry, AppointmentLog& log,
           CreditAccounts& credits, Households& households, ReminderCap& cap,
           MessageRenderer& renderer, MessageSummary& summary)
      : engine_(engine),
        registry_(registry),
        log_(log),
        credits_(credits),
        households_(households),
        cap_(cap),
        renderer_(renderer),
        summary_(summary) {}

  // Appointment messages ("@a/..."); other keys are not ours.
  static bool Claims(const ReminderSpec& r);
  MessageFilter::Prepared Prepare(const ReminderSpec& r);
  void OnOutcome(const ReminderSpec& r, AckOutcome outcome, std::string_view detail,
                 Engine::StateWrites* writes);

  // An outcome reported after the ack for the latest send of `key` of `e`:
  // its state, summary row and audit line change (written into `writes`,
  // with e's record); false when it changes nothing (the same report
  // again, or one the rules ignore). NotFound when that message was never
  // acked or dropped (or is past the audit retention); FailedPrecondition
  // when it was dropped, never sent.
  absl::StatusOr<bool> ReportLate(BookEntry& e, const ParsedMessageKey& key, LateOutcome outcome,
                                  std::string_view detail, Engine::StateWrites* writes);
  // `p` of `e` left the plan without being handed out (`cls`): kept in the
  // sent list and counted. Its record is the caller's to write.
  void NoteDropped(BookEntry& e, const PlanRef& p, DropClass cls, Engine::StateWrites* writes);

  // MessageFilter::Seal and Settled, for every commit carrying writes of
  // the calls above (the dispatcher's, and the book's Submit): after a
  // failed one, the entries, ledgers and summary rows they changed are read
  // back from the store.
  uint64_t Seal() { return next_seal_++; }
  void Settled(uint64_t seal, const absl::Status& st);

 private:
  // What a call changed in memory, until the commit sealed `seal` settles.
  struct Unsettled {
    uint64_t seal;
    const BookEntry* entry;  // only to tell a repeat of the last one (never read)
    uint32_t tenant;
    std::string obj;  // the entry's ObjKey
    std::optional<MessageSummary::Key> row;
  };
  void NoteUnsettled(const BookEntry& e, const MessageSummary::Key* row);

  // A message of `e` was sent, failed or suppressed: its audit record and
  // the entry's record, rewritten (without the message when it leaves the
  // plan), go into `writes`.
  void RecordOutcome(BookEntry& e, const ParsedMessageKey& key, std::string audit,
                     bool leaves_plan, Engine::StateWrites* writes);
  static PlanRef* FindPlanRef(BookEntry& e, const ParsedMessageKey& key);
  // Adds a message to e's sent list (forgetting those past the tenant's
  // audit retention) and counts it in the summary.
  void NoteSent(BookEntry& e, MessageKind kind, Channel channel, uint32_t occurrence,
                uint8_t state, DropClass cls, uint32_t credits, Engine::StateWrites* writes);

  Engine& engine_;  // its clock
  const ObjectRegistry& registry_;
  AppointmentLog& log_;
  CreditAccounts& credits_;
  Households& households_;
  ReminderCap& cap_;
  MessageRenderer& renderer_;
  MessageSummary& summary_;
  std::deque<Unsettled> unsettled_;  // oldest first
  uint64_t next_seal_ = 1;
};

}  // namespace rappel::server::plan
