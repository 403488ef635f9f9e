#include "server/engine/engine_compaction.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "server/common/check.h"
#include "server/common/log.h"

namespace rappel::server {

Engine::Compaction::Compaction(Engine* engine, SeqNo floor)
    : engine_(*engine), compactor_(this, floor, LogCompactor::Options{}) {}

bool Engine::Compaction::HasGarbage() const {
  const EngineOptions& o = engine_.options_;
  uint64_t records = engine_.stats_.log_records;
  return records >= o.compact_min_log_records &&
         static_cast<double>(records) >
             o.compact_log_to_live_ratio * static_cast<double>(engine_.index_.size());
}

absl::StatusOr<NumberedLog::Step> Engine::Compaction::PrepareStep(uint64_t lo, uint64_t bound) {
  copies_ = Pending{};
  superseded_.clear();
  scanned_ = 0;
  scanned_bytes_ = 0;
  relocated_ = 0;
  SeqNo hi = lo;
  auto reader = engine_.store_->NewReader();
  if (!reader.ok()) return reader.status();
  absl::Status scan = reader->ScanLog(lo, [&](SeqNo seq, std::string_view bytes) {
    if (scanned_ >= engine_.options_.compaction_step_records || seq >= bound) return false;
    ++scanned_;
    scanned_bytes_ += bytes.size();
    hi = seq + 1;
    auto rec = DecodeRecord(bytes);
    RAPPEL_CHECK(rec.ok());  // verified at recovery or when written
    if (rec->type != RecordType::kReminder) return true;
    KeyHash hash = HashKey(rec->tenant, rec->key);
    std::optional<uint32_t> h = engine_.index_.Find(hash);
    if (!h || engine_.index_.meta(*h).seq != seq) return true;
    if (engine_.WriteInFlight(*h, hash)) {
      superseded_.emplace_back(hash, seq);
      return true;
    }
    if (!copies_.batch) copies_.batch = std::make_shared<WriteBatch>();
    SeqNo new_seq = engine_.next_seq_++;
    copies_.batch->Append(new_seq, bytes);
    copies_.ops.push_back(MakeOp(OpKind::kRelocate, hash, new_seq, seq, 0));
    ++relocated_;
    return true;
  });
  if (!scan.ok()) return scan;
  return Step{hi, scanned_ == 0};
}

void Engine::Compaction::CommitCopies(uint64_t, uint64_t, bool and_delete, Done done) {
  RAPPEL_CHECK(!and_delete);  // two commits a step (file comment)
  ++engine_.stats_.compaction_steps;
  if (!pass_) pass_ = Pass{std::chrono::steady_clock::now()};
  ++pass_->steps;
  Pending p = std::move(copies_);
  copies_ = Pending{};
  p.finish = std::move(done);
  if (!p.batch) {
    p.finish(absl::OkStatus());
    return;
  }
  engine_.Submit(std::move(p));
}

void Engine::Compaction::CommitDelete(uint64_t lo, uint64_t hi, Done done) {
  for (const auto& [hash, seq] : superseded_) {
    std::optional<uint32_t> h = engine_.index_.Find(hash);
    if (h && engine_.index_.meta(*h).seq == seq) {
      // The write that was to supersede it failed: it is still the live
      // version. Keep the range; a later step will relocate it.
      absl::Status st =
          absl::AbortedError("compaction step abandoned: a write it waited for failed; try again");
      done(st);
      EndPassIfIdle(st);
      return;
    }
  }
  Pending p;
  p.batch = std::make_shared<WriteBatch>();
  p.batch->DeleteLogRange(lo, hi);
  p.finish = [this, scanned = scanned_, scanned_bytes = scanned_bytes_, relocated = relocated_,
              done = std::move(done)](absl::Status st) {
    if (st.ok()) {
      engine_.stats_.log_records -= scanned;
      engine_.counts_.LogReclaimed(scanned_bytes);
      relocated_total_ += relocated;
      if (pass_) {
        pass_->dropped += scanned - relocated;
        pass_->dropped_bytes += scanned_bytes;
        pass_->relocated += relocated;
      }
    }
    done(st);  // chains the next step, if any
    EndPassIfIdle(st);
  };
  engine_.Submit(std::move(p));
}

void Engine::Compaction::EndPassIfIdle(const absl::Status& st) {
  if (!pass_ || compactor_.running()) return;
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pass_->started).count();
  std::string line = absl::StrCat(
      "compaction: dropped ", pass_->dropped, " records (", pass_->dropped_bytes,
      " bytes scanned), relocated ", pass_->relocated, " live, in ", pass_->steps, " steps, ",
      absl::SixDigits(took), " s; log now ", engine_.stats_.log_records, " records");
  pass_.reset();
  if (st.ok()) {
    LogInfo(line);
  } else {
    LogWarn(absl::StrCat(line, "; stopped: ", st.message()));
  }
}

void Engine::Compaction::CompactNow(std::function<void(absl::StatusOr<CompactionResult>)> done) {
  CompactionResult result;
  result.log_records_before = engine_.stats_.log_records;
  result.log_bytes_before = engine_.counts_.log_bytes();
  compactor_.Force(engine_.next_seq_, [this, result, relocated_before = relocated_total_,
                                       done = std::move(done)](absl::Status st) mutable {
    if (!st.ok()) {
      done(st);
      return;
    }
    ++engine_.stats_.forced_compactions;
    result.log_records_after = engine_.stats_.log_records;
    result.log_bytes_after = engine_.counts_.log_bytes();
    result.live = engine_.index_.size();
    result.relocated = relocated_total_ - relocated_before;
    done(result);
  });
  // Writes still in flight land before the pass reads the log, so that
  // the pass sees them: start it behind them, in submission order.
  Pending p;
  p.finish = [this](absl::Status) { compactor_.Run(); };
  engine_.Submit(std::move(p));
}

void Engine::MaybeCompact() { compaction_->Run(); }

void Engine::CompactNow(std::function<void(absl::StatusOr<CompactionResult>)> done) {
  compaction_->CompactNow(std::move(done));
}

}  // namespace rappel::server
