#include "server/plan/tenant_zone.h"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <exception>

#include "absl/container/flat_hash_map.h"

namespace rappel::server::plan {
namespace {

// Years 1 to 9999: beyond, date's calendar arithmetic overflows (and no
// appointment is there).
constexpr int64_t kMinMs = -62'135'596'800'000;
constexpr int64_t kMaxMs = 253'402'300'799'999;

// Unknown names are not cached (an error path, and unbounded).
absl::StatusOr<const date::time_zone*> FindZone(std::string_view name) {
  thread_local absl::flat_hash_map<std::string, const date::time_zone*> cache;
  absl::string_view key(name.data(), name.size());
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (name.empty()) return absl::InvalidArgumentError("empty time zone name");
  if (name == "localtime") return absl::InvalidArgumentError("unknown time zone \"localtime\"");
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(std::string(name));
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("unknown time zone \"" + std::string(name) + "\"");
  }
  cache.emplace(std::string(name), zone);
  return zone;
}

int64_t SysMs(date::sys_seconds s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s.time_since_epoch()).count();
}

}  // namespace

absl::Status ValidateTimeZone(std::string_view iana_name) { return FindZone(iana_name).status(); }

TenantZone::TenantZone(std::string_view iana_name) : name_(iana_name) {
  if (auto found = FindZone(iana_name); found.ok()) zone_ = *found;
}

absl::Status TenantZone::status() const { return ok() ? absl::OkStatus() : FindZone(name_).status(); }

namespace {

// The offset holds for a whole period between two transitions (months,
// usually): the last period seen per zone is kept, so that the hot paths
// (a local day per ack, a local time per rendered message) are two
// comparisons instead of a search of the zone's transitions. Per thread
// (TenantZone is "thread: any"), a few zones at a time (direct-mapped).
struct OffsetPeriod {
  const date::time_zone* zone = nullptr;
  int64_t begin_ms = 0, end_ms = 0;  // [begin, end)
  int64_t offset_ms = 0;
};

int64_t SaturatedMs(date::sys_seconds s) {
  int64_t sec = s.time_since_epoch().count();
  if (sec <= kMinMs / 1000) return std::numeric_limits<int64_t>::min();
  if (sec >= kMaxMs / 1000 + 1) return std::numeric_limits<int64_t>::max();
  return sec * 1000;
}

}  // namespace

int64_t TenantZone::OffsetMsAt(int64_t unix_ms) const {
  thread_local std::array<OffsetPeriod, 8> periods;
  OffsetPeriod& p = periods[(reinterpret_cast<uintptr_t>(zone_) >> 4) % periods.size()];
  if (p.zone == zone_ && unix_ms >= p.begin_ms && unix_ms < p.end_ms) return p.offset_ms;
  date::sys_seconds s{std::chrono::seconds{FloorDiv(unix_ms, 1000)}};
  date::sys_info info = zone_->get_info(s);
  p.zone = zone_;
  p.begin_ms = SaturatedMs(info.begin);
  p.end_ms = SaturatedMs(info.end);
  p.offset_ms = std::chrono::duration_cast<std::chrono::milliseconds>(info.offset).count();
  return p.offset_ms;
}

absl::StatusOr<LocalTime> TenantZone::ToLocal(int64_t unix_ms) const {
  if (unix_ms < kMinMs || unix_ms > kMaxMs) {
    return absl::InvalidArgumentError("time " + std::to_string(unix_ms) + " ms out of range");
  }
  using Ms = std::chrono::milliseconds;
  date::sys_time<Ms> tp{Ms{unix_ms}};
  // local = UTC + offset (what zoned_time does).
  Ms offset{OffsetMsAt(unix_ms)};
  date::local_time<Ms> local{tp.time_since_epoch() + offset};
  date::local_days day = date::floor<date::days>(local);
  date::year_month_day ymd{day};
  date::hh_mm_ss<Ms> hms{local - day};
  LocalTime t;
  t.year = static_cast<int>(ymd.year());
  t.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  t.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  t.weekday = static_cast<int>(date::weekday{day}.c_encoding());
  t.hour = static_cast<int>(hms.hours().count());
  t.minute = static_cast<int>(hms.minutes().count());
  t.second = static_cast<int>(hms.seconds().count());
  t.offset_minutes =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(offset).count());
  return t;
}

int64_t TenantZone::ToInstant(int64_t local_ms, bool earliest) const {
  date::local_seconds ls{std::chrono::seconds{FloorDiv(local_ms, 1000)}};
  date::local_info info = zone_->get_info(ls);
  auto offset_ms = [](const date::sys_info& i) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(i.offset).count();
  };
  switch (info.result) {
    case date::local_info::nonexistent:
      return SysMs(info.first.end);
    case date::local_info::ambiguous:
      return local_ms - offset_ms(earliest ? info.first : info.second);
    default:
      return local_ms - offset_ms(info.first);
  }
}

}  // namespace rappel::server::plan
