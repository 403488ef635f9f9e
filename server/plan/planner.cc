#include "server/plan/planner.h"

#include <algorithm>
#include <array>
#include <tuple>

namespace rappel::server::plan {
namespace {

constexpr std::array<Channel, kChannelCount> kChannels = {Channel::kSms, Channel::kEmail,
                                                          Channel::kVoice, Channel::kPush};
// Where a kind goes when none of its channels reaches the patient: never
// a phone call nobody asked for.
constexpr std::array<Channel, 3> kFallbackOrder = {Channel::kSms, Channel::kEmail, Channel::kPush};

// "24 h", "90 min", "45 s": durations in reasons users read.
std::string FormatDuration(int64_t ms) {
  if (ms % kHourMs == 0) return std::to_string(ms / kHourMs) + " h";
  if (ms % kMinuteMs == 0) return std::to_string(ms / kMinuteMs) + " min";
  return std::to_string(ms / 1000) + " s";
}

std::optional<MessageKind> NoticeFor(Event e) {
  switch (e) {
    case Event::kCreated: return MessageKind::kConfirmation;
    case Event::kModified: return MessageKind::kChange;
    case Event::kCancelled: return MessageKind::kCancellation;
    case Event::kPatientCancelled: return MessageKind::kPatientCancelAck;
    case Event::kConfirmed: return MessageKind::kConfirmAck;
    case Event::kDelayAlert: return MessageKind::kDelayAlert;
    case Event::kUpdated:
    case Event::kStatusChanged: return std::nullopt;
  }
  return std::nullopt;
}

bool NotifiesPractitioner(Event e) {
  return e == Event::kCreated || e == Event::kModified || e == Event::kCancelled ||
         e == Event::kPatientCancelled;
}

bool AbsentOrExcused(VisitStatus s) {
  return s == VisitStatus::kAbsent || s == VisitStatus::kExcused;
}

class Planner {
 public:
  Planner(const PlanInput& in, PlanResult* out) : in_(in), out_(*out) {}

  void Run() {
    const Tenant& t = in_.tenant;
    std::optional<MessageKind> notice = NoticeFor(in_.event);
    bool practitioner = t.notify_practitioner && NotifiesPractitioner(in_.event);

    if (!t.enabled) {
      if (practitioner) Omit(MessageKind::kPractitioner, "tenant switched off");
      OmitAllPatientKinds(notice, "tenant switched off");
      return;
    }
    if (practitioner) PlanPractitioner(*notice);

    if (!in_.patient.notifications) {
      OmitAllPatientKinds(notice, "patient has notifications switched off");
    } else if (t.require_consent && !in_.patient.consent) {
      OmitAllPatientKinds(notice, "no consent: the tenant requires the patient's opt-in");
    } else if (!SendsAutomated(in_.type.mode)) {
      OmitAllPatientKinds(notice, "appointment type mode " + std::string(ModeName(in_.type.mode)) +
                                      " sends nothing automated");
    } else {
      EvaluateChannels();
      if (notice) PlanNotice(*notice);
      if (!IsCancelled(in_.appointment.lifecycle)) PlanScheduled();
    }

    std::sort(out_.messages.begin(), out_.messages.end(),
              [](const PlannedMessage& a, const PlannedMessage& b) {
                return std::tie(a.due_ms, a.kind, a.channel, a.occurrence) <
                       std::tie(b.due_ms, b.kind, b.channel, b.occurrence);
              });
  }

