#include "server/plan/objects_json.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/common/log.h"
#include "server/common/utf8.h"

namespace rappel::server::plan {
namespace {

using nlohmann::json;

absl::Status Bad(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("field \"", std::string(field), "\": ",
                                                 std::string(what)));
}

json ChannelsJson(ChannelMask mask) {
  json out = json::array();
  for (int c = 1; c <= kChannelCount; ++c) {
    if (mask & (1u << c)) out.push_back(std::string(ChannelName(static_cast<Channel>(c))));
  }
  return out;
}

json OffsetsJson(const std::vector<int64_t>& offsets, uint32_t in_days) {
  json out = json::array();
  for (size_t i = 0; i < offsets.size(); ++i) {
    out.push_back(FormatOffsetMs(offsets[i], i < 32 && (in_days >> i & 1) != 0));
  }
  return out;
}

// Reads one field of a document into a typed destination.
using FieldReader = std::function<absl::Status(const json&)>;

absl::Status ReadFields(const json& j, const std::map<std::string, FieldReader>& fields) {
  if (!j.is_object()) return absl::InvalidArgumentError("the document is not a JSON object");
  for (const auto& [name, value] : j.items()) {
    auto it = fields.find(name);
    if (it == fields.end()) return Bad(name, "unknown field");
    if (absl::Status st = it->second(value); !st.ok()) {
      return Bad(name, std::string(st.message()));
    }
  }
  return absl::OkStatus();
}

FieldReader String(std::string* out, size_t max_bytes = 4096) {
  return [out, max_bytes](const json& v) {
    if (!v.is_string()) return absl::InvalidArgumentError("expected a string");
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("longer than ", max_bytes, " bytes"));
    }
    *out = s;
    return absl::OkStatus();
  };
}

FieldReader Bool(bool* out) {
  return [out](const json& v) {
    if (!v.is_boolean()) return absl::InvalidArgumentError("expected true or false");
    *out = v.get<bool>();
    return absl::OkStatus();
  };
}

FieldReader Count(uint32_t* out) {
  return [out](const json& v) {
    if (!v.is_number_unsigned()) return absl::InvalidArgumentError("expected a count");
    *out = v.get<uint32_t>();
    return absl::OkStatus();
  };
}

// A duration string, at least 0 and at most `max_ms`. `in_days` (if given):
// whether it was written in whole days ("2d").
FieldReader Duration(int64_t* out, int64_t max_ms = 5 * 366 * kDayMs, bool* in_days = nullptr) {
  return [out, max_ms, in_days](const json& v) {
    if (!v.is_string()) return absl::InvalidArgumentError("expected a duration such as \"24h\"");
    const std::string& text = v.get_ref<const std::string&>();
    auto ms = ParseDurationMs(text);
    if (!ms.ok()) return ms.status();
    if (*ms < 0 || *ms > max_ms) return absl::InvalidArgumentError("out of range");
    *out = *ms;
    if (in_days != nullptr) *in_days = IsWholeDays(text);
    return absl::OkStatus();
  };
}

// `in_days` (if given): bit i set when offset i was written in whole days.
FieldReader Durations(std::vector<int64_t>* out, uint32_t* in_days = nullptr) {
  return [out, in_days](const json& v) {
    if (!v.is_array()) return absl::InvalidArgumentError("expected an array of durations");
    if (v.size() > 16) return absl::InvalidArgumentError("at most 16 offsets");
    std::vector<int64_t> values;
    uint32_t days = 0;
    for (const auto& e : v) {
      int64_t ms = 0;
      bool whole_days = false;
      if (absl::Status st = Duration(&ms, 5 * 366 * kDayMs, &whole_days)(e); !st.ok()) return st;
      if (ms <= 0) return absl::InvalidArgumentError("an offset must be positive");
      for (int64_t seen : values) {
        if (seen == ms) return absl::InvalidArgumentError("an offset appears twice");
      }
      if (whole_days) days |= 1u << values.size();
      values.push_back(ms);
    }
    *out = std::move(values);
    if (in_days != nullptr) *in_days = days;
    return absl::OkStatus();
  };
}

