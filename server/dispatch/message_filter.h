// MessageFilter: what the dispatcher asks of whoever owns the messages it
// hands out (the appointment book), and the handle that owner is given to
// let held messages go. The dispatcher sees this interface, never the book;
// the book sees this interface and the engine, never the dispatcher.
//
//   Dispatcher ── Claims / Prepare ──▶ filter   (as a message is leased)
//   Dispatcher ── OnOutcome ─────────▶ filter   (as its ack is committed)
//   Dispatcher ── Seal / Settled ────▶ filter   (that commit landed or failed)
//   filter ─────── held()->Release ──▶ Dispatcher (e.g. credit was added)
//
// Thread: the owner (io) thread, like the engine and the dispatcher.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/engine/engine.h"

namespace rappel::server {

// A worker's outcome of a message, or kExpired: the dispatcher let it expire
// waiting for a rate token, never handed out (not a worker's to say).
enum class AckOutcome : uint8_t {
  kSent,
  kDelivered,
  kOpened,
  kFailedRetryable,
  kFailedPermanent,
  kExpired
};

// The messages a filter held back (Prepared::hold), by tenant. Implemented
// by the dispatcher, which gives it to its filter when it takes it.
class HeldMessages {
 public:
  virtual ~HeldMessages() = default;
  // The tenant's held messages go back to the ready queues, to be prepared
  // again (and perhaps held again).
  virtual void Release(TenantId tenant) = 0;
  // How many of the tenant's messages are held.
  virtual uint64_t held_of(TenantId tenant) const = 0;
};

// Looks at the messages it claims (appointment messages) as they are about
// to be leased and when their outcome is known. The appointment book
// implements it: it renders the text a worker sends, and drops a message the
// appointment no longer wants (a status set, a cancellation).
class MessageFilter {
 public:
  virtual ~MessageFilter() = default;
  virtual bool Claims(const ReminderSpec& r) const = 0;
  struct Prepared {
    bool deliver = true;
    // With !deliver: keep it pending, out of the ready queues, until
    // held()->Release(its tenant); no completion is written. Otherwise
    // !deliver drops it.
    bool hold = false;
    std::string drop_reason;    // !deliver: why (recorded in the audit)
    std::string payload;        // deliver: what the worker gets
    std::string recipient;      // deliver: the address, as it is now
    bool track_opens = false;   // deliver: the worker is asked to track opens
    Engine::StateWrites writes; // written with the completion (drop) or ignored
  };
  virtual Prepared Prepare(const ReminderSpec& r) = 0;
  // The outcome of a claimed message as its ack or dead letter is committed;
  // `writes` ride in that commit. Not called for the ack of a version no
  // longer current (replaced or dropped after it was leased): that ack is
  // accepted and ignored.
  virtual void OnOutcome(const ReminderSpec& r, AckOutcome outcome, std::string_view detail,
                         Engine::StateWrites* writes) = 0;
  // What the filter changed in memory for the writes it gave since the
  // last Seal (OnOutcome, Prepared::writes) rides in the commit submitted
  // next: Seal names that commit, and Settled is called with its status.
  // When it failed, the filter reads that state back from the store (the
  // engine fails every commit queued behind a failed one, so the store holds
  // what memory must return to).
  virtual uint64_t Seal() { return 0; }
  virtual void Settled(uint64_t /*seal*/, const absl::Status& /*st*/) {}

 protected:
  // The dispatcher's held messages; null until a dispatcher takes this
  // filter (a book used without one holds nothing back).
  HeldMessages* held() const { return held_; }

 private:
  friend class Dispatcher;  // gives the handle when it takes the filter
  HeldMessages* held_ = nullptr;
};

}  // namespace rappel::server
