#include "server/replication/primary_hook.h"

#include <algorithm>
#include <chrono>

#include "protocol/framing.h"
#include "server/replication/batch_codec.h"

namespace rappel::server {
namespace {

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The CommitGroup frame of one group, ready to send to every standby.
std::shared_ptr<const std::string> FrameGroup(const ReplGroup& group) {
  std::string data = EncodeGroup(group);
  flatbuffers::FlatBufferBuilder b(data.size() + 128);
  auto bytes = b.CreateVector(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  auto body = protocol::wire::CreateCommitGroup(b, group.pos.term, group.pos.index,
                                                group.prev.index,
                                                static_cast<int64_t>(group.commit_unix_ms), bytes);
  protocol::FinishFrame(b, 0, protocol::wire::Body::CommitGroup, body.Union());
  return std::make_shared<const std::string>(reinterpret_cast<const char*>(b.GetBufferPointer()),
                                             b.GetSize());
}

}  // namespace

void PrimaryHook::Opened(ReplPos last, std::function<void(std::function<void()>)> post) {
  post_ = std::move(post);
  last_ = {std::max<uint64_t>(last.term, 1), last.index};
  {
    std::lock_guard lock(mu_);
    last_shared_ = last_;
  }
  backlog_ = std::make_unique<Backlog>(backlog_bytes_, last_.index + 1);
}

ReplPos PrimaryHook::NextPosition() { return {last_.term, last_.index + 1}; }

void PrimaryHook::Committed(ReplPos pos, std::vector<std::shared_ptr<const WriteBatch>> group,
                            CommitCompletions dones) {
  // Asynchronous: the local commit is enough to answer.
  Post(std::move(dones));
  ReplGroup g{last_, pos, static_cast<uint64_t>(UnixMs()), std::move(group)};
  backlog_->Append(pos.index, FrameGroup(g));
  last_ = pos;
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    last_shared_ = pos;
    wake = wake_;
  }
  if (wake) wake();
}

void PrimaryHook::Refused(CommitCompletions dones) { Post(std::move(dones)); }

void PrimaryHook::SetWake(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
}

ReplPos PrimaryHook::last() const {
  std::lock_guard lock(mu_);
  return last_shared_;
}

void PrimaryHook::Post(CommitCompletions dones) {
  if (dones.empty()) return;
  auto shared = std::make_shared<CommitCompletions>(std::move(dones));
  post_([shared] { RunCompletions(*shared); });
}

}  // namespace rappel::server
