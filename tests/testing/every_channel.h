// A tenant's channels_by_kind that sends every message kind on every
// channel the switches allow, as rappel did before kinds had channels of
// their own: for tests about other rules (the kind channels and their
// default grid are tested in tests/plan/kind_channels_test.cc and
// notices_test.cc).
#pragma once

namespace rappel::testing {

// A JSON member, to put in a tenant document: `{"name": "x", <this>}`.
inline constexpr const char* kEveryChannelPerKind =
    R"("channels_by_kind": {)"
    R"("confirmation": ["sms", "email", "voice", "push"], "change": ["sms", "email", "voice", "push"], )"
    R"("cancellation": ["sms", "email", "voice", "push"], )"
    R"("patient_cancel_ack": ["sms", "email", "voice", "push"], )"
    R"("confirm_ack": ["sms", "email", "voice", "push"], "reminder": ["sms", "email", "voice", "push"], )"
    R"("pre_visit": ["sms", "email", "voice", "push"], "second_reminder": ["sms"], )"
    R"("post_visit": ["sms", "email", "voice", "push"], "recall": ["sms", "email", "voice", "push"], )"
    R"("practitioner": ["email"], "delay_alert": ["sms", "email", "voice", "push"]})";

}  // namespace rappel::testing
