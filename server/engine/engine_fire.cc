// Engine: firing, due reminders handed to the sink as references (Poll), their
// content read when leased (ReadDue), or handed back (ReturnDue).
#include "server/engine/engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/check.h"

namespace rappel::server {

bool Engine::Poll(int64_t now_ms, DueSink& sink, size_t budget) {
  fired_.clear();
  bool caught_up = wheel_.Advance(static_cast<uint64_t>(std::max<int64_t>(now_ms, 0)), budget,
                                  &fired_);
  if (!fired_.empty()) {
    std::vector<DueRef> due;
    due.reserve(fired_.size());
    Pending expired;
    uint64_t expired_count = 0;
    std::vector<uint32_t> expired_handles;
    {
      auto reader = store_->NewReader();
      for (WheelHandle wh : fired_) {
        uint32_t h = wh.value;
        KeyIndex::Meta& m = index_.meta(h);
        absl::Status st = reader.ok() ? absl::OkStatus() : reader.status();
        if (st.ok() && WriteInFlight(h, m.hash)) {
          // A write to this key is in flight (a cancel, a change): let it
          // land first.
          st = wheel_.Schedule(wh, static_cast<uint64_t>(now_ms + options_.defer_while_writing_ms));
          RAPPEL_CHECK(st.ok());
          index_.MarkShapeStale(h);  // the wheel's due is no longer the record's
          continue;
        }
        absl::StatusOr<std::string_view> bytes =
            st.ok() ? reader->GetLog(m.seq) : absl::StatusOr<std::string_view>(st);
        // The header is all the sink gets here; the checksum is verified
        // when the content is read (ReadDue), or below before an expiry.
        absl::StatusOr<RecordView> rec = bytes.ok()
                                             ? DecodeRecord(*bytes, Verify::kStructure)
                                             : absl::StatusOr<RecordView>(bytes.status());
        if (rec.ok() && rec->expiry_ms != 0 && now_ms > rec->expiry_ms) {
          rec = DecodeRecord(*bytes);  // a corrupt record is retried, never expired
        }
        if (!rec.ok()) {
          // The store cannot give the record back right now: try later
          // rather than lose the reminder.
          st = wheel_.Schedule(wh, static_cast<uint64_t>(now_ms + options_.retry_after_failure_ms));
          RAPPEL_CHECK(st.ok());
          index_.MarkShapeStale(h);  // the wheel's due is no longer the record's
          continue;
        }
        if (rec->expiry_ms != 0 && now_ms > rec->expiry_ms) {
          AddTombstone(&expired, m.hash, rec->tenant, rec->key, EndReason::kExpired, now_ms,
                       PriorOf(*bytes));
          expired_handles.push_back(h);
          ++expired_count;
          continue;
        }
        due.push_back(DueRef{m.seq, h, rec->tenant, m.hash, rec->due_ms, rec->expiry_ms,
                             rec->channel});
      }
    }
    if (expired.batch) {
      expired.finish = [this, expired_count, handles = std::move(expired_handles)](absl::Status st) {
        if (st.ok()) {
          stats_.expired += expired_count;
          return;
        }
        // Not dropped after all: look at them again later.
        int64_t retry = Now() + options_.retry_after_failure_ms;
        for (uint32_t h : handles) {
          if (index_.meta(h).seq != 0 && !wheel_.IsScheduled(WheelHandle{h})) {
            RAPPEL_CHECK(wheel_.Schedule(WheelHandle{h}, static_cast<uint64_t>(retry)).ok());
            index_.MarkShapeStale(h);  // the wheel's due is no longer the record's
          }
        }
      };
      Submit(std::move(expired));
    }
    stats_.fired += due.size();
    if (!due.empty()) sink.OnDue(std::move(due));
  }
  MaybeCompact();
  return caught_up;
}

absl::Status Engine::ReadDue(const DueRef& ref, std::optional<Store::Reader>* reader,
                            DueReminder* out) {
  std::optional<Current> current = CurrentVersion(ref.hash, ref.seq, ref.slot);
  if (!current) return absl::NotFoundError("no longer the current version");
  // Compaction may have moved a durable version to a new number since Poll:
  // its handle's seq says where it is now.
  SeqNo at = current->handle ? index_.meta(*current->handle).seq : ref.seq;
  absl::StatusOr<std::string_view> bytes = GetLog(at, reader);
  absl::StatusOr<RecordView> rec =
      bytes.ok() ? DecodeRecord(*bytes) : absl::StatusOr<RecordView>(bytes.status());
  if (rec.ok() && rec->type != RecordType::kReminder) {
    rec = absl::DataLossError(absl::StrCat("log record ", at, " is not a reminder"));
  }
  if (!rec.ok()) {
    return absl::UnavailableError(absl::StrCat("reading due reminder ", ref.seq, ": ",
                                               rec.status().message()));
  }
  out->seq = ref.seq;
  rec->CopyTo(&out->reminder);
  out->slot = ref.slot;
  out->hash = ref.hash;
  return absl::OkStatus();
}

void Engine::ReturnDue(const DueRef& ref) {
  // Not current, or in flight (that write decides its fate): nothing to do.
  std::optional<Current> current = CurrentVersion(ref.hash, ref.seq, ref.slot);
  if (!current || !current->handle) return;
  std::optional<uint32_t> h = current->handle;
  if (wheel_.IsScheduled(WheelHandle{*h})) return;
  // As Poll does with a record it cannot read: try later rather than lose it.
  RAPPEL_CHECK(
      wheel_.Schedule(WheelHandle{*h}, static_cast<uint64_t>(Now() + options_.retry_after_failure_ms))
          .ok());
  index_.MarkShapeStale(*h);  // the wheel's due is no longer the record's
}

std::optional<int64_t> Engine::NextWakeMs() const {
  auto next = wheel_.NextExpirationMs();
  if (!next) return std::nullopt;
  return static_cast<int64_t>(*next);
}

}  // namespace rappel::server
