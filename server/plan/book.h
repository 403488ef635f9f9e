// AppointmentBook: the owner of appointment state: configuration objects,
// appointments, their plans and what was sent (protocol/README.md,
// "Appointments", lists the objects, fields and rules).
//
// It holds the configuration objects (tenants, calendars, appointment
// types, patients, templates) and the appointments, turns every appointment
// event into a plan (planner.h), and hands the engine one atomic change per
// request: the appointment records, the audit entries, the messages dropped
// from the old plan and the ones scheduled for the new, in one commit
// (Engine::Mutate). So a change and its re-plan are durable together or not
// at all, and a message of an old plan can never fire after the change is
// acknowledged.
//
//   platform ── Upsert/Commands/Absence/DelayAlert/PatientReply/Redeem
//        │ validate, apply to memory, Plan()
//        ▼
//   Engine::Mutate(schedule new, drop old, state: pa/ au/ pp/)  ── durable ──▶ done
//        ⋮ (due)
//   Dispatcher ── Prepare (MessageFilter) ──▶ render, or drop (status, stale)
//
// Memory follows submission (read-your-writes for pipelined requests); when
// a commit fails, every appointment it touched is reloaded from the store
// (the engine fails every later write of the same epoch too, so the store
// then holds the truth).
//
// It is a facade over the parts that hold its state, each in its own
// files:
//   registry.h          the configuration objects and STOP addresses
//   appointment_log.h   the appointments, their records (pa/, au/) and
//                       their reclaim
//   credit_account.h    the credit ledgers (pk/) and reservations
//   households.h        one SMS for a household's same-day reminders
//   reminder_cap.h      the daily reminder cap per patient
//   tenant_zone.h       each tenant's local time
//   replanner.h         an event's new plan, as a change to the old one
//   delivery.h          a due message handed out (the MessageFilter), and
//                       its outcome
//   message_renderer.h  what a message says (render.h) and its address
//   book_views.h        what Show, DryRun and CreditsJson answer (JSON)
//   message_summary.h   counts of what became of messages, by tenant,
//                       local day, channel and kind (su/)
//   message_views.h     the message summary and list (JSON)
//   planner.h           what an event plans
//
// Thread: the owner (io) thread, like the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/dispatch/message_filter.h"
#include "server/engine/engine.h"
#include "server/plan/appointment_log.h"
#include "server/plan/book_views.h"
#include "server/plan/delivery.h"
#include "server/plan/households.h"
#include "server/plan/message_outcome.h"
#include "server/plan/message_summary.h"
#include "server/plan/message_views.h"
#include "server/plan/reminder_cap.h"
#include "server/plan/replanner.h"
#include "server/plan/change.h"
#include "server/plan/credit_account.h"
#include "server/plan/model.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {

enum class UpsertOutcome : uint8_t { kCreated = 0, kModified = 1, kUpdated = 2, kUnchanged = 3 };
struct AppointmentResult {
  UpsertOutcome outcome = UpsertOutcome::kCreated;
  uint32_t revision = 0;
  uint32_t planned = 0;  // messages pending in its plan
};

enum class AppointmentAction : uint8_t {
  kCancelByPractitioner = 0,
  kCancelByPatient = 1,
  kToReschedule = 2,
  kConfirm = 3,
  kArrived = 4,
  kSetStatus = 5,
  kSendNow = 6,  // `kind`, now, with the appointment as it is (Replanner::SendNow)
};
struct AppointmentCommand {
  uint32_t tenant = 0;
  std::string id;
  AppointmentAction action = AppointmentAction::kCancelByPractitioner;
  VisitStatus status = VisitStatus::kNone;
  uint64_t version = 0;  // 0: no check
  MessageKind kind = MessageKind::kReminder;  // kSendNow
  bool absence = false;  // a cancellation caused by the practitioner's absence (notices say so)
};

// kStop: the patient's mobile number gets nothing more (every patient who
// shares it) until kStart (consent given again).
enum class PatientReplyKind : uint8_t { kConfirm = 0, kCancel = 1, kStop = 2, kStart = 3 };

struct Redeemed {
  uint32_t tenant = 0;
  std::string appointment;
  std::string action;  // "confirm", "cancel", "arrival"
};

