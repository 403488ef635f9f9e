#include "server/replication/primary_hook.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "protocol/framing.h"
#include "server/replication/batch_codec.h"

namespace rappel::server {
namespace {

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Buffers of large frames (1 MiB and up) on transparent huge pages: the
// backlog keeps hundreds of MB of frames, each in memory touched for the
// first time, and faulting it in 4 KiB pages was the largest single cost of
// shipping on our VM (bench/RESULTS.md "Replication cost"). A frame takes
// its size rounded up to 2 MiB (at most twice what the backlog counts).
class FrameAllocator : public flatbuffers::Allocator {
 public:
  static constexpr size_t kHuge = size_t{2} << 20;
  uint8_t* allocate(size_t size) override {
    if (size < kHuge / 2) return new uint8_t[size];
    void* p = std::aligned_alloc(kHuge, Rounded(size));
    if (p == nullptr) throw std::bad_alloc();
    madvise(p, Rounded(size), MADV_HUGEPAGE);  // advice only: fine if refused
    return static_cast<uint8_t*>(p);
  }
  void deallocate(uint8_t* p, size_t size) override {
    if (size < kHuge / 2) {
      delete[] p;
    } else {
      std::free(p);
    }
  }

 private:
  static size_t Rounded(size_t size) { return (size + kHuge - 1) / kHuge * kHuge; }
};

FrameAllocator frame_allocator;  // stateless; outlives every frame

// The CommitGroup frame of one group, ready to send to every standby. The
// group is encoded once, straight into the frame's data vector, and the
// frame stays in the builder's buffer (shared_bytes.h): no other pass over
// its bytes on the writer thread.
SharedBytes FrameGroup(const ReplGroup& group) {
  const size_t size = EncodedGroupSize(group);
  flatbuffers::FlatBufferBuilder b(size + 128, &frame_allocator);
  uint8_t* data = nullptr;
  auto bytes = b.CreateUninitializedVector(size, &data);
  EncodeGroupTo(group, data);
  auto body = protocol::wire::CreateCommitGroup(b, group.pos.term, group.pos.index,
                                                group.prev.index,
                                                static_cast<int64_t>(group.commit_unix_ms), bytes);
  protocol::FinishFrame(b, 0, protocol::wire::Body::CommitGroup, body.Union());
  struct Owner {
    flatbuffers::DetachedBuffer buffer;
    std::string_view view;
  };
  auto owner = std::make_shared<Owner>();
  owner->buffer = b.Release();
  owner->view = std::string_view(reinterpret_cast<const char*>(owner->buffer.data()),
                                 owner->buffer.size());
  return SharedBytes(owner, &owner->view);
}

}  // namespace

void PrimaryHook::Opened(ReplPos last, std::function<void(std::function<void()>)> post) {
  uint64_t term = options_.term == 0 ? std::max<uint64_t>(last.term, 1)
                                     : std::max(last.term, options_.term);
  term_.store(term, std::memory_order_release);
  // The first group's `prev` is what the store holds; a store that never
  // replicated has nothing: {term, 0}.
  last_ = last.index == 0 ? ReplPos{term, 0} : last;
  {
    std::lock_guard lock(mu_);
    last_shared_ = last_;
  }
  answers_ = std::make_unique<AnswerQueue>(std::move(post), options_.sync_standbys > 0);
  answers_->SetAnswerGate(std::move(may_answer_));
  backlog_ = std::make_unique<Backlog>(options_.backlog_bytes, last_.index + 1);
}

ReplPos PrimaryHook::NextPosition() { return {term_.load(std::memory_order_relaxed), last_.index + 1}; }

void PrimaryHook::Committed(ReplPos pos, std::vector<std::shared_ptr<const WriteBatch>> group,
                            CommitCompletions dones) {
  // Queued before the frame can reach a standby, so that no ack can pass
  // it (an earlier Release is remembered anyway).
  answers_->Add(pos, std::move(dones));
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

// Nothing to make durable, but never answered before the rounds ahead.
void PrimaryHook::Refused(CommitCompletions dones) { answers_->AddBehind(std::move(dones)); }

void PrimaryHook::SetAnswerGate(std::function<bool()> may_answer) {
  if (answers_) {
    answers_->SetAnswerGate(std::move(may_answer));
  } else {
    may_answer_ = std::move(may_answer);
  }
}

void PrimaryHook::Release(ReplPos pos) {
  if (answers_) answers_->Release(pos);
}

void PrimaryHook::Drain() {
  if (answers_) answers_->Drain();
}

void PrimaryHook::SetWake(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
}

ReplPos PrimaryHook::last() const {
  std::lock_guard lock(mu_);
  return last_shared_;
}

AnswerQueueStats PrimaryHook::answer_stats() const {
  return answers_ ? answers_->stats() : AnswerQueueStats{};
}

}  // namespace rappel::server
