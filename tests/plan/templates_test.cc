#include "server/plan/templates.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rappel::server::plan {
namespace {

VariableValues Values() {
  VariableValues v;
  At(v, Var::kPatientFirstName) = "Jean";
  At(v, Var::kDateLong) = "lundi 3 juin";
  At(v, Var::kStartTime) = "10:00";
  At(v, Var::kPractitioner) = "Dr Martin";
  return v;
}

std::string RenderText(std::string_view text, const VariableValues& v) {
  auto t = CompileTemplate(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? Render(*t, v) : "";
}

TEST(TemplatesTest, VariableNamesAreUniqueSnakeCaseAndDescribed) {
  std::set<std::string_view> names;
  for (const VariableInfo& info : kVariables) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_FALSE(info.description.empty()) << info.name;
    for (char c : info.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << info.name;
    Var v;
    ASSERT_TRUE(FindVariable(info.name, &v));
    EXPECT_EQ(kVariables[static_cast<size_t>(v)].name, info.name);
  }
  Var v;
  EXPECT_TRUE(FindVariable("rebook_link", &v));
  EXPECT_EQ(v, Var::kRebookLink);
  EXPECT_FALSE(FindVariable("foo", &v));
}

TEST(TemplatesTest, RendersVariablesAndLiterals) {
  EXPECT_EQ(RenderText("Bonjour {patient_first_name}, rendez-vous le {date_long} à {start_time} "
                       "avec {practitioner}.",
                       Values()),
            "Bonjour Jean, rendez-vous le lundi 3 juin à 10:00 avec Dr Martin.");
  EXPECT_EQ(RenderText("", Values()), "");
  EXPECT_EQ(RenderText("no variables", Values()), "no variables");
  EXPECT_EQ(RenderText("{start_time}{start_time}", Values()), "10:0010:00");
}

TEST(TemplatesTest, DoubledBracesAreLiteral) {
  EXPECT_EQ(RenderText("{{patient_first_name}} is {patient_first_name}", Values()),
            "{patient_first_name} is Jean");
  EXPECT_EQ(RenderText("a {{ b", Values()), "a { b");
  EXPECT_EQ(RenderText("a } b }} c", Values()), "a } b } c");
  EXPECT_EQ(RenderText("{{{start_time}}}", Values()), "{10:00}");
}

TEST(TemplatesTest, UnknownVariableIsNamed) {
  auto t = CompileTemplate("Hello {foo}!");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "unknown variable {foo} in template");
  EXPECT_EQ(CompileTemplate("{}").status().message(), "unknown variable {} in template");
  EXPECT_FALSE(CompileTemplate("{Patient_First_Name}").ok());  // names are case-sensitive
  EXPECT_FALSE(CompileTemplate("{ start_time }").ok());
}

TEST(TemplatesTest, UnclosedBraceIsRefused) {
  for (std::string_view text :
       {"Hello {patient_first_name", "{", "x {start_time\n}", "{a{start_time}"}) {
    auto t = CompileTemplate(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("unclosed brace"), std::string::npos) << t.status();
  }
  EXPECT_EQ(CompileTemplate("ab {x").status().message(), "unclosed brace at offset 3 in template");
  EXPECT_FALSE(CompileTemplate("{" + std::string(200, 'a') + "}").ok());
  EXPECT_FALSE(CompileTemplate(std::string(kMaxTemplateSize + 1, 'a')).ok());
  EXPECT_TRUE(CompileTemplate(std::string(kMaxTemplateSize, 'a')).ok());
}

TEST(TemplatesTest, SectionsAreKeptOnlyWhenTheirVariableIsSet) {
  VariableValues v = Values();
  const std::string text =
      "Hi.{?confirm_link} Confirm: {confirm_link}{/confirm_link}\n"
      "{?cancel_link}Cancel: {cancel_link}\n{/cancel_link}end";
  EXPECT_EQ(RenderText(text, v), "Hi.\nend");
  At(v, Var::kConfirmLink) = "https://c";
  EXPECT_EQ(RenderText(text, v), "Hi. Confirm: https://c\nend");
  At(v, Var::kCancelLink) = "https://x";
  EXPECT_EQ(RenderText(text, v), "Hi. Confirm: https://c\nCancel: https://x\nend");
  // Nested; the outer one decides first.
  const std::string nested = "[{?location}at {location}{?notes} ({notes}){/notes}{/location}]";
  EXPECT_EQ(RenderText(nested, v), "[]");
  At(v, Var::kNotes) = "room 2";
  EXPECT_EQ(RenderText(nested, v), "[]");
  At(v, Var::kLocation) = "Paris";
  EXPECT_EQ(RenderText(nested, v), "[at Paris (room 2)]");
  At(v, Var::kNotes).clear();
  EXPECT_EQ(RenderText(nested, v), "[at Paris]");
  // A section need not use its variable.
  EXPECT_EQ(RenderText("{?location}X{/location}", v), "X");
  EXPECT_EQ(RenderText("{?notes}X{/notes}", v), "");
  auto t = CompileTemplate("{?rebook_link}x{/rebook_link}");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Uses(Var::kRebookLink));
}