  // PlanSendNow (planner.h): the gates, then `kind` alone, due now.
  void SendNow(MessageKind kind, uint32_t occurrence) {
    const Tenant& t = in_.tenant;
    const Appointment& a = in_.appointment;
    if (!t.enabled) return Omit(kind, "tenant switched off");
    if (kind == MessageKind::kPractitioner) {
      if (!t.notify_practitioner) return Omit(kind, "the tenant does not notify practitioners");
      if (OnlineOnlyOmits(kind)) return;
      if (in_.calendar.email.empty()) {
        return Omit(kind, "calendar has no e-mail address", Channel::kEmail);
      }
      if ((t.channels & ChannelBit(Channel::kEmail)) == 0) {
        return Omit(kind, "switched off for the tenant", Channel::kEmail);
      }
      int64_t due = in_.now_ms;
      if (!Placed(kind, &due, 0)) return;
      out_.messages.push_back(
          PlannedMessage{kind, Channel::kEmail, occurrence, due, 0, in_.calendar.email, moved_});
      return;
    }
    if (!in_.patient.notifications) return Omit(kind, "patient has notifications switched off");
    if (t.require_consent && !in_.patient.consent) {
      return Omit(kind, "no consent: the tenant requires the patient's opt-in");
    }
    if (!SendsAutomated(in_.type.mode)) {
      return Omit(kind, "appointment type mode " + std::string(ModeName(in_.type.mode)) +
                            " sends nothing automated");
    }
    bool about_cancellation =
        kind == MessageKind::kCancellation || kind == MessageKind::kPatientCancelAck;
    if (about_cancellation != IsCancelled(a.lifecycle)) {
      return Omit(kind, about_cancellation ? "appointment is not cancelled"
                                           : "appointment is cancelled");
    }
    bool after_visit = kind == MessageKind::kPostVisit || kind == MessageKind::kRecall;
    int64_t expiry = 0;  // post-visit and recall: none, as planned
    if (!after_visit) {
      expiry = kind == MessageKind::kCancellation ? std::max(a.end_ms, a.start_ms)
               : kind == MessageKind::kDelayAlert
                   ? a.start_ms + std::max<int64_t>(a.delay_ms, 0)
                   : a.start_ms;
      if (expiry <= in_.now_ms) {
        return Omit(kind, kind == MessageKind::kCancellation ? "appointment is over"
                                                             : "appointment has already started");
      }
    }
    if (after_visit && AbsentOrExcused(a.status)) {
      return Omit(kind, "visit status is " + std::string(VisitStatusName(a.status)));
    }
    if (kind == MessageKind::kDelayAlert) {
      if (a.delay_ms <= 0) return Omit(kind, "no delay announced for the calendar");
      if (a.status != VisitStatus::kNone) {
        return Omit(kind, "visit status is " + std::string(VisitStatusName(a.status)));
      }
    }
    if (kind == MessageKind::kPreVisit && in_.type.mode != Mode::kOnSite) {
      return Omit(kind, "pre-visit questionnaire only for on-site appointments");
    }
    if (OnlineOnlyOmits(kind)) return;
    int64_t due = in_.now_ms;
    if (!Placed(kind, &due, expiry)) return;
    EvaluateChannels();
    ChannelMask candidates =
        kind == MessageKind::kSecondReminder ? ChannelBit(Channel::kSms) : kAllChannels;
    Emit(kind, candidates, occurrence, due, expiry);
  }

 private:
  void Omit(MessageKind kind, std::string reason, std::optional<Channel> channel = std::nullopt) {
    out_.omitted.push_back(Omission{kind, channel, std::move(reason)});
  }

  // The gates: one omission for each kind the event or the configuration
  // would otherwise have caused, so the dry run shows what was switched off.
  void OmitAllPatientKinds(std::optional<MessageKind> notice, const std::string& reason) {
    const Tenant& t = in_.tenant;
    if (notice) Omit(*notice, reason);
    if (IsCancelled(in_.appointment.lifecycle)) return;
    const auto& offsets = in_.type.reminder_offsets_ms ? *in_.type.reminder_offsets_ms
                                                       : t.reminder_offsets_ms;
    if (!offsets.empty()) Omit(MessageKind::kReminder, reason);
    if (t.pre_visit_offset_ms > 0) Omit(MessageKind::kPreVisit, reason);
    if (t.second_reminder != SecondReminderPolicy::kOff) Omit(MessageKind::kSecondReminder, reason);
    if (t.post_visit_delay_ms > 0) Omit(MessageKind::kPostVisit, reason);
    if (in_.type.recall_interval_ms > 0) Omit(MessageKind::kRecall, reason);
  }

