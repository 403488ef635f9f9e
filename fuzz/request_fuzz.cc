// libFuzzer target for request handling (README.md, "Fuzzing").
//
// The input is the byte stream of one connection after its Hello: read
// frame by frame as the session reads it (DecodeFrameLength, then
// VerifyFrame on exactly 4 + N bytes; the stream ends at the first frame
// either refuses), each verified frame handed to a RequestHandler over a
// real core: engine, appointment book and dispatcher on a fresh small store
// (fsync off, a fake clock). The target says Hello first with an empty
// token, so the connection is admin and every request gets past
// authentication. A frame whose request_id is odd also moves the clock on
// by (request_id >> 1) ms modulo 40 days and polls the core, so reminders
// fall due, are rendered and leased to the connection if it subscribed.
//
// Backup is skipped: it would write into a directory the input names.
//
// Checked, besides ASan and UBSan and no exception escaping:
//   - every request gets exactly one reply, within 10 s;
//   - every frame rappeld sends (replies and Delivery pushes) verifies, and
//     every text field in it is valid UTF-8 (the input's text was checked
//     by the router, so nothing may come out broken: a byte cut from the
//     middle of a character, say).
// Any broken invariant aborts, which libFuzzer reports as a crash.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "server/net/request_handler.h"
#include "server/net/text_fields.h"
#include "server/runtime/core.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/task_queue.h"
#include "tests/testing/temp_dir.h"

namespace {

using namespace rappel;
using namespace rappel::server;
namespace wire = protocol::wire;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "request_fuzz: %s\n", what.c_str());
  std::abort();
}

// A frame rappeld sends must verify and carry only valid UTF-8 text.
void CheckOutput(const FrameBytes& frame) {
  auto root = protocol::VerifyFrame(frame.data(), frame.size(), protocol::FrameLimits{});
  if (!root.ok()) Fail("rappeld sent a frame that does not verify: " + root.status().ToString());
  if (auto bad = TextFields::Wire().FirstInvalid(**root)) {
    Fail(std::string("rappeld sent ") + wire::EnumNameBody((*root)->body_type()) + " with " +
         bad->path + " not valid UTF-8");
  }
}

FrameBytes HelloFrame() {
  flatbuffers::FlatBufferBuilder b;
  auto hello = wire::CreateHello(b, protocol::kProtocolVersion, b.CreateString(""),
                                 b.CreateString("request_fuzz"));
  protocol::FinishFrame(b, 0, wire::Body::Hello, hello.Union());
  return FrameBytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

const std::string& StoreDir() {
  static const testing::TempDir* dir = new testing::TempDir();
  static const std::string path = dir->Sub("store");
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::error_code ec;
  std::filesystem::remove_all(StoreDir(), ec);
  testing::FakeClock clock;
  testing::TaskQueue queue;
  CoreOptions options;
  options.engine.store.path = StoreDir();
  options.engine.store.sync = false;
  options.engine.store.initial_map_bytes = 4 << 20;
  options.engine.store.max_map_bytes = 256 << 20;
  options.engine.initial_index_capacity = 1024;
  options.engine.huge_pages = false;
  options.engine.clock = clock.AsFunction();
  auto core = Core::Open(options, queue.Poster());
  if (!core.ok()) Fail("Core::Open: " + core.status().ToString());

  HandlerOptions handler_options;
  handler_options.max_payload_bytes = options.engine.max_payload_bytes;
  auto handler = std::make_unique<RequestHandler>(handler_options, &(*core)->engine(),
                                                  &(*core)->dispatcher(), (*core)->book());
  Connection conn;
  conn.push = [](FrameBytes frame) { CheckOutput(frame); };
  bool closed = false;
  // Hands one frame to the handler and waits for its one reply.
  auto handle = [&](const FrameBytes& bytes) {
    auto frame = protocol::VerifyFrame(bytes.data(), bytes.size(), handler_options.frame_limits);
    if (!frame.ok()) return false;
    int replies = 0;
    handler->Handle(conn, **frame, [&](FrameBytes reply, bool close) {
      CheckOutput(reply);
      ++replies;
      closed = closed || close;
    });
    if (!queue.RunUntil([&] { return replies > 0; }, std::chrono::seconds(10))) {
      Fail(std::string("no reply to ") + wire::EnumNameBody((*frame)->body_type()));
    }
    queue.RunUntil([&] { return (*core)->engine().idle(); }, std::chrono::seconds(10));
    if (replies != 1) Fail("more than one reply");
    uint64_t id = (*frame)->request_id();
    if (id & 1) {
      clock.Advance(static_cast<int64_t>((id >> 1) % (40ull * 24 * 3600 * 1000)));
      for (int i = 0; i < 64 && !(*core)->Poll(clock.now_ms()); ++i) {
      }
      queue.RunUntil([&] { return (*core)->engine().idle(); }, std::chrono::seconds(10));
    }
    return true;
  };

  if (!handle(HelloFrame()) || closed) Fail("the Hello was refused");
  const protocol::FrameLimits limits;
  size_t at = 0;
  while (!closed && size - at >= protocol::kLengthPrefixBytes) {
    auto n = protocol::DecodeFrameLength(data + at, limits);
    if (!n.ok() || size - at - protocol::kLengthPrefixBytes < *n) break;
    // A buffer of its own, as the session reads into: aligned like one.
    FrameBytes frame(data + at, data + at + protocol::kLengthPrefixBytes + *n);
    at += frame.size();
    auto root = protocol::VerifyFrame(frame.data(), frame.size(), limits);
    if (!root.ok()) break;
    if ((*root)->body_type() == wire::Body::Backup) continue;
    handle(frame);
  }
  handler->OnClose(conn);
  queue.RunUntil([&] { return (*core)->engine().idle(); }, std::chrono::seconds(10));
  handler.reset();
  core->reset();
  queue.RunPending();
  return 0;
}
