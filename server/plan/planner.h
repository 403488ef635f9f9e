// The planner: from an appointment, its configuration and the event that
// just happened to it, every message the appointment deserves now, and the
// ones the rules left out with a readable reason. The rules are the
// contract below.
//
// Plan() is a pure function of its input: no clock, no I/O. It runs on
// every appointment upsert, so it is plain arithmetic; it allocates only the
// result vectors and their strings. The one time-zone computation is the
// tenant's sending hours (quiet_hours.h), when it has any: every message's
// due time is placed in them first (the next allowed time, or the last one
// before when the next is too late; else the message is left out with the
// reason), then the rules below apply to the placed time. It does not
// validate (the caller checks ids, end >= start, the time zone).
//
// The caller replaces the appointment's pending planned messages by the
// result: a pending message whose key (MessageKey) is not in
// `messages` is dropped, one whose key is kept is re-timed. So a cancelled
// appointment's reminders go away because they are not planned again.
//
// Contract, in the order the rules are applied:
//
// Gates. The tenant's master switch off, the patient's notifications off,
// or a type mode that sends nothing automated (no_automated,
// no_communication, hidden) leave out every patient message; each kind the
// event or the configuration would have caused gets one Omission (channel
// nullopt) with the reason. The practitioner notification passes the last
// two gates (it is not a patient message) but not the master switch.
//
// Notices, due at now_ms, occurrence = appointment.revision (the
// confirmation: 0, there is one per appointment):
//   created            -> confirmation      (+ practitioner)
//   modified           -> change            (+ practitioner)
//   cancelled          -> cancellation      (+ practitioner)
//   patient cancelled  -> patient_cancel_ack (+ practitioner)
//   confirmed          -> confirm_ack
//   delay alert        -> delay_alert, only when status is none
//   updated, status changed -> no notice, only the re-plan.
// A notice about an appointment that has started (start_ms <= now_ms) is
// not sent: it is too late to be useful; the cancellation alone goes until
// the end (a patient waiting in the room still needs to be told and given
// a rebook link). Confirmation, change, confirm_ack and delay_alert need an
// active (not cancelled) appointment. Expiry: the start (end for the
// cancellation; start + delay for the delay alert, the new arrival time),
// so a notice held back past it (quiet hours, outage) is dropped, not sent
// late.
// The practitioner notification goes by e-mail to calendar.email when
// tenant.notify_practitioner, follows the notice it goes with (same time
// rules and expiry), and of the channel switches heeds only the tenant's
// (the calendar, type, patient and appointment switches are about the
// patient's messages).
//
// Scheduled messages, only while the appointment is active:
//   reminder        start - offset, each offset of the type, else the
//                   tenant's; occurrence = offset in seconds; expiry start.
//   pre_visit       start - tenant.pre_visit_offset_ms (if > 0), on-site
//                   mode only; expiry start.
//   second_reminder start - tenant.second_reminder_offset_ms, SMS only;
//                   by policy (off / everybody / unreliable: no-shows /
//                   appointments >= threshold, with at least one
//                   appointment); never once confirmed; expiry start.
//   post_visit      end + tenant.post_visit_delay_ms (if > 0); no expiry.
//   recall          end + type.recall_interval_ms (if > 0); no expiry.
// The three before the start are not planned when the appointment was
// booked less than tenant.min_lead_ms before the start (booked_at_ms, or
// now_ms when 0: the caller should record when it first heard of the
// appointment so that a re-plan sees the same value). post_visit and
// recall are not planned when the status is absent or excused. Any message
// whose due time is at or before now_ms is not planned ("due time has
// passed"). A visit status other than none does not stop planning: it is
// checked again when a message falls due, so clearing it lets the message
// go (model.h, VisitStatus).
//
// online_only: a kind whose bit is set in tenant.online_only is left out
// for an appointment not booked online (any kind, practitioner included).
//
// Channels: a kind's channels are the appointment type's kind_channels for
// it when the type overrides the kind, else the tenant's (model.h,
// kDefaultKindChannels). Each message goes on every one of them that the
// tenant, calendar, type, patient and appointment switches all allow and
// for which the patient has an address (sms, voice: mobile; email: email;
// push: push_token), not stopped; the recipient is that address. When the
// kind lists channels but none of them can go, and the tenant's
// channel_fallback is on, it goes on the first of sms, email, push (never
// voice) that can, unless a listed channel's address replied STOP. The
// second reminder goes by SMS only; the practitioner notification by
// e-mail only, when its kind lists e-mail. Each channel left out gets one
// Omission per kind: "left out by the kind channels of the tenant" (or
// "of the appointment type") when the kind does not list it, else the
// first switch that is off (tenant first) or the missing address ("...:
// sent by sms instead" when the fallback went); reminders on a kind that
// is left out altogether (e.g. by lead time) do not repeat channel
// omissions. Without omit_tenant_channels, channels the tenant switched
// off are not listed.
//
// Output: messages sorted by (due, kind, channel, occurrence), without
// duplicates (repeated reminder offsets plan one message); omissions in the
// order the rules were applied.
#pragma once

#include "server/plan/model.h"

namespace rappel::server::plan {

PlanResult Plan(const PlanInput& in);

// Send-now: one message of `kind` for the appointment as it is, asked for
// by an operator (AppointmentCommands SendNow). in.event is ignored. The
// same gates and channel switches as Plan() apply (the practitioner's
// e-mail only with notify_practitioner), online_only, and the tenant's
// sending hours (the message may be placed later, never before now_ms). The
// kind must fit the appointment: the cancellation and patient_cancel_ack
// only once it is cancelled, the others (but the practitioner's) only
// while it is active; those about the visit to come only before it starts
// (the cancellation until its end), pre_visit on site only, second_reminder
// by SMS only, delay_alert only with a delay announced and no visit
// status, post_visit and recall not once absent or excused. The occurrence
// is the caller's (kSendNowOccurrence | n). An empty `messages` means it
// was refused: `omitted` says why.
PlanResult PlanSendNow(const PlanInput& in, MessageKind kind, uint32_t occurrence);

}  // namespace rappel::server::plan