  // Why the notice of the current event is not sent (empty: it is).
  std::string NoticeBlocked() const {
    const Appointment& a = in_.appointment;
    Event e = in_.event;
    bool needs_active = e == Event::kCreated || e == Event::kModified ||
                        e == Event::kConfirmed || e == Event::kDelayAlert;
    if (needs_active && IsCancelled(a.lifecycle)) return "appointment is cancelled";
    if (e == Event::kCancelled) {
      if (std::max(a.end_ms, a.start_ms) <= in_.now_ms) return "appointment is over";
    } else if (a.start_ms <= in_.now_ms) {
      return "appointment has already started";
    }
    if (e == Event::kDelayAlert && a.status != VisitStatus::kNone) {
      return "visit status is " + std::string(VisitStatusName(a.status));
    }
    return {};
  }

  int64_t NoticeExpiry(MessageKind kind) const {
    const Appointment& a = in_.appointment;
    switch (kind) {
      case MessageKind::kCancellation: return std::max(a.end_ms, a.start_ms);
      case MessageKind::kDelayAlert: return a.start_ms + std::max<int64_t>(a.delay_ms, 0);
      default: return a.start_ms;
    }
  }

  bool OnlineOnlyOmits(MessageKind kind) {
    if ((in_.tenant.online_only & KindBit(kind)) == 0 || in_.appointment.booked_online) {
      return false;
    }
    Omit(kind, "only for appointments booked online");
    return true;
  }

  // `patient_kind`: the notice the practitioner notification goes with.
  void PlanPractitioner(MessageKind patient_kind) {
    const Tenant& t = in_.tenant;
    std::string blocked = NoticeBlocked();
    if (!blocked.empty()) {
      Omit(MessageKind::kPractitioner, std::move(blocked));
      return;
    }
    if (OnlineOnlyOmits(MessageKind::kPractitioner)) return;
    if (in_.calendar.email.empty()) {
      Omit(MessageKind::kPractitioner, "calendar has no e-mail address", Channel::kEmail);
      return;
    }
    bool from_type = false;
    if ((KindChannelsOf(t, in_.type, MessageKind::kPractitioner, &from_type) &
         ChannelBit(Channel::kEmail)) == 0) {
      Omit(MessageKind::kPractitioner,
           from_type ? "left out by the kind channels of the appointment type"
                     : "left out by the kind channels of the tenant",
           Channel::kEmail);
      return;
    }
    if ((t.channels & ChannelBit(Channel::kEmail)) == 0) {
      Omit(MessageKind::kPractitioner, "switched off for the tenant", Channel::kEmail);
      return;
    }
    out_.messages.push_back(PlannedMessage{MessageKind::kPractitioner, Channel::kEmail,
                                           in_.appointment.revision, in_.now_ms,
                                           NoticeExpiry(patient_kind), in_.calendar.email});
  }

  // Once per Plan(): which channels the five switches and the patient's
  // addresses allow, and why not the others.
  void EvaluateChannels() {
    const Patient& p = in_.patient;
    for (Channel c : kChannels) {
      ChannelMask bit = ChannelBit(c);
      int i = static_cast<int>(c);
      const std::string* address = c == Channel::kEmail  ? &p.email
                                   : c == Channel::kPush ? &p.push_token
                                                         : &p.mobile;
      address_[i] = address;
      std::string_view& why = off_reason_[i];
      if ((in_.tenant.channels & bit) == 0) {
        why = "switched off for the tenant";
      } else if ((in_.calendar.channels & bit) == 0) {
        why = "switched off for the calendar";
      } else if ((in_.type.channels & bit) == 0) {
        why = "switched off for the appointment type";
      } else if ((p.channels & bit) == 0) {
        why = "switched off for the patient";
      } else if ((in_.appointment.channels & bit) == 0) {
        why = "switched off for the appointment";
      } else if (address->empty()) {
        why = c == Channel::kEmail  ? "no e-mail address"
              : c == Channel::kPush ? "no push token"
                                    : "no mobile number";
      } else if ((in_.stopped_channels & bit) != 0) {
        why = "the address replied STOP";
      } else {
        why = {};
      }
    }
  }

