// Every text field of every request is checked as UTF-8 by the router
// (TextFields, from the schema): a request with a bad byte in any of them is
// refused with InvalidArgument naming the field, and nothing changes. The
// table of cases is the schema itself: each sample request
// (tests/testing/request_samples.h) must fill every text field its type has,
// and every request a family handles must have a sample, so a field or a
// request added later cannot be left out.
#include "server/net/text_fields.h"

#include <regex>
#include <set>

#include "gtest/gtest.h"
#include "protocol/schema.h"
#include "server/net/request_handler.h"
#include "tests/plan/book_fixture.h"
#include "tests/testing/request_samples.h"

namespace rappel::server {
namespace {

namespace wire = protocol::wire;
using rappel::testing::RequestSample;

// "items[3].notes" -> "items[].notes".
std::string Generic(const std::string& path) {
  return std::regex_replace(path, std::regex(R"(\[\d+\])"), "[]");
}

bool IsRequest(wire::Body type) {
  return type == wire::Body::Hello || type == wire::Body::Ping ||
         ReminderRequests::Handles(type) || WorkerRequests::Handles(type) ||
         AdminRequests::Handles(type) || AppointmentRequests::Handles(type) ||
         RateRequests::Handles(type);
}

const wire::Frame* Root(const std::vector<uint8_t>& frame) {
  auto root = protocol::VerifyFrame(frame.data(), frame.size(), protocol::FrameLimits{});
  EXPECT_TRUE(root.ok()) << root.status();
  return root.ok() ? *root : nullptr;
}

TEST(TextFieldsTest, TheEmbeddedSchemaVerifiesAndIsTheWireSchema) {
  std::span<const uint8_t> bytes = protocol::BinarySchemaBytes();
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  ASSERT_TRUE(reflection::VerifySchemaBuffer(verifier));
  EXPECT_EQ(protocol::BinarySchema().root_table()->name()->str(), "rappel.protocol.wire.Frame");
}

TEST(TextFieldsTest, SchemaPathsFollowTablesVectorsAndLeaveBytesOut) {
  const TextFields& fields = TextFields::Wire();
  EXPECT_EQ(fields.SchemaPaths(wire::Body::Schedule),
            (std::vector<std::string>{"reminders[].key", "reminders[].recipient"}));
  EXPECT_EQ(fields.SchemaPaths(wire::Body::Reschedule), (std::vector<std::string>{"key.key"}));
  EXPECT_EQ(fields.SchemaPaths(wire::Body::Hello),
            (std::vector<std::string>{"client_name", "token"}));
  std::vector<std::string> show = fields.SchemaPaths(wire::Body::AppointmentShow);
  EXPECT_EQ(std::set<std::string>(show.begin(), show.end()),
            (std::set<std::string>{"hypothetical.calendar", "hypothetical.id",
                                   "hypothetical.location", "hypothetical.notes",
                                   "hypothetical.patient", "hypothetical.type", "id"}));
  EXPECT_TRUE(fields.SchemaPaths(wire::Body::Subscribe).empty());
  EXPECT_TRUE(fields.SchemaPaths(wire::Body::Ping).empty());
}

TEST(TextFieldsTest, FirstInvalidFindsEachKindOfBadSequenceAndPassesValidText) {
  struct Case {
    std::string text;
    std::optional<size_t> bad_at;
  };
  const Case cases[] = {
      {"plain ascii key long enough for the word loop", std::nullopt},
      {"é€😀 à jeun", std::nullopt},
      {"", std::nullopt},
      {"\xFF", 0},
      {"abcdefghij\x80", 10},          // stray continuation after the 8-byte run
      {"a\xC0\xAF", 1},                // overlong '/'
      {"ab\xED\xA0\x80", 2},           // surrogate
      {"\xF4\x90\x80\x80", 0},         // above U+10FFFF
      {"caf\xC3", 3},                  // cut short
      {std::string("nul\0ok", 6), std::nullopt},  // U+0000 is valid UTF-8
  };
  for (const Case& c : cases) {
    flatbuffers::FlatBufferBuilder b;
    std::vector<flatbuffers::Offset<wire::Appointment>> items = {wire::CreateAppointment(
        b, 1, b.CreateString("a"), b.CreateString("c"), b.CreateString("t"), b.CreateString("p"),
        0, 0, 0, b.CreateString(c.text))};
    protocol::FinishFrame(b, 1, wire::Body::AppointmentUpsert,
                          wire::CreateAppointmentUpsert(b, b.CreateVector(items)).Union());
    std::vector<uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    auto bad = TextFields::Wire().FirstInvalid(*Root(bytes));
    if (!c.bad_at) {
      EXPECT_FALSE(bad.has_value()) << c.text;
    } else {
      ASSERT_TRUE(bad.has_value()) << c.text;
      EXPECT_EQ(bad->path, "items[0].notes");
      EXPECT_EQ(bad->byte, *c.bad_at) << c.text;
    }
  }
}

TEST(TextFieldsTest, EverySampleFillsEveryTextFieldAndEveryRequestHasASample) {
  std::set<wire::Body> sampled;
  for (const RequestSample& s : rappel::testing::RequestSamples(0)) {
    sampled.insert(s.type);
    std::set<std::string> present;
    TextFields::Wire().ForEach(*Root(s.frame), [&](const std::string& path,
                                                   const flatbuffers::String& text) {
      present.insert(Generic(path));
      EXPECT_GT(text.size(), 0u) << path << ": a sample's text must not be empty";
    });
    for (const std::string& path : TextFields::Wire().SchemaPaths(s.type)) {
      EXPECT_TRUE(present.count(path))
          << wire::EnumNameBody(s.type) << " sample leaves " << path << " out";
    }
  }
  for (int t = 1; t <= static_cast<int>(wire::Body::MAX); ++t) {
    auto type = static_cast<wire::Body>(t);
    if (IsRequest(type)) {
      EXPECT_TRUE(sampled.count(type)) << wire::EnumNameBody(type);
    }
  }
}

// The router over the real core of the book fixture (a clinic in tenant 1).
class RequestTextTest : public plan::BookTest {
 protected:
  struct Answer {
    std::vector<uint8_t> frame;
    bool close = false;
    bool done = false;
  };
  Answer Send(RequestHandler& handler, Connection& conn, const std::vector<uint8_t>& frame) {
    Answer a;
    handler.Handle(conn, *Root(frame), [&a](FrameBytes bytes, bool close) {
      a.frame = std::move(bytes);
      a.close = close;
      a.done = true;
    });
    EXPECT_TRUE(queue_.RunUntil([&] { return a.done; }));
    return a;
  }
  static Connection Admin() {
    Connection c;
    c.greeted = true;
    c.role = wire::Role::Admin;
    c.push = [](FrameBytes) {};
    return c;
  }
  // What a write would change.
  std::pair<uint64_t, uint64_t> Writes() {
    StoreStats s = engine_->stats().store;
    return {s.commits, s.records_appended};
  }
};

TEST_F(RequestTextTest, BadUtf8InEachTextFieldIsRefusedNamingItAndChangesNothing) {
  RequestHandler handler(HandlerOptions{}, engine_, dispatcher_, book_);
  size_t refused = 0;
  for (const RequestSample& s : rappel::testing::RequestSamples(clock_.now_ms())) {
    // Each text field in turn gets one bad byte in its middle.
    std::vector<std::pair<std::string, size_t>> fields;  // path, byte offset in the frame
    TextFields::Wire().ForEach(*Root(s.frame), [&](const std::string& path,
                                                   const flatbuffers::String& text) {
      fields.emplace_back(path, static_cast<size_t>(reinterpret_cast<const uint8_t*>(text.data()) -
                                                    s.frame.data()) + text.size() / 2);
    });
    for (const auto& [path, at] : fields) {
      std::vector<uint8_t> bad = s.frame;
      bad[at] = 0xFF;
      Connection conn = Admin();
      if (s.type == wire::Body::Hello) conn.greeted = false;
      auto before = Writes();
      Answer a = Send(handler, conn, bad);
      const wire::Frame* reply = Root(a.frame);
      ASSERT_NE(reply, nullptr);
      ASSERT_EQ(reply->body_type(), wire::Body::Error) << path;
      EXPECT_EQ(reply->body_as_Error()->status()->code(), wire::ErrorCode::InvalidArgument);
      std::string prefix = path + " is not valid UTF-8";
      EXPECT_EQ(Str(reply->body_as_Error()->status()->message()).substr(0, prefix.size()), prefix)
          << wire::EnumNameBody(s.type);
      EXPECT_EQ(a.close, s.type == wire::Body::Hello) << path;
      if (s.type == wire::Body::Hello) {
        EXPECT_FALSE(conn.greeted);
      }
      queue_.RunPending();
      EXPECT_EQ(Writes(), before) << wire::EnumNameBody(s.type) << " " << path << " wrote";
      ++refused;
    }
  }
  EXPECT_GE(refused, 25u);
  // The same requests, valid, get past the check and the writes among them
  // do write (so the "nothing changed" above could have failed).
  for (const RequestSample& s : rappel::testing::RequestSamples(clock_.now_ms())) {
    Connection conn = Admin();
    if (s.type == wire::Body::Hello) conn.greeted = false;
    auto before = Writes();
    Answer a = Send(handler, conn, s.frame);
    handler.OnClose(conn);
    const wire::Frame* reply = Root(a.frame);
    ASSERT_NE(reply, nullptr);
    if (reply->body_type() == wire::Body::Error) {
      EXPECT_EQ(Str(reply->body_as_Error()->status()->message()).find("UTF-8"), std::string::npos)
          << wire::EnumNameBody(s.type);
    }
    if (s.type == wire::Body::Schedule || s.type == wire::Body::ObjectPut ||
        s.type == wire::Body::AppointmentUpsert) {
      EXPECT_NE(Writes(), before) << wire::EnumNameBody(s.type);
    }
  }
}

}  // namespace
}  // namespace rappel::server
