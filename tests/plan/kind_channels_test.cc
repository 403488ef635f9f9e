// The channels of each message kind: the tenant's grid, the appointment
// type's override, the five switches that narrow them, the fallback, and
// the omissions that say which rule left a channel out; their JSON form.
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/plan/objects_json.h"
#include "server/plan/planner.h"
#include "tests/plan/plan_world.h"
#include "tests/testing/every_channel.h"

namespace rappel::server::plan {
namespace {

using K = MessageKind;
constexpr Channel kSms = Channel::kSms;
constexpr Channel kEmail = Channel::kEmail;
constexpr Channel kVoice = Channel::kVoice;
constexpr Channel kPush = Channel::kPush;
constexpr int64_t kNow = PlanWorld::kNow;

// Every channel on at the tenant; the default grid per kind.
struct World : PlanWorld {
  World() {
    tenant.channels = kAllChannels;
    patient.push_token = "push-1";
    appointment.revision = 2;
  }
};

// The channels `kind` was planned on.
std::vector<Channel> On(const PlanResult& r, K kind) {
  std::vector<Channel> out;
  for (const auto& m : r.messages) {
    if (m.kind == kind && (out.empty() || out.back() != m.channel)) out.push_back(m.channel);
  }
  return out;
}

// The reason `kind` on `channel` was left out ("" when it was not).
std::string Why(const PlanResult& r, K kind, Channel channel) {
  for (const auto& o : r.omitted) {
    if (o.kind == kind && o.channel == channel) return o.reason;
  }
  return "";
}

TEST(KindChannelsTest, TheDefaultGridSendsNoticesByEmailAndRemindersBySms) {
  World w;
  PlanResult r = w.Run(Event::kCreated);
  EXPECT_EQ(On(r, K::kConfirmation), std::vector<Channel>{kEmail});
  EXPECT_EQ(On(r, K::kReminder), (std::vector<Channel>{kSms, kPush}));
  for (Channel c : {kSms, kVoice, kPush}) {
    EXPECT_EQ(Why(r, K::kConfirmation, c), "left out by the kind channels of the tenant");
  }
  EXPECT_EQ(Why(r, K::kReminder, kEmail), "left out by the kind channels of the tenant");
  EXPECT_EQ(Why(r, K::kReminder, kVoice), "left out by the kind channels of the tenant");

  w.appointment.lifecycle = Lifecycle::kCancelledByPractitioner;
  EXPECT_EQ(On(w.Run(Event::kCancelled), K::kCancellation),
            (std::vector<Channel>{kSms, kEmail, kPush}));
  w.appointment.lifecycle = Lifecycle::kCancelledByPatient;
  EXPECT_EQ(On(w.Run(Event::kPatientCancelled), K::kPatientCancelAck),
            std::vector<Channel>{kEmail});
}

TEST(KindChannelsTest, TheTenantGridAndTheTypeOverridePerKind) {
  World w;
  w.tenant.kind_channels[static_cast<size_t>(K::kConfirmation)] =
      ChannelBit(kSms) | ChannelBit(kVoice);
  PlanResult r = w.Run(Event::kCreated);
  EXPECT_EQ(On(r, K::kConfirmation), (std::vector<Channel>{kSms, kVoice}));
  EXPECT_EQ(Why(r, K::kConfirmation, kEmail), "left out by the kind channels of the tenant");

  // The type overrides the kinds it lists, and only those.
  w.type.kind_channels_set = KindBit(K::kConfirmation);
  w.type.kind_channels[static_cast<size_t>(K::kConfirmation)] = ChannelBit(kEmail);
  r = w.Run(Event::kCreated);
  EXPECT_EQ(On(r, K::kConfirmation), std::vector<Channel>{kEmail});
  EXPECT_EQ(Why(r, K::kConfirmation, kSms),
            "left out by the kind channels of the appointment type");
  EXPECT_EQ(On(r, K::kReminder), (std::vector<Channel>{kSms, kPush}));  // the tenant's
  EXPECT_EQ(Why(r, K::kReminder, kEmail), "left out by the kind channels of the tenant");

  // An empty set: the kind is not sent, and nothing falls back.
  w.type.kind_channels_set |= KindBit(K::kReminder);
  w.type.kind_channels[static_cast<size_t>(K::kReminder)] = 0;
  r = w.Run(Event::kCreated);
  EXPECT_TRUE(On(r, K::kReminder).empty());
  EXPECT_EQ(Why(r, K::kReminder, kSms), "left out by the kind channels of the appointment type");
}

TEST(KindChannelsTest, EachSwitchLevelNarrowsTheKindsChannels) {
  struct Level {
    const char* reason;
    std::function<void(World&)> off;  // switches e-mail off at this level
  };
  const std::vector<Level> levels = {
      {"switched off for the tenant", [](World& w) { w.tenant.channels &= ~ChannelBit(kEmail); }},
      {"switched off for the calendar",
       [](World& w) { w.calendar.channels &= ~ChannelBit(kEmail); }},
      {"switched off for the appointment type",
       [](World& w) { w.type.channels &= ~ChannelBit(kEmail); }},
      {"switched off for the patient",
       [](World& w) { w.patient.channels &= ~ChannelBit(kEmail); }},
      {"switched off for the appointment",
       [](World& w) { w.appointment.channels &= ~ChannelBit(kEmail); }},
  };
  for (const Level& level : levels) {
    SCOPED_TRACE(level.reason);
    World w;
    w.tenant.kind_channels[static_cast<size_t>(K::kReminder)] = ChannelBit(kSms) | ChannelBit(kEmail);
    level.off(w);
    PlanResult r = w.Run(Event::kCreated);
    // Narrowed: the reminder keeps its SMS.
    EXPECT_EQ(On(r, K::kReminder), std::vector<Channel>{kSms});
    EXPECT_EQ(Why(r, K::kReminder, kEmail), level.reason);
    // The confirmation's only channel is off: it falls back to SMS, and
    // says so.
    EXPECT_EQ(On(r, K::kConfirmation), std::vector<Channel>{kSms});
    EXPECT_EQ(Why(r, K::kConfirmation, kEmail), std::string(level.reason) + ": sent by sms instead");
    // Without the fallback it is not sent.
    w.tenant.channel_fallback = false;
    r = w.Run(Event::kCreated);
    EXPECT_TRUE(On(r, K::kConfirmation).empty());
    EXPECT_EQ(Why(r, K::kConfirmation, kEmail), level.reason);
  }
}

TEST(KindChannelsTest, TheFallbackReachesAPatientWithoutTheAddressButNeverByVoiceNorPastStop) {
  World w;
  w.patient.email.clear();
  PlanResult r = w.Run(Event::kCreated);
  EXPECT_EQ(On(r, K::kConfirmation), std::vector<Channel>{kSms});
  EXPECT_EQ(Why(r, K::kConfirmation, kEmail), "no e-mail address: sent by sms instead");

  // No mobile either: push, the next in line; never voice.
  w.patient.mobile.clear();
  r = w.Run(Event::kCreated);
  EXPECT_EQ(On(r, K::kConfirmation), std::vector<Channel>{kPush});
  w.patient.push_token.clear();
  w.patient.mobile = "+33600000001";
  w.tenant.channels = ChannelBit(kEmail) | ChannelBit(kVoice);
  r = w.Run(Event::kCreated);
  EXPECT_TRUE(On(r, K::kConfirmation).empty()) << "a phone call nobody asked for";
  EXPECT_EQ(Why(r, K::kConfirmation, kEmail), "no e-mail address");

  // A reminder whose number replied STOP does not go by e-mail instead.
  World s;
  r = s.Run(Event::kCreated, ChannelBit(kSms));
  EXPECT_EQ(On(r, K::kReminder), std::vector<Channel>{kPush});
  s.patient.push_token.clear();
  r = s.Run(Event::kCreated, ChannelBit(kSms));
  EXPECT_TRUE(On(r, K::kReminder).empty());
  EXPECT_EQ(Why(r, K::kReminder, kSms), "the address replied STOP");
}

TEST(KindChannelsTest, ThePractitionerNotificationFollowsItsKindChannels) {
  World w;
  w.tenant.notify_practitioner = true;
  EXPECT_EQ(On(w.Run(Event::kCreated), K::kPractitioner), std::vector<Channel>{kEmail});
  w.type.kind_channels_set = KindBit(K::kPractitioner);
  w.type.kind_channels[static_cast<size_t>(K::kPractitioner)] = 0;
  PlanResult r = w.Run(Event::kCreated);
  EXPECT_TRUE(On(r, K::kPractitioner).empty());
  EXPECT_EQ(Why(r, K::kPractitioner, kEmail),
            "left out by the kind channels of the appointment type");
  w.type.kind_channels_set = 0;
  w.tenant.kind_channels[static_cast<size_t>(K::kPractitioner)] = 0;
  EXPECT_EQ(Why(w.Run(Event::kCreated), K::kPractitioner, kEmail),
            "left out by the kind channels of the tenant");
}

TEST(KindChannelsJsonTest, ParsedValidatedAndRoundTripped) {
  Tenant t;
  ASSERT_TRUE(FromJson(nlohmann::json::parse(R"({"channels_by_kind": {
      "confirmation": ["email", "sms"], "reminder": ["voice"], "post_visit": []},
      "channel_fallback": false, "message_kinds": ["confirmation", "post_visit"]})"),
                       &t)
                  .ok());
  EXPECT_EQ(t.kind_channels[static_cast<size_t>(K::kConfirmation)], ChannelBit(kSms) | ChannelBit(kEmail));
  EXPECT_EQ(t.kind_channels[static_cast<size_t>(K::kReminder)], ChannelBit(kVoice));
  EXPECT_EQ(t.kind_channels[static_cast<size_t>(K::kPostVisit)], 0);
  // A kind not listed keeps the default.
  EXPECT_EQ(t.kind_channels[static_cast<size_t>(K::kChange)],
            kDefaultKindChannels[static_cast<size_t>(K::kChange)]);
  EXPECT_FALSE(t.channel_fallback);
  EXPECT_EQ(t.message_kinds, KindBit(K::kConfirmation) | KindBit(K::kPostVisit));
  Tenant back;
  ASSERT_TRUE(FromJson(ToJson(t), &back).ok());
  EXPECT_EQ(back.kind_channels, t.kind_channels);
  EXPECT_EQ(back.channel_fallback, t.channel_fallback);
  EXPECT_EQ(back.message_kinds, t.message_kinds);
  EXPECT_EQ(ToJson(back), ToJson(t));

