// Credits: what a message costs, and a tenant's ledger.
//
// SMS costs one credit per segment (part) of its rendered text, as GSM 03.38
// and 3GPP TS 23.040 concatenation count them: GSM-7 text is 160 septets in
// one segment, 153 per segment when split (the rest carries the
// concatenation header); any character outside GSM-7 makes the whole text
// UCS-2: 70 UTF-16 units in one, 67 per segment (an emoji is a surrogate
// pair, two units). GSM-7's extension characters (^ { } \ [ ] ~ | € and form
// feed) take two septets (escape + character). A two-unit character is
// never split across two segments: at a boundary it starts the next one, so
// a split text may need more segments than units / per-segment. Voice costs
// the tenant's `voice_credits` per message; e-mail and push are free.
//
// The ledger of a metered tenant, kept by the appointment book:
//   balance   credits owned and not yet spent (spent on a successful ack)
//   reserved  the part of the balance held for planned, unsent messages
//             (reserved at plan time, released on cancel/drop/permanent
//             failure, turned into spending on a successful ack)
//   added, spent  running totals: balance == added - spent, always
// It is one record, `pk/<tenant 4>`, written in the same commit as every
// change that moves it, so it is exact across crashes: `reserved` equals
// the sum of the reservations held by the appointments' pending plans.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/engine/reminder.h"

namespace rappel::server::plan {

struct Tenant;

inline constexpr uint32_t kGsm7Single = 160;
inline constexpr uint32_t kGsm7PerPart = 153;
inline constexpr uint32_t kUcs2Single = 70;
inline constexpr uint32_t kUcs2PerPart = 67;

struct SmsEncoding {
  bool gsm7 = true;
  uint32_t units = 0;     // septets (GSM-7) or UTF-16 units (UCS-2)
  uint32_t segments = 0;  // 0 for an empty text
};
// A byte that is not valid UTF-8 (server/common/utf8.h) counts as one U+FFFD,
// as the worker receives it: the message is then UCS-2.
SmsEncoding CountSms(std::string_view utf8);

// The credits a message on `channel` with this rendered text costs.
uint32_t MessageCost(const Tenant& tenant, Channel channel, std::string_view text);
inline bool IsPaid(Channel c) { return c == Channel::kSms || c == Channel::kVoice; }

struct Ledger {
  int64_t balance = 0;
  int64_t reserved = 0;
  int64_t added = 0;
  int64_t spent = 0;
  int64_t available() const { return balance - reserved; }
  friend bool operator==(const Ledger&, const Ledger&) = default;
};
std::string LedgerKey(uint32_t tenant);
std::string EncodeLedger(const Ledger& l);
std::optional<Ledger> DecodeLedger(std::string_view bytes);

}  // namespace rappel::server::plan