  // One message per channel of `candidates` that the kind's channels (the
  // type's override, else the tenant's) list and the switches allow; when
  // none of them can go, the fallback channel (channel_fallback). The
  // channels left out are recorded once per kind.
  void Emit(MessageKind kind, ChannelMask candidates, uint32_t occurrence, int64_t due,
            int64_t expiry) {
    bool record = (channels_omitted_ & KindBit(kind)) == 0;
    channels_omitted_ |= KindBit(kind);
    bool from_type = false;
    ChannelMask grid = KindChannelsOf(in_.tenant, in_.type, kind, &from_type) & candidates;
    Channel fallback{};
    bool has_fallback = false;
    if (grid != 0 && in_.tenant.channel_fallback) {
      bool reached = false, stopped = false;
      for (Channel c : kChannels) {
        if ((grid & ChannelBit(c)) == 0) continue;
        reached |= off_reason_[static_cast<int>(c)].empty();
        stopped |= (in_.stopped_channels & ChannelBit(c)) != 0;
      }
      // (The patient's STOP on a channel of the kind is not a reason to
      // reach them elsewhere.)
      for (Channel c : kFallbackOrder) {
        if (reached || stopped || has_fallback) break;
        if ((candidates & ChannelBit(c)) != 0 && (grid & ChannelBit(c)) == 0 &&
            off_reason_[static_cast<int>(c)].empty()) {
          fallback = c;
          has_fallback = true;
        }
      }
    }
    for (Channel c : kChannels) {
      if ((candidates & ChannelBit(c)) == 0) continue;
      int i = static_cast<int>(c);
      bool listed = (grid & ChannelBit(c)) != 0;
      if ((listed && off_reason_[i].empty()) || (has_fallback && c == fallback)) {
        out_.messages.push_back(
            PlannedMessage{kind, c, occurrence, due, expiry, *address_[i], moved_});
        continue;
      }
      if (!record || (!in_.omit_tenant_channels && (in_.tenant.channels & ChannelBit(c)) == 0)) {
        continue;
      }
      if (!listed) {
        Omit(kind, from_type ? "left out by the kind channels of the appointment type"
                             : "left out by the kind channels of the tenant",
             c);
      } else if (has_fallback) {
        Omit(kind,
             std::string(off_reason_[i]) + ": sent by " + std::string(ChannelName(fallback)) +
                 " instead",
             c);
      } else {
        Omit(kind, std::string(off_reason_[i]), c);
      }
    }
  }

  void PlanNotice(MessageKind kind) {
    std::string blocked = NoticeBlocked();
    if (!blocked.empty()) {
      Omit(kind, std::move(blocked));
      return;
    }
    if (OnlineOnlyOmits(kind)) return;
    uint32_t occurrence = kind == MessageKind::kConfirmation ? 0 : in_.appointment.revision;
    int64_t due = in_.now_ms;
    if (!Placed(kind, &due, NoticeExpiry(kind))) return;
    Emit(kind, kAllChannels, occurrence, due, NoticeExpiry(kind));
  }

  // Lead time and the past, shared by the messages before the start.
  bool LeadTimeOmits(MessageKind kind) {
    const Appointment& a = in_.appointment;
    int64_t booked_at = a.booked_at_ms != 0 ? a.booked_at_ms : in_.now_ms;
    int64_t lead = a.start_ms - booked_at;
    if (lead >= in_.tenant.min_lead_ms) return false;
    Omit(kind, "booked " + FormatDuration(lead) + " before the start, under the " +
                   FormatDuration(in_.tenant.min_lead_ms) + " minimum lead time");
    return true;
  }