FieldReader Channels(ChannelMask* out) {
  return [out](const json& v) {
    if (!v.is_array()) return absl::InvalidArgumentError("expected an array of channel names");
    ChannelMask mask = 0;
    for (const auto& e : v) {
      if (!e.is_string()) return absl::InvalidArgumentError("expected channel names");
      auto c = ParseChannel(e.get_ref<const std::string&>());
      if (!c) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown channel \"", e.get<std::string>(), "\" (sms, email, voice, push)"));
      }
      mask |= ChannelBit(*c);
    }
    *out = mask;
    return absl::OkStatus();
  };
}

constexpr std::string_view kKindChoices =
    "confirmation, change, cancellation, patient_cancel_ack, confirm_ack, reminder, pre_visit, "
    "second_reminder, post_visit, recall, practitioner, delay_alert";

absl::StatusOr<MessageKind> KindNamed(const json& e) {
  std::optional<MessageKind> k;
  if (e.is_string()) k = ParseKind(e.get_ref<const std::string&>());
  if (!k) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown message kind ", e.dump(), " (", std::string(kKindChoices), ")"));
  }
  return *k;
}

FieldReader Kinds(KindMask* out) {
  return [out](const json& v) {
    if (!v.is_array()) return absl::InvalidArgumentError("expected an array of message kinds");
    KindMask mask = 0;
    for (const auto& e : v) {
      absl::StatusOr<MessageKind> k = KindNamed(e);
      if (!k.ok()) return k.status();
      mask |= KindBit(*k);
    }
    *out = mask;
    return absl::OkStatus();
  };
}

json KindsJson(KindMask mask) {
  json out = json::array();
  for (int k = 1; k <= kMessageKindCount; ++k) {
    if (mask & (1u << k)) out.push_back(std::string(KindName(static_cast<MessageKind>(k))));
  }
  return out;
}

// {"confirmation": ["email"], "reminder": ["sms"], ...}: the kinds listed
// get their channels (into `grid`, their bits into `*set`); null resets
// `set` (a type's override) to none.
FieldReader KindChannelsReader(KindChannels* grid, KindMask* set) {
  return [grid, set](const json& v) {
    if (v.is_null() && set != nullptr) {
      *set = 0;
      return absl::OkStatus();
    }
    if (!v.is_object()) {
      return absl::InvalidArgumentError(
          "expected {\"<message kind>\": [\"<channel>\", ...], ...}");
    }
    KindChannels next = *grid;
    KindMask listed = 0;
    for (const auto& [name, channels] : v.items()) {
      absl::StatusOr<MessageKind> k = KindNamed(json(name));
      if (!k.ok()) return k.status();
      ChannelMask mask = 0;
      if (absl::Status st = Channels(&mask)(channels); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", st.message()));
      }
      if (*k == MessageKind::kPractitioner && (mask & ~ChannelBit(Channel::kEmail)) != 0) {
        return absl::InvalidArgumentError("practitioner: goes by e-mail only ([\"email\"] or [])");
      }
      if (*k == MessageKind::kSecondReminder && (mask & ~ChannelBit(Channel::kSms)) != 0) {
        return absl::InvalidArgumentError("second_reminder: goes by SMS only ([\"sms\"] or [])");
      }
      next[static_cast<size_t>(*k)] = mask;
      listed |= KindBit(*k);
    }
    *grid = next;
    if (set != nullptr) *set = listed;
    return absl::OkStatus();
  };
}

json KindChannelsJson(const KindChannels& grid, KindMask kinds) {
  json out = json::object();
  for (int k = 1; k <= kMessageKindCount; ++k) {
    if (kinds & (1u << k)) out[std::string(KindName(static_cast<MessageKind>(k)))] = ChannelsJson(grid[k]);
  }
  return out;
}

constexpr KindMask kEveryKind = KindMask(((1u << (kMessageKindCount + 1)) - 1) & ~1u);

template <typename E>
FieldReader Enum(E* out, std::optional<E> (*parse)(std::string_view), std::string_view choices) {
  return [out, parse, choices](const json& v) {
    std::optional<E> e;
    if (v.is_string()) e = parse(v.get_ref<const std::string&>());
    if (!e) return absl::InvalidArgumentError(absl::StrCat("expected one of ", std::string(choices)));
    *out = *e;
    return absl::OkStatus();
  };
}