  AppointmentType type;
  ASSERT_TRUE(FromJson(nlohmann::json::parse(R"({"channels_by_kind": {"reminder": ["sms", "email"]}})"), &type).ok());
  EXPECT_EQ(type.kind_channels_set, KindBit(K::kReminder));
  EXPECT_EQ(ToJson(type)["channels_by_kind"], nlohmann::json::parse(R"({"reminder": ["sms", "email"]})"));
  AppointmentType type_back;
  ASSERT_TRUE(FromJson(ToJson(type), &type_back).ok());
  EXPECT_EQ(type_back.kind_channels_set, type.kind_channels_set);
  EXPECT_EQ(type_back.kind_channels[static_cast<size_t>(K::kReminder)],
            type.kind_channels[static_cast<size_t>(K::kReminder)]);
  ASSERT_TRUE(FromJson(nlohmann::json::parse(R"({"channels_by_kind": null})"), &type).ok());
  EXPECT_EQ(type.kind_channels_set, 0);

  struct Bad {
    const char* doc;
    const char* error;  // a substring of the message
  };
  for (const Bad& bad : std::vector<Bad>{
           {R"({"channels_by_kind": {"reminders": ["sms"]}})",
            "field \"channels_by_kind\": unknown message kind \"reminders\" (confirmation,"},
           {R"({"channels_by_kind": {"reminder": ["fax"]}})",
            "field \"channels_by_kind\": reminder: unknown channel \"fax\" (sms, email, voice, push)"},
           {R"({"channels_by_kind": {"reminder": "sms"}})", "reminder: expected an array"},
           {R"({"channels_by_kind": ["sms"]})", "expected {"},
           {R"({"channels_by_kind": {"practitioner": ["sms"]}})", "practitioner: goes by e-mail only"},
           {R"({"channels_by_kind": {"second_reminder": ["email"]}})", "SMS only"},
           {R"({"message_kinds": ["reminder", "thanks"]})", "unknown message kind \"thanks\""},
           {R"({"channel_fallback": "yes"})", "field \"channel_fallback\": expected true or false"},
       }) {
    Tenant x;
    absl::Status st = FromJson(nlohmann::json::parse(bad.doc), &x);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad.doc;
    EXPECT_NE(std::string(st.message()).find(bad.error), std::string::npos)
        << bad.doc << " -> " << st.message();
  }
}

}  // namespace
}  // namespace rappel::server::plan


namespace rappel::server::plan {
namespace {

TEST(KindChannelsJsonTest, TheTestsEveryChannelGridListsEveryChannelItMay) {
  Tenant t;
  absl::Status st = FromJson(
      nlohmann::json::parse("{" + std::string(rappel::testing::kEveryChannelPerKind) + "}"), &t);
  ASSERT_TRUE(st.ok()) << st;
  for (int k = 1; k <= kMessageKindCount; ++k) {
    auto kind = static_cast<MessageKind>(k);
    ChannelMask want = kind == MessageKind::kSecondReminder ? ChannelBit(kSms)
                       : kind == MessageKind::kPractitioner ? ChannelBit(kEmail)
                                                            : kAllChannels;
    EXPECT_EQ(t.kind_channels[static_cast<size_t>(k)], want) << KindName(kind);
  }
}

}  // namespace
}  // namespace rappel::server::plan
