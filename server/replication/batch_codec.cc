#include "server/replication/batch_codec.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace rappel::server {
namespace {

// State op flags: which of the optional fields follow the key.
constexpr uint8_t kOpDelete = 1;
constexpr uint8_t kOpValue = 2;
constexpr uint8_t kOpRangeEnd = 4;
constexpr uint8_t kOpCopyFrom = 8;
constexpr uint8_t kOpCopyFallback = 16;
constexpr uint8_t kOpKnown = 31;

constexpr size_t kChecksumBytes = 8;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
size_t BytesSize(std::string_view s) { return VarintSize(s.size()) + s.size(); }

// Writers into a buffer sized by EncodedGroupSize: no capacity check per
// byte, and the primary encodes straight into the frame it ships.
uint8_t* PutVarint(uint8_t* out, uint64_t v) {
  while (v >= 0x80) {
    *out++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<uint8_t>(v);
  return out;
}

uint8_t* PutBytes(uint8_t* out, std::string_view s) {
  out = PutVarint(out, s.size());
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

uint8_t* PutFixed64(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) *out++ = static_cast<uint8_t>(v >> (8 * i));
  return out;
}

// Only the fields the store acts on (Store::Impl::WriteGroup), so that
// every encoding decodes.
uint8_t OpFlags(const WriteBatch::StateOp& op) {
  uint8_t flags = 0;
  if (op.is_delete) {
    flags |= kOpDelete;
    if (!op.range_end.empty()) flags |= kOpRangeEnd;
  } else if (!op.copy_from.empty()) {
    flags |= kOpCopyFrom;
    if (!op.copy_fallback.empty()) flags |= kOpCopyFallback;
  } else if (!op.value.empty()) {
    flags |= kOpValue;
  }
  return flags;
}

// Reads the body of a group; every read is bounded by what is left.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      uint8_t byte = static_cast<uint8_t>(in_[pos_++]);
      // The tenth byte may only hold the top bit of a 64-bit value.
      if (shift == 63 && byte > 1) return false;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Byte(uint8_t* b) {
    if (pos_ >= in_.size()) return false;
    *b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Bytes(std::string_view* s) {
    uint64_t size;
    if (!Varint(&size) || size > left()) return false;
    *s = in_.substr(pos_, size);
    pos_ += size;
    return true;
  }
  // A count of items each at least `min_item_bytes` long must fit in what
  // is left: no allocation is sized by an unchecked number.
  bool Count(uint64_t* n, size_t min_item_bytes) {
    return Varint(n) && *n <= left() / min_item_bytes;
  }
  size_t left() const { return in_.size() - pos_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

absl::Status Malformed(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("replication group: ", what));
}

}  // namespace

size_t EncodedGroupSize(const ReplGroup& group) {
  size_t n = 1 + VarintSize(group.prev.term) + VarintSize(group.prev.index) +
             VarintSize(group.pos.term) + VarintSize(group.pos.index) +
             VarintSize(group.commit_unix_ms) + VarintSize(group.batches.size());
  for (const auto& batch : group.batches) {
    const WriteBatch& b = *batch;
    n += VarintSize(b.log_records().size());
    for (const auto& r : b.log_records()) {
      n += VarintSize(r.seq) + VarintSize(r.size) + r.size;
    }
    n += VarintSize(b.deleted_ranges().size());
    for (const auto& range : b.deleted_ranges()) n += VarintSize(range.lo) + VarintSize(range.hi);
    n += VarintSize(b.state_ops().size());
    for (const auto& op : b.state_ops()) {
      uint8_t flags = OpFlags(op);
      n += 1 + BytesSize(op.key);
      if (flags & kOpValue) n += BytesSize(op.value);
      if (flags & kOpRangeEnd) n += BytesSize(op.range_end);
      if (flags & kOpCopyFrom) n += BytesSize(op.copy_from);
      if (flags & kOpCopyFallback) n += BytesSize(op.copy_fallback);
    }
  }
  return n + kChecksumBytes;
}

void EncodeGroupTo(const ReplGroup& group, uint8_t* out) {
  uint8_t* const start = out;
  *out++ = kGroupCodecVersion;
  out = PutVarint(out, group.prev.term);
  out = PutVarint(out, group.prev.index);
  out = PutVarint(out, group.pos.term);
  out = PutVarint(out, group.pos.index);
  out = PutVarint(out, group.commit_unix_ms);
  out = PutVarint(out, group.batches.size());
  for (const auto& batch : group.batches) {
    const WriteBatch& b = *batch;
    out = PutVarint(out, b.log_records().size());
    for (const auto& r : b.log_records()) {
      out = PutVarint(out, r.seq);
      out = PutBytes(out, b.record_bytes(r));
    }
    out = PutVarint(out, b.deleted_ranges().size());
    for (const auto& range : b.deleted_ranges()) {
      out = PutVarint(out, range.lo);
      out = PutVarint(out, range.hi);
    }
    out = PutVarint(out, b.state_ops().size());
    for (const auto& op : b.state_ops()) {
      uint8_t flags = OpFlags(op);
      *out++ = flags;
      out = PutBytes(out, op.key);
      if (flags & kOpValue) out = PutBytes(out, op.value);
      if (flags & kOpRangeEnd) out = PutBytes(out, op.range_end);
      if (flags & kOpCopyFrom) out = PutBytes(out, op.copy_from);
      if (flags & kOpCopyFallback) out = PutBytes(out, op.copy_fallback);
    }
  }
  PutFixed64(out, XXH64(start, static_cast<size_t>(out - start), 0));
}

void EncodeGroup(const ReplGroup& group, std::string& out) {
  size_t at = out.size();
  out.resize(at + EncodedGroupSize(group));
  EncodeGroupTo(group, reinterpret_cast<uint8_t*>(out.data() + at));
}

std::string EncodeGroup(const ReplGroup& group) {
  std::string out;
  EncodeGroup(group, out);
  return out;
}

absl::StatusOr<ReplGroup> DecodeGroup(std::string_view bytes) {
  if (bytes.size() < 1 + kChecksumBytes) return Malformed("shorter than its header");
  std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  uint64_t stored = 0;
  for (int i = 7; i >= 0; --i) {
    stored = (stored << 8) | static_cast<uint8_t>(bytes[body.size() + i]);
  }
  if (XXH64(body.data(), body.size(), 0) != stored) {
    return absl::DataLossError("replication group: checksum mismatch");
  }
  if (static_cast<uint8_t>(body[0]) != kGroupCodecVersion) {
    return Malformed(absl::StrCat("unknown version ", static_cast<int>(body[0])));
  }
  Reader in(body.substr(1));
  ReplGroup group;
  uint64_t batches;
  if (!in.Varint(&group.prev.term) || !in.Varint(&group.prev.index) ||
      !in.Varint(&group.pos.term) || !in.Varint(&group.pos.index) ||
      !in.Varint(&group.commit_unix_ms) || !in.Count(&batches, 3)) {
    return Malformed("truncated header");
  }
  group.batches.reserve(batches);
  bool any_seq = false;
  SeqNo last_seq = 0;
  for (uint64_t bi = 0; bi < batches; ++bi) {
    auto batch = std::make_shared<WriteBatch>();
    uint64_t records;
    if (!in.Count(&records, 2)) return Malformed("bad record count");
    {
      // Sizes the batch's arena first: one allocation instead of regrowth
      // (WriteBatch::Append was a third of a standby's profile, mostly
      // copies and page faults of the growing arena). A malformed record
      // stops the scan; the pass below reports it.
      Reader scan = in;
      uint64_t total = 0;
      for (uint64_t i = 0; i < records; ++i) {
        uint64_t seq;
        std::string_view data;
        if (!scan.Varint(&seq) || !scan.Bytes(&data)) break;
        total += data.size();
      }
      batch->Reserve(records, std::min<uint64_t>(total, std::numeric_limits<uint32_t>::max()));
    }
    uint64_t arena = 0;
    for (uint64_t i = 0; i < records; ++i) {
      uint64_t seq;
      std::string_view data;
      if (!in.Varint(&seq) || !in.Bytes(&data)) return Malformed("truncated log record");
      // The log is append-only: a committed group's keys only grow.
      if (any_seq && seq <= last_seq) return Malformed("log sequence numbers not increasing");
      any_seq = true;
      last_seq = seq;
      arena += data.size();
      if (arena > std::numeric_limits<uint32_t>::max()) return Malformed("batch too large");
      batch->Append(seq, data);
    }
    uint64_t ranges;
    if (!in.Count(&ranges, 2)) return Malformed("bad range count");
    for (uint64_t i = 0; i < ranges; ++i) {
      uint64_t lo, hi;
      if (!in.Varint(&lo) || !in.Varint(&hi)) return Malformed("truncated log range");
      if (lo >= hi) return Malformed("empty log range");
      batch->DeleteLogRange(lo, hi);
    }
    uint64_t op_count;
    if (!in.Count(&op_count, 2)) return Malformed("bad state op count");
    std::vector<WriteBatch::StateOp> ops;
    ops.reserve(op_count);
    for (uint64_t i = 0; i < op_count; ++i) {
      uint8_t flags;
      std::string_view key, value, range_end, copy_from, copy_fallback;
      if (!in.Byte(&flags) || !in.Bytes(&key)) return Malformed("truncated state op");
      bool is_delete = flags & kOpDelete;
      if ((flags & ~kOpKnown) != 0 ||
          (is_delete && (flags & (kOpValue | kOpCopyFrom | kOpCopyFallback))) ||
          (!is_delete && (flags & kOpRangeEnd)) ||
          ((flags & kOpCopyFallback) && !(flags & kOpCopyFrom)) ||
          ((flags & kOpValue) && (flags & kOpCopyFrom))) {
        return Malformed(absl::StrCat("bad state op flags ", flags));
      }
      if (((flags & kOpValue) && !in.Bytes(&value)) ||
          ((flags & kOpRangeEnd) && !in.Bytes(&range_end)) ||
          ((flags & kOpCopyFrom) && !in.Bytes(&copy_from)) ||
          ((flags & kOpCopyFallback) && !in.Bytes(&copy_fallback))) {
        return Malformed("truncated state op");
      }
      // A field that is there is not empty: one encoding per op.
      if (((flags & kOpValue) && value.empty()) || ((flags & kOpCopyFrom) && copy_from.empty()) ||
          ((flags & kOpCopyFallback) && copy_fallback.empty())) {
        return Malformed("empty state op field");
      }
      if ((flags & kOpRangeEnd) && range_end <= key) return Malformed("empty state range");
      WriteBatch::StateOp op{std::string(key), std::string(value), is_delete};
      op.range_end = std::string(range_end);
      op.copy_from = std::string(copy_from);
      op.copy_fallback = std::string(copy_fallback);
      ops.push_back(std::move(op));
    }
    batch->AddStateOps(std::move(ops));
    group.batches.push_back(std::move(batch));
  }
  if (in.left() != 0) return Malformed("trailing bytes");
  return group;
}

}  // namespace rappel::server