FieldReader Locale(std::string* out, bool allow_empty) {
  return [out, allow_empty](const json& v) {
    if (!v.is_string()) return absl::InvalidArgumentError("expected \"fr\" or \"en\"");
    const auto& s = v.get_ref<const std::string&>();
    if (s != "fr" && s != "en" && !(allow_empty && s.empty())) {
      return absl::InvalidArgumentError("expected \"fr\" or \"en\"");
    }
    *out = s;
    return absl::OkStatus();
  };
}

constexpr std::array<const char*, 7> kWeekdays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

json SendingHoursJson(const QuietHours& q) {
  json days = json::object();
  for (int d = 0; d < 7; ++d) {
    json ranges = json::array();
    for (const TimeRange& r : q.allowed[d]) ranges.push_back(FormatTimeRange(r));
    days[kWeekdays[d]] = ranges;
  }
  return days;
}

// {"mon": ["08:00-12:00", "14:00-19:00"], ...}: a weekday not listed sends
// nothing.
FieldReader SendingHours(QuietHours* out) {
  return [out](const json& v) {
    if (v.is_null()) {
      *out = QuietHours{};
      return absl::OkStatus();
    }
    if (!v.is_object()) {
      return absl::InvalidArgumentError(
          "expected {\"mon\": [\"08:00-12:00\", ...], ...} by weekday (sun, mon, ... sat)");
    }
    QuietHours q;
    q.enabled = true;
    q.closed_days = out->closed_days;
    for (const auto& [day, ranges] : v.items()) {
      auto it = std::find(kWeekdays.begin(), kWeekdays.end(), day);
      if (it == kWeekdays.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown weekday \"", day, "\" (sun ... sat)"));
      }
      if (!ranges.is_array()) {
        return absl::InvalidArgumentError(absl::StrCat(day, ": expected an array of \"HH:MM-HH:MM\""));
      }
      auto& list = q.allowed[static_cast<size_t>(it - kWeekdays.begin())];
      for (const auto& r : ranges) {
        if (!r.is_string()) return absl::InvalidArgumentError(absl::StrCat(day, ": expected \"HH:MM-HH:MM\""));
        auto range = ParseTimeRange(r.get_ref<const std::string&>());
        if (!range.ok()) return absl::InvalidArgumentError(absl::StrCat(day, ": ", range.status().message()));
        list.push_back(*range);
      }
      std::sort(list.begin(), list.end(),
                [](const TimeRange& a, const TimeRange& b) { return a.start_minute < b.start_minute; });
    }
    if (absl::Status st = Validate(q); !st.ok()) return st;
    *out = std::move(q);
    return absl::OkStatus();
  };
}

FieldReader ClosedDates(QuietHours* out) {
  return [out](const json& v) {
    if (!v.is_array()) return absl::InvalidArgumentError("expected an array of \"YYYY-MM-DD\"");
    std::vector<int32_t> days;
    for (const auto& e : v) {
      if (!e.is_string()) return absl::InvalidArgumentError("expected \"YYYY-MM-DD\"");
      auto d = ParseLocalDate(e.get_ref<const std::string&>());
      if (!d.ok()) return d.status();
      days.push_back(*d);
    }
    std::sort(days.begin(), days.end());
    days.erase(std::unique(days.begin(), days.end()), days.end());
    out->closed_days = std::move(days);
    return absl::OkStatus();
  };
}

}  // namespace

std::string FormatDurationMs(int64_t ms) { return absl::FormatDuration(absl::Milliseconds(ms)); }

bool IsWholeDays(std::string_view text) {
  if (text.size() < 2 || text.size() > 6 || text.back() != 'd') return false;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

std::string FormatOffsetMs(int64_t ms, bool in_days) {
  if (in_days && ms % kDayMs == 0) return absl::StrCat(ms / kDayMs, "d");
  return FormatDurationMs(ms);
}

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  if (IsWholeDays(text)) {
    int64_t days = 0;
    for (size_t i = 0; i + 1 < text.size(); ++i) days = days * 10 + (text[i] - '0');
    return days * kDayMs;
  }
  absl::Duration d;
  if (!absl::ParseDuration(absl::string_view(text.data(), text.size()), &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text), "\" is not a duration (e.g. \"24h\", \"90m\")"));
  }
  return absl::ToInt64Milliseconds(d);
}