  // The tenant's sending hours (quiet_hours.h): moves *due to the next
  // allowed time, or to the last one before it when the next is at or
  // after `deadline` (0: none); false (and an omission) when neither works.
  bool Placed(MessageKind kind, int64_t* due, int64_t deadline) {
    const Tenant& t = in_.tenant;
    moved_ = false;
    if (!t.quiet_hours.enabled) return true;
    Placement p = Place(t.quiet_hours, t.zone, *due, deadline, in_.now_ms);
    if (p.kind == Placement::Kind::kDropped) {
      Omit(kind, std::move(p.reason));
      return false;
    }
    moved_ = p.at_ms != *due;
    *due = p.at_ms;
    return true;
  }

  // `offset` before `start`: the same local time `offset` / 24 h days
  // before when it was given in days (across a daylight-saving change too;
  // a local time the change skips is its transition, a repeated one its
  // first occurrence), else exactly `offset` earlier.
  int64_t Before(int64_t start, int64_t offset, bool in_days) const {
    const TenantZone& zone = in_.tenant.zone;
    if (!in_days || !zone.ok()) return start - offset;
    return zone.ToInstant(start + zone.OffsetMsAt(start) - offset, /*earliest=*/true);
  }
  int64_t After(int64_t end, int64_t delay, bool in_days) const {
    const TenantZone& zone = in_.tenant.zone;
    if (!in_days || !zone.ok()) return end + delay;
    return zone.ToInstant(end + zone.OffsetMsAt(end) + delay, /*earliest=*/true);
  }

  // A reminder already due when the appointment was booked or last moved
  // is not sent, even if the sending hours would hold it to a later
  // opening (it would go out with the confirmation).
  bool PassedAtBookingOmits(MessageKind kind, int64_t due, int64_t offset, bool in_days) {
    const Appointment& a = in_.appointment;
    int64_t scheduled = a.scheduled_at_ms != 0 ? a.scheduled_at_ms : in_.now_ms;
    if (due > scheduled) return false;
    // (Said the same way as a reminder found past at a re-plan, and marked
    // when the booking or move was earlier than this plan.)
    Omit(kind, "due time has passed (" +
                   (in_days ? std::to_string(offset / kDayMs) + " d" : FormatDuration(offset)) +
                   " before the start)" +
                   (scheduled < in_.now_ms ? " when the appointment was booked or moved" : ""));
    return true;
  }

  bool PastOmits(MessageKind kind, int64_t due) {
    if (due > in_.now_ms) return false;
    Omit(kind, "due time has passed");
    return true;
  }

