// TenantZone: a tenant's time zone (an IANA name, Howard Hinnant's date/tz
// on the system tzdata), resolved once when the tenant is read, and the
// local-time arithmetic every part of plan/ does with it: the local time of
// an instant (rendering), the local day (sending hours, the daily cap,
// households, delay alerts) and the instant of a local time (sending
// hours).
//
// A local day is counted in days since 1970-01-01 (local), as date::days;
// "local ms" are milliseconds since local 1970-01-01 00:00.
//
//   Europe/Paris, 2026-03-29 (clocks go 02:00 -> 03:00):
//     LocalDay(01:30 UTC)           = 20541 (03:30 local, the 29th)
//     ToInstant(local 02:30, ...)   = 01:00 UTC, the transition (a gap)
//     EndOfLocalDay(01:30 UTC)      = 22:00 UTC (local midnight, the 30th)
//
// Thread: any. Zone lookups are cached per thread (locate_zone searches
// the whole database), and so is the offset period of the last instants
// asked (an offset is then two comparisons).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace date {
class time_zone;
}

namespace rappel::server::plan {

// A local calendar time in some zone.
struct LocalTime {
  int year = 1970;
  int month = 1;    // 1..12
  int day = 1;      // 1..31
  int weekday = 4;  // 0 = Sunday .. 6 = Saturday
  int hour = 0;
  int minute = 0;
  int second = 0;
  int offset_minutes = 0;  // local - UTC
};

// "Europe/Paris" ok; "Mars/Olympus", "" or "localtime" (the host's zone, not
// a place: a tenant's times never depend on the machine) -> InvalidArgument.
absl::Status ValidateTimeZone(std::string_view iana_name);

class TenantZone {
 public:
  // Unresolved: no zone.
  TenantZone() = default;
  // Resolves `iana_name`; unresolved when it names no zone (status() says
  // why).
  explicit TenantZone(std::string_view iana_name);

  bool ok() const { return zone_ != nullptr; }
  const std::string& name() const { return name_; }
  // Ok, or why the name resolves to no zone.
  absl::Status status() const;
  const date::time_zone* get() const { return zone_; }

  // The rest requires ok().
  // Local time minus UTC at the instant.
  int64_t OffsetMsAt(int64_t unix_ms) const;
  // The local time of an instant. InvalidArgument outside years 1-9999.
  absl::StatusOr<LocalTime> ToLocal(int64_t unix_ms) const;
  // The local day holding the instant.
  int64_t LocalDay(int64_t unix_ms) const { return FloorDiv(unix_ms + OffsetMsAt(unix_ms), kDayMs); }
  // The instant of local time `local_ms`: in a gap, the transition; when
  // ambiguous, the first occurrence (`earliest`) or the last.
  int64_t ToInstant(int64_t local_ms, bool earliest) const;
  // When the local day holding the instant ends (its next local midnight).
  int64_t EndOfLocalDay(int64_t unix_ms) const {
    return ToInstant((LocalDay(unix_ms) + 1) * kDayMs, /*earliest=*/true);
  }

  static int64_t FloorDiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
  }

 private:
  static constexpr int64_t kDayMs = 86'400'000;

  std::string name_;
  const date::time_zone* zone_ = nullptr;
};

}  // namespace rappel::server::plan