TEST(TemplatesTest, UnbalancedSectionsAreRefused) {
  EXPECT_EQ(CompileTemplate("a {?notes} b").status().message(),
            "unclosed section {?notes} in template");
  EXPECT_EQ(CompileTemplate("a {/notes} b").status().message(),
            "{/notes} closes no section in template");
  EXPECT_EQ(CompileTemplate("{?notes}{?location}{/notes}{/location}").status().message(),
            "{/notes} closes no section in template");
  EXPECT_EQ(CompileTemplate("{?nope}x{/nope}").status().message(),
            "unknown variable {nope} in template");
  EXPECT_EQ(CompileTemplate("{?}").status().message(), "unknown variable {} in template");
  EXPECT_TRUE(CompileTemplate("{{?notes}}").ok());  // literal text, not a section
  EXPECT_EQ(RenderText("{{?notes}}", Values()), "{?notes}");
}

TEST(TemplatesTest, UsesRecordsVariables) {
  auto t = CompileTemplate("{start_time} {rebook_link}");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Uses(Var::kStartTime));
  EXPECT_TRUE(t->Uses(Var::kRebookLink));
  EXPECT_FALSE(t->Uses(Var::kDate));
  EXPECT_EQ(t->source, "{start_time} {rebook_link}");
}

TEST(TemplatesTest, EmptyVariablesLeaveNoGaps) {
  VariableValues v = Values();
  EXPECT_EQ(RenderText("à {start_time} {mode_text}.", v), "à 10:00.");
  EXPECT_EQ(RenderText("à {start_time} {mode_text} avec X", v), "à 10:00 avec X");
  EXPECT_EQ(RenderText("fin. {prerequisites}", v), "fin.");
  EXPECT_EQ(RenderText("fin. {prerequisites} Confirmer", v), "fin. Confirmer");
  EXPECT_EQ(RenderText("a\n{location}\n{prerequisites}\nb", v), "a\nb");
  EXPECT_EQ(RenderText("{location}\nb", v), "b");
  At(v, Var::kModeText) = "par téléphone";
  At(v, Var::kPrerequisites) = "À jeun.";
  EXPECT_EQ(RenderText("à {start_time} {mode_text}. {prerequisites}", v),
            "à 10:00 par téléphone. À jeun.");
  EXPECT_EQ(RenderText("a\n{prerequisites}\nb", v), "a\nÀ jeun.\nb");
}

