// Writes the seed corpus of request_fuzz into the directory given as
// argument: each sample request (tests/testing/request_samples.h: every
// request type, every text field set) alone, then one stream that sets up a
// clinic (tenant, calendar, type, patient), subscribes, and sends every
// sample with the clock moved on between them, so the fuzzer starts from
// appointments that are planned, fall due and are rendered. Run at build
// time (fuzz/CMakeLists.txt), so the repository holds no binary seeds.
#include <cstdio>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/request_samples.h"

namespace {

using namespace rappel::protocol;
using Bytes = std::vector<uint8_t>;

Bytes Put(uint64_t id, wire::ObjectKind kind, const std::string& object_id, const std::string& json) {
  flatbuffers::FlatBufferBuilder b;
  auto put = wire::CreateObjectPut(b, kind, 1, b.CreateString(object_id), b.CreateString(json));
  FinishFrame(b, id, wire::Body::ObjectPut, put.Union());
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

bool Write(const std::string& path, const Bytes& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: request_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  // The same start as request_fuzz's clock.
  auto samples = rappel::testing::RequestSamples(rappel::testing::FakeClock().now_ms());
  Bytes stream;
  for (const Bytes& f : {
           Put(2, wire::ObjectKind::Tenant, "",
               R"({"time_zone": "Europe/Paris", "reminder_offsets": ["48h", "24h"],)"
               R"( "action_url": "https://r.example/a", "metered": true})"),
           Put(4, wire::ObjectKind::Calendar, "dr-martin", R"({"name": "Dr Martin"})"),
           Put(6, wire::ObjectKind::AppointmentType, "consult", R"({"name": "Consultation"})"),
           Put(8, wire::ObjectKind::Patient, "p1",
               R"({"first_name": "Jeanne", "mobile": "+33612345678", "email": "j@example.org"})"),
       }) {
    stream.insert(stream.end(), f.begin(), f.end());
  }
  int n = 0;
  for (const auto& s : samples) {
    if (s.type == wire::Body::Hello) continue;  // request_fuzz says Hello itself
    if (!VerifyFrame(s.frame.data(), s.frame.size(), FrameLimits{}).ok()) {
      std::fprintf(stderr, "request_seeds: the %s sample does not verify\n", wire::EnumNameBody(s.type));
      return 1;
    }
    if (!Write(dir + "/seed-" + std::to_string(n++), s.frame)) return 1;
    stream.insert(stream.end(), s.frame.begin(), s.frame.end());
  }
  return Write(dir + "/seed-clinic", stream) ? 0 : 1;
}