// An outcome reported after a message's ack: `key` is its engine key
// (MessageKey, the message id without its "<tenant>:").
struct OutcomeReport {
  uint32_t tenant = 0;
  std::string key;
  LateOutcome outcome = LateOutcome::kDelivered;
  std::string detail;  // the provider's answer or reason
};

struct BookOptions {
  // Due times further than this are left out of a plan ("beyond the
  // horizon"); the engine's horizon.
  int64_t horizon_ms = int64_t{5} * 366 * kDayMs;
  // Superseded appointment records are reclaimed once there are more of
  // them than live ones, and at least this many; a step re-appends at most
  // `records_per_compaction` live ones.
  uint64_t min_record_garbage = 50'000;
  size_t records_per_compaction = 4'096;
};

class AppointmentBook : public MessageFilter {
 public:
  // Loads every object and appointment from the engine's store. The engine
  // must outlive the book.
  static absl::StatusOr<std::unique_ptr<AppointmentBook>> Open(Engine* engine,
                                                               BookOptions options);

  using ObjectDone = std::function<void(absl::StatusOr<std::string>)>;
  using ResultsDone = std::function<void(std::vector<absl::StatusOr<AppointmentResult>>)>;
  using CountDone = std::function<void(absl::StatusOr<uint32_t>)>;

  // Creates or replaces an object from its JSON document; `done` gets the
  // object as stored (without secrets) once durable. A tenant gets its token
  // secret when first created. Errors: InvalidArgument (bad document, time
  // zone, template variable), NotFound (unknown tenant).
  void PutObject(ObjectKind kind, uint32_t tenant, std::string id, std::string_view json,
                 ObjectDone done);
  absl::StatusOr<std::string> GetObject(ObjectKind kind, uint32_t tenant,
                                        const std::string& id) const;

  // One result per item, once durable, all in one commit. Errors per item:
  // NotFound (unknown tenant, calendar, type, patient), InvalidArgument (end
  // before start, bad id), FailedPrecondition (a stale version; an inactive
  // type on creation).
  void Upsert(std::vector<Appointment> items, ResultsDone done);
  // Cancel, confirm, arrival, status, send a kind now. NotFound for an
  // unknown appointment; FailedPrecondition for a stale version or a
  // cancelled appointment (but a status, or sending a notice about the
  // cancellation), and for a send-now that cannot go (the reason named).
  // A send-now leaves the revision as it is (links already sent stay
  // valid): its result is kUpdated.
  void Commands(std::vector<AppointmentCommand> items, ResultsDone done);
  // Cancels every active appointment of the calendar starting in [from, to),
  // each patient notified; `done` gets how many.
  void Absence(uint32_t tenant, const std::string& calendar, int64_t from_ms, int64_t to_ms,
               CountDone done);
  // Tells the day's remaining patients of the calendar (tenant's local day)
  // their new arrival time.
  void DelayAlert(uint32_t tenant, const std::string& calendar, int64_t delay_ms, CountDone done);
  // Confirm / cancel the given appointment (empty: the patient's next active
  // one), or STOP: the patient's notifications off, every pending message of
  // theirs dropped.
  void PatientReply(uint32_t tenant, const std::string& patient, const std::string& appointment,
                    PatientReplyKind kind, std::function<void(absl::StatusOr<AppointmentResult>)> done);
  // Redeems a self-service token: PermissionDenied when forged;
  // FailedPrecondition when expired, outdated (the appointment's time or
  // place changed since: schedule_revision), its action already redeemed at
  // this schedule revision, or outside its window; the action is applied and
  // re-planned in one commit. Confirming or telling arrival leaves the other
  // actions' links of the same message good.
  void Redeem(std::string_view token, std::function<void(absl::StatusOr<Redeemed>)> done);

  // Outcomes reported after the ack (message_outcome.h), all in one
  // commit; per item: true when it changed the message (an audit line, its
  // summary row), false when it changed nothing (the same report again, or
  // one the rules ignore). NotFound for a message never acked or dropped
  // (or past the audit retention); FailedPrecondition for a dropped one.
  using OutcomesDone = std::function<void(std::vector<absl::StatusOr<bool>>)>;
  void ReportOutcomes(std::vector<OutcomeReport> items, OutcomesDone done);
  // The tenant's message summary and message list (message_views.h).
  absl::StatusOr<std::string> MessageSummaryJson(const SummaryQuery& q) const {
    return message_views_.Summary(q);
  }
  absl::StatusOr<std::string> MessageListJson(const MessageListQuery& q) const {
    return message_views_.List(q);
  }