namespace {

// Replaces the bad bytes of every string in `j` (keys too); how many
// strings were changed.
size_t ReplaceInvalidStrings(json& j) {
  size_t changed = 0;
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    if (!IsValidUtf8(s)) {
      s = ReplaceInvalidUtf8(s);
      ++changed;
    }
  } else if (j.is_array()) {
    for (json& v : j) changed += ReplaceInvalidStrings(v);
  } else if (j.is_object()) {
    json out = json::object();
    for (auto& [k, v] : j.items()) {
      changed += ReplaceInvalidStrings(v);
      if (IsValidUtf8(k)) {
        out[k] = std::move(v);
      } else {
        out[ReplaceInvalidUtf8(k)] = std::move(v);
        ++changed;
      }
    }
    j = std::move(out);
  }
  return changed;
}

}  // namespace

std::string DumpJson(const json& j, std::string_view what) {
  try {
    return j.dump();
  } catch (const json::type_error&) {
    // Invalid UTF-8 (the only error dump reports): handled below.
  }
  json copy = j;
  size_t changed = ReplaceInvalidStrings(copy);
  static std::mutex mu;
  static std::set<std::string, std::less<>> logged;
  {
    std::lock_guard lock(mu);
    if (logged.insert(std::string(what)).second) {
      std::string name(what);
      LogWarn(absl::StrCat("stored text that is not valid UTF-8 replaced with U+FFFD in ", name,
                           " (", changed, " strings; logged once per ", name, ")"));
    }
  }
  // The replacement rule leaves only valid text, so this cannot throw; if a
  // future nlohmann error did, the lossy handler still returns text.
  return copy.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("the document is not valid JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("the document is not a JSON object");
  return j;
}

json ToJson(const Tenant& t, bool with_secrets) {
  json online = json::array();
  for (int k = 1; k <= kMessageKindCount; ++k) {
    if (t.online_only & (1u << k)) online.push_back(std::string(KindName(static_cast<MessageKind>(k))));
  }
  json j = {
      {"name", t.name},
      {"phone", t.phone},
      {"website", t.website},
      {"time_zone", t.time_zone},
      {"locale", t.locale},
      {"enabled", t.enabled},
      {"channels", ChannelsJson(t.channels)},
      {"channels_by_kind", KindChannelsJson(t.kind_channels, kEveryKind)},
      {"channel_fallback", t.channel_fallback},
      {"reminder_offsets", OffsetsJson(t.reminder_offsets_ms, t.reminder_offsets_in_days)},
      {"pre_visit_offset", FormatOffsetMs(t.pre_visit_offset_ms, t.pre_visit_offset_in_days)},
      {"min_lead", FormatDurationMs(t.min_lead_ms)},
      {"second_reminder", std::string(PolicyName(t.second_reminder))},
      {"second_reminder_offset",
       FormatOffsetMs(t.second_reminder_offset_ms, t.second_reminder_offset_in_days)},
      {"no_show_threshold", t.no_show_threshold},
      {"post_visit_delay", FormatOffsetMs(t.post_visit_delay_ms, t.post_visit_delay_in_days)},
      {"confirm_window", FormatDurationMs(t.confirm_window_ms)},
      {"patient_cancel_allowed", t.patient_cancel_allowed},
      {"cancel_until", FormatDurationMs(t.cancel_until_ms)},
      {"arrival_allowed", t.arrival_allowed},
      {"arrival_window", FormatDurationMs(t.arrival_window_ms)},
      {"online_only", online},
      {"notify_practitioner", t.notify_practitioner},
      {"message_fr", t.message_fr},
      {"message_en", t.message_en},
      {"message_kinds", KindsJson(t.message_kinds)},
      {"sender_name", t.sender_name},
      {"sender_email", t.sender_email},
      {"sender_sms", t.sender_sms},
      {"action_url", t.action_url},
      {"rebook_url", t.rebook_url},
      {"audit_retention", FormatDurationMs(t.audit_retention_ms)},
      {"metered", t.metered},
      {"voice_credits", t.voice_credits},
      {"credit_alert_below", t.credit_alert_below},
      {"credit_fallback_email", t.credit_fallback_email},
      {"admin_email", t.admin_email},
      {"require_consent", t.require_consent},
      {"max_reminders_per_day", t.max_reminders_per_day},
      {"merge_household_sms", t.merge_household_sms},
  };
  if (t.quiet_hours.enabled) j["sending_hours"] = SendingHoursJson(t.quiet_hours);
  json closed = json::array();
  for (int32_t d : t.quiet_hours.closed_days) closed.push_back(FormatLocalDate(d));
  j["closed_dates"] = closed;
  if (with_secrets) j["secret"] = t.secret;
  return j;
}

absl::Status FromJson(const json& j, Tenant* t) {
  std::map<std::string, FieldReader> f = {
      {"name", String(&t->name)},
      {"phone", String(&t->phone)},
      {"website", String(&t->website)},
      {"time_zone", String(&t->time_zone, 64)},
      {"locale", Locale(&t->locale, false)},
      {"enabled", Bool(&t->enabled)},
      {"channels", Channels(&t->channels)},
      {"channels_by_kind", KindChannelsReader(&t->kind_channels, nullptr)},
      {"channel_fallback", Bool(&t->channel_fallback)},
      {"reminder_offsets", Durations(&t->reminder_offsets_ms, &t->reminder_offsets_in_days)},
      {"pre_visit_offset", Duration(&t->pre_visit_offset_ms, 30 * kDayMs, &t->pre_visit_offset_in_days)},
      {"min_lead", Duration(&t->min_lead_ms, 30 * kDayMs)},
      {"second_reminder", Enum(&t->second_reminder, &ParsePolicy, "off, everybody, unreliable")},
      {"second_reminder_offset",
       Duration(&t->second_reminder_offset_ms, 30 * kDayMs, &t->second_reminder_offset_in_days)},
      {"no_show_threshold",
       [t](const json& v) {
         if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
           return absl::InvalidArgumentError("expected a fraction between 0 and 1");
         }
         t->no_show_threshold = v.get<double>();
         return absl::OkStatus();
       }},
      {"post_visit_delay",
       Duration(&t->post_visit_delay_ms, 366 * kDayMs, &t->post_visit_delay_in_days)},
      {"confirm_window", Duration(&t->confirm_window_ms, 366 * kDayMs)},
      {"patient_cancel_allowed", Bool(&t->patient_cancel_allowed)},
      {"cancel_until", Duration(&t->cancel_until_ms, 366 * kDayMs)},
      {"arrival_allowed", Bool(&t->arrival_allowed)},
      {"arrival_window", Duration(&t->arrival_window_ms, kDayMs)},
      {"online_only",
       [t](const json& v) {
         if (!v.is_array()) return absl::InvalidArgumentError("expected an array of message kinds");
         KindMask mask = 0;
         for (const auto& e : v) {
           std::optional<MessageKind> k;
           if (e.is_string()) k = ParseKind(e.get_ref<const std::string&>());
           if (!k) return absl::InvalidArgumentError("unknown message kind");
           mask |= KindBit(*k);
         }
         t->online_only = mask;
         return absl::OkStatus();
       }},
      {"notify_practitioner", Bool(&t->notify_practitioner)},
      {"message_fr", String(&t->message_fr)},
      {"message_en", String(&t->message_en)},
      {"message_kinds", Kinds(&t->message_kinds)},
      {"sender_name", String(&t->sender_name)},
      {"sender_email", String(&t->sender_email)},
      {"sender_sms", String(&t->sender_sms, 16)},
      {"action_url", String(&t->action_url)},
      {"rebook_url", String(&t->rebook_url)},
      {"audit_retention", Duration(&t->audit_retention_ms, 10 * 366 * kDayMs)},
      {"secret", String(&t->secret)},
      {"sending_hours", SendingHours(&t->quiet_hours)},
      {"closed_dates", ClosedDates(&t->quiet_hours)},
      {"metered", Bool(&t->metered)},
      {"voice_credits", Count(&t->voice_credits)},
      {"credit_alert_below",
       [t](const json& v) {
         if (!v.is_number_integer() || v.get<int64_t>() < 0) {
           return absl::InvalidArgumentError("expected a whole number of credits, 0 or more");
         }
         t->credit_alert_below = v.get<int64_t>();
         return absl::OkStatus();
       }},
      {"credit_fallback_email", Bool(&t->credit_fallback_email)},
      {"admin_email", String(&t->admin_email, 256)},
      {"require_consent", Bool(&t->require_consent)},
      {"max_reminders_per_day", Count(&t->max_reminders_per_day)},
      {"merge_household_sms", Bool(&t->merge_household_sms)},
  };
  if (absl::Status st = ReadFields(j, f); !st.ok()) return st;
  // Resolved once here; an unknown name leaves it unresolved (PutObject
  // refuses it; a stored one is reported where it is used).
  if (t->zone.name() != t->time_zone) t->zone = TenantZone(t->time_zone);
  QuietHours& q = t->quiet_hours;
  if (!q.enabled && !q.closed_days.empty()) {
    // Closed dates alone: any hour of the other days.
    q.enabled = true;
    for (auto& day : q.allowed) day = {TimeRange{0, 24 * 60}};
  }
  return absl::OkStatus();
}

