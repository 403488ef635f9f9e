#include "server/plan/model.h"

#include <array>
#include <charconv>

#include "absl/strings/str_cat.h"

namespace rappel::server::plan {
namespace {

template <typename E, size_t N>
std::string_view NameIn(const std::array<std::string_view, N>& names, E value, size_t first) {
  size_t i = static_cast<size_t>(value) - first;
  return i < N ? names[i] : std::string_view("unknown");
}

template <typename E, size_t N>
std::optional<E> ParseIn(const std::array<std::string_view, N>& names, std::string_view s,
                         size_t first) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i + first);
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, kMessageKindCount> kKindNames = {
    "confirmation", "change",   "cancellation",    "patient_cancel_ack",
    "confirm_ack",  "reminder", "pre_visit",       "second_reminder",
    "post_visit",   "recall",   "practitioner",    "delay_alert"};
constexpr std::array<std::string_view, 7> kModeNames = {
    "on_site",       "telemedicine",     "phone", "unspecified",
    "no_automated",  "no_communication", "hidden"};
constexpr std::array<std::string_view, 5> kStatusNames = {"none", "seen", "waiting_room", "absent",
                                                          "excused"};
constexpr std::array<std::string_view, 4> kLifecycleNames = {
    "active", "cancelled_by_practitioner", "cancelled_by_patient", "to_reschedule"};
constexpr std::array<std::string_view, 3> kPolicyNames = {"off", "everybody", "unreliable"};

bool ParseUint(std::string_view s, uint32_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string_view KindName(MessageKind k) { return NameIn(kKindNames, k, 1); }
std::optional<MessageKind> ParseKind(std::string_view s) {
  return ParseIn<MessageKind>(kKindNames, s, 1);
}
std::string_view ModeName(Mode m) { return NameIn(kModeNames, m, 1); }
std::optional<Mode> ParseMode(std::string_view s) { return ParseIn<Mode>(kModeNames, s, 1); }
std::string_view VisitStatusName(VisitStatus s) { return NameIn(kStatusNames, s, 0); }
std::optional<VisitStatus> ParseVisitStatus(std::string_view s) {
  return ParseIn<VisitStatus>(kStatusNames, s, 0);
}
std::string_view LifecycleName(Lifecycle l) { return NameIn(kLifecycleNames, l, 0); }
std::string_view PolicyName(SecondReminderPolicy p) { return NameIn(kPolicyNames, p, 0); }
std::optional<SecondReminderPolicy> ParsePolicy(std::string_view s) {
  return ParseIn<SecondReminderPolicy>(kPolicyNames, s, 0);
}

std::string_view EventName(Event e) {
  switch (e) {
    case Event::kCreated: return "created";
    case Event::kModified: return "modified";
    case Event::kUpdated: return "updated";
    case Event::kCancelled: return "cancelled";
    case Event::kPatientCancelled: return "cancelled by the patient";
    case Event::kConfirmed: return "confirmed";
    case Event::kStatusChanged: return "status changed";
    case Event::kDelayAlert: return "delay alert";
  }
  return "?";
}

std::string MessageKey(std::string_view appointment_id, MessageKind kind, Channel channel,
                       uint32_t occurrence) {
  std::string key;
  key.reserve(appointment_id.size() + 32);
  key.append(kReservedKeyPrefix).append("a/").append(appointment_id).append("/");
  key.append(KindName(kind)).append("/").append(ChannelName(channel)).append("/");
  key.append(std::to_string(occurrence));
  return key;
}

std::optional<ParsedMessageKey> ParseMessageKey(std::string_view key) {
  std::string_view prefix = "@a/";
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  key.remove_prefix(prefix.size());
  // The appointment id may itself hold '/': the last three fields are fixed.
  std::vector<std::string_view> tail;
  for (int i = 0; i < 3; ++i) {
    size_t slash = key.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    tail.push_back(key.substr(slash + 1));
    key = key.substr(0, slash);
  }
  ParsedMessageKey parsed;
  parsed.appointment_id = key;
  auto kind = ParseKind(tail[2]);
  auto channel = ParseChannel(tail[1]);
  if (!kind || !channel || key.empty() || !ParseUint(tail[0], &parsed.occurrence)) {
    return std::nullopt;
  }
  parsed.kind = *kind;
  parsed.channel = *channel;
  return parsed;
}

std::string_view CauseName(Cause c) {
  switch (c) {
    case Cause::kNone: return "";
    case Cause::kCreated: return "created";
    case Cause::kModified: return "modified";
    case Cause::kCancelledByPractitioner: return "cancelled_by_practitioner";
    case Cause::kToReschedule: return "to_reschedule";
    case Cause::kAbsence: return "absence";
    case Cause::kCancelledByPatient: return "cancelled_by_patient";
    case Cause::kConfirmed: return "confirmed";
    case Cause::kDelay: return "delay";
    case Cause::kUpdated: return "updated";
    case Cause::kStatusChanged: return "status_changed";
  }
  return "";
}

std::string EncodeMessageRef(const MessageRef& ref) {
  std::string out = absl::StrCat("r", ref.revision, ";d", ref.delay_ms);  // e.g. "r3;d0"
  if (ref.cause != Cause::kNone) absl::StrAppend(&out, ";c", static_cast<int>(ref.cause));
  if (ref.previous_start_ms != 0) {
    absl::StrAppend(&out, ";p", ref.previous_start_ms, ";q", ref.previous_end_ms);
  }
  return out;
}

std::optional<MessageRef> DecodeMessageRef(std::string_view payload) {
  // (Debian's Abseil has its own string_view: split by hand.)
  std::vector<std::string_view> parts;
  while (true) {
    size_t semi = payload.find(';');
    parts.push_back(payload.substr(0, semi));
    if (semi == std::string_view::npos) break;
    payload.remove_prefix(semi + 1);
  }
  if (parts.size() < 2 || parts.size() > 5) return std::nullopt;
  for (std::string_view p : parts) {
    if (p.size() < 2) return std::nullopt;
  }
  if (parts[0][0] != 'r' || parts[1][0] != 'd') return std::nullopt;
  MessageRef ref;
  if (!ParseUint(parts[0].substr(1), &ref.revision) || !ParseUint(parts[1].substr(1), &ref.delay_ms)) {
    return std::nullopt;
  }
  auto parse_ms = [](std::string_view s, int64_t* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  for (size_t i = 2; i < parts.size(); ++i) {
    std::string_view v = parts[i].substr(1);
    uint32_t cause = 0;
    switch (parts[i][0]) {
      case 'c':
        if (!ParseUint(v, &cause) || cause > kMaxCause) return std::nullopt;
        ref.cause = static_cast<Cause>(cause);
        break;
      case 'p':
        if (!parse_ms(v, &ref.previous_start_ms)) return std::nullopt;
        break;
      case 'q':
        if (!parse_ms(v, &ref.previous_end_ms)) return std::nullopt;
        break;
      default:
        return std::nullopt;
    }
  }
  return ref;
}

bool IsScheduleChange(const Appointment& before, Mode before_mode, const Appointment& after,
                      Mode after_mode) {
  return before.start_ms != after.start_ms || before.end_ms != after.end_ms ||
         before.calendar != after.calendar || before.location != after.location ||
         before.patient != after.patient || before_mode != after_mode;
}

}  // namespace rappel::server::plan
