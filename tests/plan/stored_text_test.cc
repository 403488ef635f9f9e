// Text stored before the router checked UTF-8 (or written to the store by
// anything else) is never a crash when read back or rendered: every view
// replaces the bad bytes with U+FFFD, before and after a restart, and the
// worker's message is still rendered. The bad data goes in through the book
// directly, below the router's check: the path requests took before it.
#include "server/common/utf8.h"
#include "tests/plan/book_fixture.h"

namespace rappel::server::plan {
namespace {

const std::string kBad = "Salle \xFF\xC3";  // a stray byte and a cut 'é'

class StoredTextTest : public BookTest {
 protected:
  // Every string in `j`, keys included, is valid UTF-8.
  static bool AllValid(const json& j) {
    if (j.is_string()) return IsValidUtf8(j.get_ref<const std::string&>());
    if (j.is_object()) {
      for (const auto& [k, v] : j.items()) {
        if (!IsValidUtf8(k) || !AllValid(v)) return false;
      }
    }
    if (j.is_array()) {
      for (const auto& v : j) {
        if (!AllValid(v)) return false;
      }
    }
    return true;
  }
  static json Parsed(const absl::StatusOr<std::string>& text) {
    EXPECT_TRUE(text.ok()) << text.status();
    if (!text.ok()) return json();
    EXPECT_TRUE(IsValidUtf8(*text));
    json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << *text;
    return j;
  }
};

TEST_F(StoredTextTest, AnAppointmentWithBadTextIsShownReplacedBeforeAndAfterARestart) {
  int64_t start = LocalMs("Europe/Paris", 2026, 6, 10, 10);
  Appointment a = Appt("a-\xFE", start);
  a.location = kBad;
  a.notes = "\xE2\x82";
  ASSERT_TRUE(Upsert(a).ok());
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "before the restart" : "after the restart");
    json shown = Parsed(book_->Show(1, a.id));
    EXPECT_TRUE(AllValid(shown));
    EXPECT_EQ(shown["appointment"]["location"], "Salle \xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(shown["appointment"]["notes"], "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(shown["appointment"]["id"], "a-\xEF\xBF\xBD");
    EXPECT_FALSE(shown["pending"].empty());
    json dry = Parsed(book_->DryRun(a));
    EXPECT_TRUE(AllValid(dry));
    EXPECT_EQ(dry["appointment"]["location"], "Salle \xEF\xBF\xBD\xEF\xBF\xBD");
    Restart();
  }
  // Its messages are still rendered and handed out.
  std::vector<Got> got = RunUntil(start - 47 * kHourMs);
  ASSERT_FALSE(got.empty());
  for (const Got& g : got) EXPECT_TRUE(AllValid(g.doc));
}

TEST_F(StoredTextTest, ObjectsWithBadIdsOrTextArePutAndReadBackReplaced) {
  // The id is not JSON: it came as a wire string and is kept as given.
  std::string shown = PutObject(ObjectKind::kCalendar, 1, "dr-\xFF", R"({"name": "Dr X"})");
  EXPECT_TRUE(IsValidUtf8(shown));
  Restart();
  json cal = Parsed(book_->GetObject(ObjectKind::kCalendar, 1, "dr-\xFF"));
  EXPECT_EQ(cal["name"], "Dr X");
  EXPECT_TRUE(AllValid(cal));
  // A patient whose stored record holds a bad id in an appointment's
  // reference: the patient's own views stay readable.
  PutObject(ObjectKind::kPatient, 1, "p-\xC3", R"({"first_name": "Ana", "mobile": "+33600000001"})");
  Restart();
  EXPECT_TRUE(AllValid(Parsed(book_->GetObject(ObjectKind::kPatient, 1, "p-\xC3"))));
}

}  // namespace
}  // namespace rappel::server::plan