TEST(TemplatesTest, EveryDefaultTemplateCompiles) {
  const Channel channels[] = {Channel::kSms, Channel::kEmail, Channel::kVoice, Channel::kPush};
  for (std::string_view locale : {"fr", "en"}) {
    for (int k = 1; k <= kMessageKindCount; ++k) {
      auto kind = static_cast<MessageKind>(k);
      for (Channel ch : channels) {
        const DefaultTemplate& d = DefaultTemplateFor(kind, ch, locale);
        std::string what = std::string(locale) + "/" + std::string(KindName(kind)) + "/" +
                           std::string(ChannelName(ch));
        auto body = CompileTemplate(d.body_text);
        ASSERT_TRUE(body.ok()) << what << ": " << body.status();
        auto subject = CompileTemplate(d.subject_text);
        ASSERT_TRUE(subject.ok()) << what << ": " << subject.status();
        EXPECT_FALSE(d.body.empty()) << what;
        EXPECT_EQ(d.body.source, d.body_text) << what;
        // Only e-mail has a subject.
        EXPECT_EQ(ch == Channel::kEmail, !d.subject_text.empty()) << what;
        // SMS: short, at most one link.
        if (ch == Channel::kSms || ch == Channel::kVoice || ch == Channel::kPush) {
          int links = d.body.Uses(Var::kConfirmLink) + d.body.Uses(Var::kCancelLink) +
                      d.body.Uses(Var::kArrivalLink) + d.body.Uses(Var::kRebookLink);
          EXPECT_LE(links, ch == Channel::kVoice ? 0 : 1) << what;
          EXPECT_LE(d.body.literals.size(), 120u) << what;  // the fixed text, variables apart
        }
      }
    }
  }
}

TEST(TemplatesTest, DefaultsCarryWhatTheKindNeeds) {
  for (std::string_view locale : {"fr", "en"}) {
    for (Channel ch : {Channel::kSms, Channel::kEmail}) {
      EXPECT_TRUE(
          DefaultTemplateFor(MessageKind::kCancellation, ch, locale).body.Uses(Var::kRebookLink));
      EXPECT_TRUE(DefaultTemplateFor(MessageKind::kRecall, ch, locale).body.Uses(Var::kRebookLink));
      EXPECT_TRUE(
          DefaultTemplateFor(MessageKind::kDelayAlert, ch, locale).body.Uses(Var::kNewArrivalTime));
      EXPECT_TRUE(
          DefaultTemplateFor(MessageKind::kReminder, ch, locale).body.Uses(Var::kPrerequisites));
      EXPECT_TRUE(DefaultTemplateFor(MessageKind::kReminder, ch, locale).body.Uses(Var::kModeText));
    }
    const DefaultTemplate& email =
        DefaultTemplateFor(MessageKind::kConfirmation, Channel::kEmail, locale);
    EXPECT_TRUE(email.body.Uses(Var::kConfirmLink));
    EXPECT_TRUE(email.body.Uses(Var::kCancelLink));
    EXPECT_TRUE(email.body.Uses(Var::kPrerequisites));
    EXPECT_TRUE(email.body.Uses(Var::kModeText));
  }
}

TEST(TemplatesTest, LocaleSelection) {
  EXPECT_EQ(NormalizeLocale("en"), "en");
  EXPECT_EQ(NormalizeLocale("en-GB"), "en");
  EXPECT_EQ(NormalizeLocale("en_US"), "en");
  EXPECT_EQ(NormalizeLocale("fr"), "fr");
  EXPECT_EQ(NormalizeLocale(""), "fr");
  EXPECT_EQ(NormalizeLocale("de"), "fr");
  EXPECT_EQ(NormalizeLocale("eng"), "fr");
  const auto& en = DefaultTemplateFor(MessageKind::kReminder, Channel::kSms, "en");
  const auto& fr = DefaultTemplateFor(MessageKind::kReminder, Channel::kSms, "fr");
  const auto& other = DefaultTemplateFor(MessageKind::kReminder, Channel::kSms, "xx");
  EXPECT_NE(en.body_text, fr.body_text);
  EXPECT_EQ(&other, &fr);
  EXPECT_NE(en.body_text.find("Reminder"), std::string_view::npos);
  EXPECT_NE(fr.body_text.find("Rappel"), std::string_view::npos);
}

}  // namespace
}  // namespace rappel::server::plan
