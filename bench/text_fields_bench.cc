// The router's UTF-8 check of every text field (TextFields::FirstInvalid) on
// the frame rappel-load ingest sends: a Schedule of 1000 reminders (keys of
// about 20 bytes, a phone number, a 200-byte payload the check skips).
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "protocol/framing.h"
#include "server/net/text_fields.h"

namespace {

namespace wire = rappel::protocol::wire;

std::vector<uint8_t> ScheduleFrame(int n) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<uint8_t> payload(200, 'p');
  std::vector<flatbuffers::Offset<wire::Reminder>> rs;
  for (int i = 0; i < n; ++i) {
    rs.push_back(wire::CreateReminder(b, i % 16, b.CreateString("load-" + std::to_string(i * 7919)),
                                      wire::Channel::Sms, b.CreateString("+33600000000"),
                                      1'800'000'000'000 + i, 0, b.CreateVector(payload)));
  }
  rappel::protocol::FinishFrame(b, 1, wire::Body::Schedule,
                                wire::CreateSchedule(b, b.CreateVector(rs)).Union());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

void BM_CheckSchedule(benchmark::State& state) {
  std::vector<uint8_t> bytes = ScheduleFrame(static_cast<int>(state.range(0)));
  const wire::Frame* frame = *rappel::protocol::VerifyFrame(bytes.data(), bytes.size(), {});
  const auto& fields = rappel::server::TextFields::Wire();
  for (auto _ : state) benchmark::DoNotOptimize(fields.FirstInvalid(*frame));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CheckSchedule)->Arg(1000);

// For scale: verifying the same frame, which the session does anyway.
void BM_VerifySchedule(benchmark::State& state) {
  std::vector<uint8_t> bytes = ScheduleFrame(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rappel::protocol::VerifyFrame(bytes.data(), bytes.size(), {}));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_VerifySchedule)->Arg(1000);

}  // namespace
