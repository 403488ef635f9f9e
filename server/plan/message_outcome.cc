#include "server/plan/message_outcome.h"

namespace rappel::server::plan {

using namespace message_state;

std::string_view DropClassName(DropClass c) {
  switch (c) {
    case DropClass::kNone: return "none";
    case DropClass::kCancelled: return "cancelled";
    case DropClass::kStatus: return "status";
    case DropClass::kOptOut: return "opt_out";
    case DropClass::kMerged: return "merged";
    case DropClass::kDailyCap: return "daily_cap";
    case DropClass::kNoAddress: return "no_address";
    case DropClass::kCredit: return "credit";
    case DropClass::kExpired: return "expired";
  }
  return "none";
}

std::string_view LateOutcomeName(LateOutcome o) {
  switch (o) {
    case LateOutcome::kDelivered: return "delivered";
    case LateOutcome::kOpened: return "opened";
    case LateOutcome::kClicked: return "clicked";
    case LateOutcome::kFailed: return "failed";
  }
  return "?";
}

std::optional<LateOutcome> ParseLateOutcome(std::string_view name) {
  if (name == "delivered") return LateOutcome::kDelivered;
  if (name == "opened") return LateOutcome::kOpened;
  if (name == "clicked") return LateOutcome::kClicked;
  if (name == "failed" || name == "bounced") return LateOutcome::kFailed;
  return std::nullopt;
}

uint8_t ApplyLateOutcome(uint8_t state, LateOutcome o) {
  if (state & kDropped) return state;  // never sent
  switch (o) {
    case LateOutcome::kDelivered:
      if (state & (kFailed | kDelivered)) return state;
      return state | kSent | kDelivered;
    case LateOutcome::kOpened:
      return static_cast<uint8_t>((state & ~kFailed) | kSent | kDelivered | kOpened);
    case LateOutcome::kClicked:
      return static_cast<uint8_t>((state & ~kFailed) | kSent | kDelivered | kOpened | kClicked);
    case LateOutcome::kFailed:
      if (state & (kOpened | kClicked | kFailed)) return state;
      return static_cast<uint8_t>((state & ~kDelivered) | kFailed);
  }
  return state;
}

std::string_view MessageStateName(uint8_t state) {
  if (state & kDropped) return "dropped";
  if (state & kFailed) return "failed";
  if (state & kClicked) return "clicked";
  if (state & kOpened) return "opened";
  if (state & kDelivered) return "delivered";
  return "sent";
}

uint8_t MessageStateBit(std::string_view name) {
  if (name == "dropped") return kDropped;
  if (name == "failed") return kFailed;
  if (name == "clicked") return kClicked;
  if (name == "opened") return kOpened;
  if (name == "delivered") return kDelivered;
  if (name == "sent") return kSent;
  return 0;
}

}  // namespace rappel::server::plan