  // The appointment, its pending plan, its audit trail and its dry run (JSON).
  absl::StatusOr<std::string> Show(uint32_t tenant, const std::string& id) const;
  // What `hypothetical` would send if upserted now (nothing is written).
  absl::StatusOr<std::string> DryRun(const Appointment& hypothetical) const;

  // Deletes appointments (and their audit) whose end is older than the
  // tenant's audit retention and that have nothing pending; at most `limit`
  // per call. Returns how many.
  size_t Reclaim(size_t limit = 1000);
  // Takes out of the plans (and the ledger) messages the engine dropped as
  // expired without the book hearing of it; at most `limit`. Returns how
  // many. Reclaim calls it first.
  size_t SweepGone(size_t limit = 100'000);

  // Every tenant's appointments held, or one tenant's.
  size_t appointments() const { return log_.size(); }
  size_t appointments(uint32_t tenant) const { return log_.OfTenant(tenant).size(); }

  // MessageFilter (delivery.h)
  bool Claims(const ReminderSpec& r) const override { return Delivery::Claims(r); }
  Prepared Prepare(const ReminderSpec& r) override { return delivery_.Prepare(r); }
  void OnOutcome(const ReminderSpec& r, AckOutcome outcome, std::string_view detail,
                 Engine::StateWrites* writes) override {
    delivery_.OnOutcome(r, outcome, detail, writes);
  }
  uint64_t Seal() override { return delivery_.Seal(); }
  void Settled(uint64_t seal, const absl::Status& st) override { delivery_.Settled(seal, st); }

  // Adds credits to a metered or unmetered tenant's balance (durable before
  // `done`, which gets the ledger as CreditsJson); the messages held for
  // credit go back to the dispatcher. InvalidArgument unless 0 < amount <=
  // 10^12; NotFound for an unknown tenant.
  void AddCredits(uint32_t tenant, int64_t amount, ObjectDone done);
  // The tenant's ledger, what is waiting for credit or for sending hours,
  // and the forecast cost of its pending plan over the next day, week and
  // 30 days (JSON).
  absl::StatusOr<std::string> CreditsJson(uint32_t tenant) const;
  using Entry = BookEntry;

 private:
  AppointmentBook(Engine* engine, BookOptions options);
  absl::Status Load();

  // Applies one command to `entry` (already looked up) and re-plans.
  absl::StatusOr<AppointmentResult> ApplyCommand(Entry& entry, const AppointmentCommand& c,
                                                 Change& change);
  absl::StatusOr<AppointmentResult> ApplyUpsert(Appointment in, Change& change);
  void Submit(Change change, std::function<void(absl::Status)> done);
  // Submits `change`, then answers `done` with `value`, or with the
  // commit's error.
  template <typename T, typename Done>
  void SubmitThen(Change change, T value, Done done);
  // Submits `change`, then answers `done` with the per-item results; a
  // failed commit fails every item that had succeeded.
  void SubmitResults(Change change,
                     std::shared_ptr<std::vector<absl::StatusOr<AppointmentResult>>> results,
                     ResultsDone done);
  // Answers `done` with `st` after every earlier request's answer (the
  // engine answers in submission order; a refusal must not overtake).
  template <typename Done>
  void Refuse(absl::Status st, Done done);
  Engine* engine_;
  BookOptions options_;
  ObjectRegistry registry_;
  CreditAccounts credits_{engine_};
  AppointmentLog log_;
  Households households_{registry_, log_};
  ReminderCap reminder_cap_;
  MessageRenderer renderer_{registry_};
  BookViews views_{*engine_, registry_, log_, credits_, households_, renderer_};
  Replanner replanner_;
  MessageSummary summary_;
  MessageViews message_views_{*engine_, registry_, log_, summary_};
  Delivery delivery_{*engine_,  registry_,     log_,      credits_,
                     households_, reminder_cap_, renderer_, summary_};
};

}  // namespace rappel::server::plan