json ToJson(const Calendar& c) {
  return {{"name", c.name}, {"email", c.email}, {"channels", ChannelsJson(c.channels)}};
}

absl::Status FromJson(const json& j, Calendar* c) {
  return ReadFields(j, {{"name", String(&c->name)},
                        {"email", String(&c->email)},
                        {"channels", Channels(&c->channels)}});
}

json ToJson(const AppointmentType& t) {
  json j = {{"name", t.name},
            {"mode", std::string(ModeName(t.mode))},
            {"active", t.active},
            {"channels", ChannelsJson(t.channels)},
            {"channels_by_kind", KindChannelsJson(t.kind_channels, t.kind_channels_set)},
            {"recall_interval", FormatOffsetMs(t.recall_interval_ms, t.recall_interval_in_days)},
            {"prerequisites", t.prerequisites},
            {"price", t.price},
            {"duration", FormatDurationMs(t.duration_ms)}};
  if (t.reminder_offsets_ms) {
    j["reminder_offsets"] = OffsetsJson(*t.reminder_offsets_ms, t.reminder_offsets_in_days);
  }
  return j;
}

absl::Status FromJson(const json& j, AppointmentType* t) {
  return ReadFields(
      j, {{"name", String(&t->name)},
          {"mode", Enum(&t->mode, &ParseMode,
                        "on_site, telemedicine, phone, unspecified, no_automated, "
                        "no_communication, hidden")},
          {"active", Bool(&t->active)},
          {"channels", Channels(&t->channels)},
          {"channels_by_kind", KindChannelsReader(&t->kind_channels, &t->kind_channels_set)},
          {"reminder_offsets",
           [t](const json& v) {
             if (v.is_null()) {
               t->reminder_offsets_ms.reset();
               t->reminder_offsets_in_days = 0;
               return absl::OkStatus();
             }
             std::vector<int64_t> offsets;
             if (absl::Status st = Durations(&offsets, &t->reminder_offsets_in_days)(v); !st.ok()) {
               return st;
             }
             t->reminder_offsets_ms = std::move(offsets);
             return absl::OkStatus();
           }},
          {"recall_interval",
           Duration(&t->recall_interval_ms, 5 * 366 * kDayMs, &t->recall_interval_in_days)},
          {"prerequisites", String(&t->prerequisites)},
          {"price", String(&t->price, 64)},
          {"duration", Duration(&t->duration_ms, kDayMs)}});
}

