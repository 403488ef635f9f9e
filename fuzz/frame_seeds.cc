// Writes the seed corpus of frame_fuzz into the directory given as argument:
// one valid frame of every body type, as a client or rappeld would send it,
// plus one input holding several frames back to back (a connection's
// stream). Run at build time (fuzz/CMakeLists.txt), so the repository holds
// no binary seeds.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/framing.h"

namespace {

using namespace rappel::protocol;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using Bytes = std::vector<uint8_t>;

template <typename Build>
Bytes Frame(uint64_t id, wire::Body type, Build build) {
  FlatBufferBuilder b;
  Offset<void> body = build(b);
  FinishFrame(b, id, type, body);
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

Offset<wire::Reminder> Reminder(FlatBufferBuilder& b, int i) {
  std::vector<uint8_t> payload(12 + i, static_cast<uint8_t>('p' + i));
  return wire::CreateReminder(b, 7, b.CreateString("appt-" + std::to_string(i)),
                              i % 2 == 0 ? wire::Channel::Sms : wire::Channel::Email,
                              b.CreateString("+33600000000"), 1'700'000'000'000 + i,
                              i == 0 ? 0 : 1'800'000'000'000, b.CreateVector(payload));
}

Offset<wire::ReminderKey> Key(FlatBufferBuilder& b, int i) {
  return wire::CreateReminderKey(b, 7, b.CreateString("appt-" + std::to_string(i)));
}

Offset<wire::Status> Failed(FlatBufferBuilder& b) {
  return ToWireStatus(b, absl::NotFoundError("no reminder with that key"));
}

std::vector<Bytes> Seeds() {
  std::vector<Bytes> out;
  auto add = [&out](Bytes f) { out.push_back(std::move(f)); };
  using B = FlatBufferBuilder;
  add(Frame(1, wire::Body::Hello, [](B& b) {
    return wire::CreateHello(b, kProtocolVersion, b.CreateString("secret"),
                             b.CreateString("seed")).Union();
  }));
  add(Frame(1, wire::Body::HelloReply, [](B& b) {
    return wire::CreateHelloReply(b, kProtocolVersion, b.CreateString("rappeld"),
                                  wire::Role::Producer, 16u << 20, 64u << 10).Union();
  }));
  add(Frame(2, wire::Body::Schedule, [](B& b) {
    std::vector<Offset<wire::Reminder>> rs = {Reminder(b, 0), Reminder(b, 1)};
    return wire::CreateSchedule(b, b.CreateVector(rs)).Union();
  }));
  add(Frame(2, wire::Body::ScheduleReply, [](B& b) {
    std::vector<Offset<wire::ScheduleResult>> rs = {
        wire::CreateScheduleResult(b, ToWireStatus(b, absl::OkStatus()),
                                   wire::ScheduleOutcome::Replaced),
        wire::CreateScheduleResult(b, Failed(b))};
    return wire::CreateScheduleReply(b, b.CreateVector(rs)).Union();
  }));
  add(Frame(3, wire::Body::Cancel, [](B& b) {
    std::vector<Offset<wire::ReminderKey>> ks = {Key(b, 0), Key(b, 1)};
    return wire::CreateCancel(b, b.CreateVector(ks)).Union();
  }));
  add(Frame(3, wire::Body::CancelReply, [](B& b) {
    std::vector<Offset<wire::Status>> ss = {ToWireStatus(b, absl::OkStatus()), Failed(b)};
    return wire::CreateCancelReply(b, b.CreateVector(ss)).Union();
  }));
  add(Frame(4, wire::Body::Reschedule, [](B& b) {
    return wire::CreateReschedule(b, Key(b, 0), 1'700'000'100'000).Union();
  }));
  add(Frame(4, wire::Body::RescheduleReply, [](B& b) {
    return wire::CreateRescheduleReply(b, Failed(b)).Union();
  }));
  add(Frame(5, wire::Body::Subscribe, [](B& b) {
    std::vector<wire::Channel> cs = {wire::Channel::Sms, wire::Channel::Push};
    return wire::CreateSubscribe(b, b.CreateVector(cs), 100, 10).Union();
  }));
  add(Frame(5, wire::Body::SubscribeReply, [](B& b) {
    return wire::CreateSubscribeReply(b, ToWireStatus(b, absl::OkStatus())).Union();
  }));
  add(Frame(0, wire::Body::Delivery, [](B& b) {
    std::vector<Offset<wire::Message>> ms;
    for (int i = 0; i < 2; ++i) {
      auto id = b.CreateString("7/appt-" + std::to_string(i) + "/1");
      ms.push_back(wire::CreateMessage(b, id, 100 + i, 1, 1'700'000'030'000, Reminder(b, i)));
    }
    return wire::CreateDelivery(b, b.CreateVector(ms)).Union();
  }));
  add(Frame(6, wire::Body::Ack, [](B& b) {
    std::vector<Offset<wire::AckItem>> is = {
        wire::CreateAckItem(b, 100, wire::AckOutcome::Delivered),
        wire::CreateAckItem(b, 101, wire::AckOutcome::FailedRetryable,
                            b.CreateString("503 from provider"))};
    return wire::CreateAck(b, b.CreateVector(is)).Union();
  }));
  add(Frame(6, wire::Body::AckReply, [](B& b) {
    std::vector<Offset<wire::Status>> ss = {ToWireStatus(b, absl::OkStatus()), Failed(b)};
    return wire::CreateAckReply(b, b.CreateVector(ss)).Union();
  }));
  add(Frame(7, wire::Body::Stats, [](B& b) { return wire::CreateStats(b).Union(); }));
  add(Frame(7, wire::Body::StatsReply, [](B& b) {
    std::vector<Offset<wire::ChannelCount>> cs = {
        wire::CreateChannelCount(b, wire::Channel::Sms, 3),
        wire::CreateChannelCount(b, wire::Channel::Voice, 1)};
    return wire::CreateStatsReply(b, 4, 1, 2, 10, 1 << 20, 5, b.CreateVector(cs),
                                  b.CreateString("disk full"))
        .Union();
  }));
  add(Frame(8, wire::Body::Inspect, [](B& b) { return wire::CreateInspect(b, Key(b, 1)).Union(); }));
  add(Frame(8, wire::Body::InspectReply, [](B& b) {
    return wire::CreateInspectReply(b, 0, Reminder(b, 1), 42, true).Union();
  }));
  add(Frame(9, wire::Body::DeadLetterList, [](B& b) {
    return wire::CreateDeadLetterList(b, 7, 10).Union();
  }));
  add(Frame(9, wire::Body::DeadLetterListReply, [](B& b) {
    std::vector<Offset<wire::DeadLetter>> ds = {
        wire::CreateDeadLetter(b, Reminder(b, 0), 5, b.CreateString("mailbox full"))};
    return wire::CreateDeadLetterListReply(b, b.CreateVector(ds)).Union();
  }));
  add(Frame(10, wire::Body::DeadLetterReplay, [](B& b) {
    std::vector<Offset<wire::ReminderKey>> ks = {Key(b, 0)};
    return wire::CreateDeadLetterReplay(b, b.CreateVector(ks)).Union();
  }));
  add(Frame(10, wire::Body::DeadLetterReplayReply, [](B& b) {
    std::vector<Offset<wire::Status>> ss = {Failed(b)};
    return wire::CreateDeadLetterReplayReply(b, b.CreateVector(ss)).Union();
  }));
  add(Frame(11, wire::Body::Backup, [](B& b) {
    return wire::CreateBackup(b, b.CreateString("/var/backups/rappel")).Union();
  }));
  add(Frame(11, wire::Body::BackupReply, [](B& b) {
    return wire::CreateBackupReply(b, ToWireStatus(b, absl::OkStatus())).Union();
  }));
  add(Frame(12, wire::Body::Ping, [](B& b) { return wire::CreatePing(b).Union(); }));
  add(Frame(12, wire::Body::Pong, [](B& b) { return wire::CreatePong(b).Union(); }));
  add(Frame(13, wire::Body::Error, [](B& b) {
    auto status = wire::CreateStatus(b, wire::ErrorCode::FrameTooLarge, b.CreateString("too big"));
    return wire::CreateError(b, status).Union();
  }));
  // A connection's stream: Hello, Schedule, Ping back to back.
  Bytes stream;
  for (size_t i : {size_t{0}, size_t{2}, out.size() - 3}) {
    stream.insert(stream.end(), out[i].begin(), out[i].end());
  }
  add(std::move(stream));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: frame_seeds DIR\n");
    return 2;
  }
  std::vector<Bytes> seeds = Seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    // Every seed must pass the checks the fuzz target starts with.
    if (!VerifyFrame(seeds[i].data(), seeds[i].size(), FrameLimits{}).ok() &&
        i + 1 != seeds.size()) {
      std::fprintf(stderr, "frame_seeds: seed %zu does not verify\n", i);
      return 1;
    }
    std::string path = std::string(argv[1]) + "/seed-" + std::to_string(i);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) != seeds[i].size() ||
        std::fclose(f) != 0) {
      std::perror(path.c_str());
      return 1;
    }
  }
  return 0;
}
