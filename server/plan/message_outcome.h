// What became of a message once it left the plan: handed out and acked
// (sent, or failed), dropped as it fell due (with a reason class), and the
// outcomes a worker reports later (delivered, opened, clicked, bounced).
//
// A message's state is a set of bits. Outcomes only move it forward, in the
// order sent < delivered < opened < clicked, and each implies the ones
// before it (an "opened" that arrives before its "delivered" counts as
// delivered too; the later "delivered" then changes nothing). A failure
// (bounce) clears "delivered" unless the message was already opened or
// clicked, which prove receipt: then the failure is ignored; likewise an
// opened or clicked after a failure clears the failure, while a delivered
// after a failure is ignored (the failure is the provider's last word on
// delivery). A report that changes nothing is not recorded (idempotent).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rappel::server::plan {

namespace message_state {
inline constexpr uint8_t kSent = 1;
inline constexpr uint8_t kDelivered = 2;
inline constexpr uint8_t kOpened = 4;
inline constexpr uint8_t kClicked = 8;
inline constexpr uint8_t kFailed = 16;
inline constexpr uint8_t kDropped = 32;
}  // namespace message_state

// Why a message was dropped as it fell due (the summary counts them by
// class; the audit has the full reason).
enum class DropClass : uint8_t {
  kNone = 0,
  kCancelled = 1,    // the appointment is cancelled or gone
  kStatus = 2,       // a visit status stops it
  kOptOut = 3,       // notifications off, no consent, STOP
  kMerged = 4,       // covered by a household's SMS
  kDailyCap = 5,     // the daily reminder cap
  kNoAddress = 6,    // no address on the channel, or it cannot be rendered
  kCredit = 7,       // not enough credit (its e-mail went instead)
  kExpired = 8,      // not sent before its expiry
};
inline constexpr int kDropClassCount = 9;  // including kNone
std::string_view DropClassName(DropClass c);

// An outcome a worker reports after its ack.
enum class LateOutcome : uint8_t { kDelivered = 0, kOpened = 1, kClicked = 2, kFailed = 3 };
std::string_view LateOutcomeName(LateOutcome o);
std::optional<LateOutcome> ParseLateOutcome(std::string_view name);

// The state after `o` (the rules above); equal to `state` when it changes
// nothing.
uint8_t ApplyLateOutcome(uint8_t state, LateOutcome o);

// The state's name as the message list shows it: its furthest step
// ("dropped", "failed", "clicked", "opened", "delivered", "sent").
std::string_view MessageStateName(uint8_t state);
// The state bits a list filter names (0 for an unknown name).
uint8_t MessageStateBit(std::string_view name);

}  // namespace rappel::server::plan