  void PlanScheduled() {
    const Tenant& t = in_.tenant;
    const Appointment& a = in_.appointment;

    const auto& offsets = in_.type.reminder_offsets_ms ? *in_.type.reminder_offsets_ms
                                                       : t.reminder_offsets_ms;
    const uint32_t offsets_in_days = in_.type.reminder_offsets_ms
                                         ? in_.type.reminder_offsets_in_days
                                         : t.reminder_offsets_in_days;
    if (!offsets.empty() && !OnlineOnlyOmits(MessageKind::kReminder) &&
        !LeadTimeOmits(MessageKind::kReminder)) {
      for (size_t i = 0; i < offsets.size(); ++i) {
        int64_t offset = offsets[i];
        if (offset <= 0) {
          Omit(MessageKind::kReminder,
               "reminder offset " + FormatDuration(offset) + " is not before the start");
          continue;
        }
        auto occurrence = static_cast<uint32_t>(offset / 1000);
        bool repeated = false;  // the same offset twice: one message (one key)
        for (size_t j = 0; j < i && !repeated; ++j) {
          repeated = offsets[j] > 0 && offsets[j] / 1000 == offset / 1000;
        }
        if (repeated) continue;
        bool in_days = i < 32 && (offsets_in_days >> i & 1) != 0;
        int64_t due = Before(a.start_ms, offset, in_days);
        if (PassedAtBookingOmits(MessageKind::kReminder, due, offset, in_days)) continue;
        // Placed first: a reminder due at night but held to the morning is
        // still ahead (and still planned) at a re-plan before the morning.
        if (!Placed(MessageKind::kReminder, &due, a.start_ms)) continue;
        if (due <= in_.now_ms) {
          Omit(MessageKind::kReminder,
               "due time has passed (" + FormatDuration(offset) + " before the start)");
          continue;
        }
        Emit(MessageKind::kReminder, kAllChannels, occurrence, due, a.start_ms);
      }
    }

    if (t.pre_visit_offset_ms > 0 && !OnlineOnlyOmits(MessageKind::kPreVisit)) {
      int64_t due = Before(a.start_ms, t.pre_visit_offset_ms, t.pre_visit_offset_in_days);
      if (in_.type.mode != Mode::kOnSite) {
        Omit(MessageKind::kPreVisit, "pre-visit questionnaire only for on-site appointments");
      } else if (!LeadTimeOmits(MessageKind::kPreVisit) &&
                 !PassedAtBookingOmits(MessageKind::kPreVisit, due, t.pre_visit_offset_ms,
                                       t.pre_visit_offset_in_days) &&
                 Placed(MessageKind::kPreVisit, &due, a.start_ms) &&
                 !PastOmits(MessageKind::kPreVisit, due)) {
        Emit(MessageKind::kPreVisit, kAllChannels, 0, due, a.start_ms);
      }
    }

    if (t.second_reminder != SecondReminderPolicy::kOff &&
        !OnlineOnlyOmits(MessageKind::kSecondReminder)) {
      const Patient& p = in_.patient;
      int64_t due =
          Before(a.start_ms, t.second_reminder_offset_ms, t.second_reminder_offset_in_days);
      if (a.confirmed) {
        Omit(MessageKind::kSecondReminder, "confirmed by the patient");
      } else if (t.second_reminder == SecondReminderPolicy::kUnreliable &&
                 (p.appointments == 0 ||
                  static_cast<double>(p.no_shows) / p.appointments < t.no_show_threshold)) {
        Omit(MessageKind::kSecondReminder,
             p.appointments == 0 ? "only for unreliable patients; no attendance history yet"
                                 : "only for unreliable patients; no-show rate under the threshold");
      } else if (!LeadTimeOmits(MessageKind::kSecondReminder) &&
                 !PassedAtBookingOmits(MessageKind::kSecondReminder, due,
                                       t.second_reminder_offset_ms,
                                       t.second_reminder_offset_in_days) &&
                 Placed(MessageKind::kSecondReminder, &due, a.start_ms) &&
                 !PastOmits(MessageKind::kSecondReminder, due)) {
        Emit(MessageKind::kSecondReminder, ChannelBit(Channel::kSms), 0, due, a.start_ms);
      }
    }

    PlanAfterVisit(MessageKind::kPostVisit, t.post_visit_delay_ms, t.post_visit_delay_in_days);
    PlanAfterVisit(MessageKind::kRecall, in_.type.recall_interval_ms,
                   in_.type.recall_interval_in_days);
  }

  void PlanAfterVisit(MessageKind kind, int64_t delay, bool in_days) {
    const Appointment& a = in_.appointment;
    if (delay <= 0 || OnlineOnlyOmits(kind)) return;
    if (AbsentOrExcused(a.status)) {
      Omit(kind, "visit status is " + std::string(VisitStatusName(a.status)));
      return;
    }
    int64_t due = After(a.end_ms, delay, in_days);
    if (!Placed(kind, &due, 0) || PastOmits(kind, due)) return;
    // No expiry: a thank-you or a recall sent late is still worth sending.
    Emit(kind, kAllChannels, 0, due, 0);
  }

  const PlanInput& in_;
  PlanResult& out_;
  bool moved_ = false;  // the last Placed() moved the due time (read by Emit)
  std::array<std::string_view, kChannelCount + 1> off_reason_{};
  std::array<const std::string*, kChannelCount + 1> address_{};
  KindMask channels_omitted_ = 0;
};

}  // namespace

PlanResult Plan(const PlanInput& in) {
  PlanResult result;
  Planner(in, &result).Run();
  return result;
}

PlanResult PlanSendNow(const PlanInput& in, MessageKind kind, uint32_t occurrence) {
  PlanResult result;
  Planner(in, &result).SendNow(kind, occurrence);
  return result;
}

}  // namespace rappel::server::plan
