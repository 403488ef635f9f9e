// Engine: recovery, the log replayed into the key index, the wheel and the
// counters when the engine opens.
#include "server/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/common/check.h"
#include "server/engine/engine_compaction.h"

namespace rappel::server {

absl::Status Engine::Recover() {
  auto start = std::chrono::steady_clock::now();
  // Due times by handle, only while the log is replayed: the wheel cannot
  // take entries before its start time is known (the oldest due time), and
  // past-due reminders must fire oldest first.
  std::vector<int64_t> due_by_handle;
  // Likewise for the counters: what each live handle's version looks like.
  struct Shape {
    uint32_t tenant;
    uint32_t bytes;
    uint8_t channel;
  };
  std::vector<Shape> shape_by_handle;
  uint64_t log_bytes = 0;
  absl::Status status;
  uint64_t records = 0;
  // Recovery runs on two cores: a decoder thread reads the log, verifies and
  // decodes each record and hashes its key; this thread replays the results
  // into the index. The index is a hash table far larger than the caches,
  // so each replay prefetches the table slots of a record kPrefetchAhead
  // positions later, and the cache misses overlap.
  struct Replay {
    SeqNo seq;
    KeyHash hash;
    RecordType type;
    int64_t due_ms;
    uint32_t tenant;
    uint32_t bytes;
    uint8_t channel;
  };
  auto replay = [&](const Replay& r) {
    if (r.type == RecordType::kReminder) {
      // One probe whether the key is new or not: insert a fresh handle and
      // give it back if the key was already there.
      uint32_t h = wheel_.Allocate().value;
      index_.EnsureSlot(h);
      index_.meta(h).hash = r.hash;
      if (uint32_t found = index_.Insert(h); found != h) {
        wheel_.Free(WheelHandle{h});
        h = found;
      }
      index_.meta(h).seq = r.seq;
      if (h >= due_by_handle.size()) {
        due_by_handle.resize(std::max<size_t>(h + 1, due_by_handle.size() * 2));
        shape_by_handle.resize(due_by_handle.size());
      }
      due_by_handle[h] = r.due_ms;
      shape_by_handle[h] = Shape{r.tenant, r.bytes, static_cast<uint8_t>(r.channel)};
    } else if (std::optional<uint32_t> h = index_.Erase(r.hash)) {
      wheel_.Free(WheelHandle{*h});
    }
  };
  constexpr size_t kChunk = 8192;
  constexpr size_t kMaxQueuedChunks = 8;
  constexpr size_t kPrefetchAhead = 32;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<Replay>> chunks;
  bool decoder_done = false;
  SeqNo first_seq = 0;
  // Sized for the whole log up front: no rehash of millions of entries.
  index_.Reserve(std::max<size_t>(store_->stats().log_entries, options_.initial_index_capacity));
  store_->PrepareFullScan();
  // The owner holds no Reader while the decoder thread uses one.
  std::thread decoder([&] {
    std::vector<Replay> chunk;
    chunk.reserve(kChunk);
    auto hand_over = [&] {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return chunks.size() < kMaxQueuedChunks; });
      chunks.push_back(std::move(chunk));
      cv.notify_all();
      chunk = {};
      chunk.reserve(kChunk);
    };
    absl::Status decode_status;
    {
      auto reader = store_->NewReader();
      if (!reader.ok()) {
        decode_status = reader.status();
      } else {
        decode_status = reader->ScanLog(1, [&](SeqNo seq, std::string_view bytes) {
          auto rec = DecodeRecord(bytes);
          if (!rec.ok()) {
            decode_status = absl::DataLossError(absl::StrCat(
                "log record ", seq, " in ", options_.store.path, ": ", rec.status().message()));
            return false;
          }
          if (first_seq == 0) first_seq = seq;
          chunk.push_back(Replay{seq, HashKey(rec->tenant, rec->key), rec->type, rec->due_ms,
                                 rec->tenant.value, static_cast<uint32_t>(bytes.size()),
                                 static_cast<uint8_t>(rec->channel)});
          if (chunk.size() == kChunk) hand_over();
          return true;
        });
      }
    }
    if (!chunk.empty()) hand_over();
    std::lock_guard lock(mu);
    status = decode_status;
    decoder_done = true;
    cv.notify_all();
  });
  for (;;) {
    std::vector<Replay> chunk;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !chunks.empty() || decoder_done; });
      if (chunks.empty()) break;
      chunk = std::move(chunks.front());
      chunks.pop_front();
      cv.notify_all();
    }
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (i + kPrefetchAhead < chunk.size()) index_.Prefetch(chunk[i + kPrefetchAhead].hash);
      replay(chunk[i]);
      log_bytes += chunk[i].bytes;
    }
    records += chunk.size();
  }
  decoder.join();
  if (!status.ok()) return status;
  compaction_ = std::make_unique<Compaction>(this, first_seq != 0 ? first_seq : next_seq_);
  stats_.recovery_scan_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();

  int64_t now = Now();
  int64_t oldest = now;
  for (uint32_t h = 0; h < due_by_handle.size(); ++h) {
    if (index_.HasSlot(h) && index_.meta(h).seq != 0) {
      oldest = std::min(oldest, due_by_handle[h]);
    }
  }
  wheel_.Reset(static_cast<uint64_t>(std::max<int64_t>(oldest, 0)));
  for (uint32_t h = 0; h < due_by_handle.size(); ++h) {
    if (index_.HasSlot(h) && index_.meta(h).seq != 0) {
      absl::Status st = wheel_.Schedule(WheelHandle{h}, static_cast<uint64_t>(due_by_handle[h]));
      RAPPEL_CHECK(st.ok());
      const Shape& shape = shape_by_handle[h];
      index_.shape(h) = KeyIndex::PackShape(shape.channel, shape.bytes);
      counts_.Add(shape.tenant, shape.channel, shape.bytes, due_by_handle[h]);
    }
  }
  counts_.LogAppended(log_bytes);
  stats_.log_records = records;
  stats_.recovered_records = records;
  stats_.recovery_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  return absl::OkStatus();
}

}  // namespace rappel::server