json ToJson(const Patient& p) {
  return {{"first_name", p.first_name}, {"last_name", p.last_name},
          {"email", p.email},           {"mobile", p.mobile},
          {"push_token", p.push_token}, {"locale", p.locale},
          {"notifications", p.notifications},
          {"consent", p.consent},       {"household", p.household},
          {"channels", ChannelsJson(p.channels)},
          {"appointments", p.appointments},
          {"no_shows", p.no_shows}};
}

absl::Status FromJson(const json& j, Patient* p) {
  absl::Status st = ReadFields(j, {{"first_name", String(&p->first_name, 256)},
                                   {"last_name", String(&p->last_name, 256)},
                                   {"email", String(&p->email, 320)},
                                   {"mobile", String(&p->mobile, 32)},
                                   {"push_token", String(&p->push_token, 320)},
                                   {"locale", Locale(&p->locale, true)},
                                   {"notifications", Bool(&p->notifications)},
                                   {"consent", Bool(&p->consent)},
                                   {"household", String(&p->household, 256)},
                                   {"channels", Channels(&p->channels)},
                                   {"appointments", Count(&p->appointments)},
                                   {"no_shows", Count(&p->no_shows)}});
  if (st.ok() && p->no_shows > p->appointments) {
    return Bad("no_shows", "more no-shows than appointments");
  }
  return st;
}

}  // namespace rappel::server::plan
