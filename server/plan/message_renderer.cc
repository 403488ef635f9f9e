#include "server/plan/message_renderer.h"

#include "absl/strings/str_cat.h"
#include "server/plan/token.h"

namespace rappel::server::plan {

absl::StatusOr<MessageRenderer::Rendered> MessageRenderer::Render(const BookEntry& e,
                                                                  MessageKind kind,
                                                                  Channel channel,
                                                                  std::string_view also,
                                                                  const MessageRef& ref,
                                                                  int64_t now,
                                                                  bool text_only) {
  const Appointment& a = e.appt;
  const Tenant* t = registry_.FindTenant(a.tenant);
  const Calendar* cal = registry_.FindCalendar(a.tenant, a.calendar);
  const AppointmentType* type = registry_.FindType(a.tenant, a.type);
  const Patient* patient = registry_.FindPatient(a.tenant, a.patient);
  if (t == nullptr || cal == nullptr || type == nullptr || patient == nullptr) {
    return absl::FailedPreconditionError("an object the appointment refers to is gone");
  }
  const Patient& p = *patient;
  Rendered out;
  if (kind == MessageKind::kPractitioner) {
    out.recipient = cal->email;
  } else {
    switch (channel) {
      case Channel::kSms:
      case Channel::kVoice: out.recipient = p.mobile; break;
      case Channel::kEmail: out.recipient = p.email; break;
      case Channel::kPush: out.recipient = p.push_token; break;
    }
  }
  if (out.recipient.empty()) return out;
  // Self-service links, signed with the schedule revision they were issued
  // for (a confirmation does not outdate the cancel link). The
  // messages of one plan share them: the last ones are kept (a plan's
  // messages are costed one after the other, and three HMACs per message
  // were most of that cost).
  std::string links_key;
  if (!t->action_url.empty() && kind != MessageKind::kPractitioner && !IsCancelled(a.lifecycle)) {
    links_key = absl::StrCat(a.tenant, "/", a.id, "/", a.schedule_revision, "/", a.confirmed, "/", now);
  }
  if (links_key != links_cache_.key) {
    links_cache_ = LinksCache{links_key, {}, {}, {}};
    if (!links_key.empty()) {
      auto link = [&](Action action, int64_t expires) {
        std::string token = IssueToken(TokenClaims{a.tenant, a.id, a.schedule_revision, action, expires}, t->secret);
        return absl::StrCat(t->action_url, "?token=", token);
      };
      if (!a.confirmed && a.start_ms > now) links_cache_.confirm = link(Action::kConfirm, a.start_ms);
      if (t->patient_cancel_allowed && a.start_ms - t->cancel_until_ms > now) {
        links_cache_.cancel = link(Action::kCancel, a.start_ms - t->cancel_until_ms);
      }
      if (t->arrival_allowed && a.start_ms > now) {
        links_cache_.arrival = link(Action::kArrival, a.start_ms);
      }
    }
  }
  const std::string& confirm = links_cache_.confirm;
  const std::string& cancel = links_cache_.cancel;
  const std::string& arrival = links_cache_.arrival;
  const ObjectRegistry::TemplatePair* custom =
      registry_.FindTemplate(a.tenant, kind, channel, MessageLocale(*t, p));
  RenderInput in{*t, *cal, *type, p, a, kind, channel, now,
                 custom != nullptr ? &custom->subject : nullptr,
                 custom != nullptr ? &custom->body : nullptr,
                 MessageLinks{confirm, cancel, arrival, t->rebook_url},
                 static_cast<int64_t>(ref.delay_ms), out.recipient, also,
                 ref.cause, ref.previous_start_ms};
  out.track_opens = custom != nullptr && custom->track_opens;
  if (text_only) {
    if (absl::Status st = RenderText(in, &out.text); !st.ok()) return st;
    return out;
  }
  auto payload = RenderMessage(in, &out.text);
  if (!payload.ok()) return payload.status();
  out.payload = std::move(*payload);
  return out;
}

}  // namespace rappel::server::plan
