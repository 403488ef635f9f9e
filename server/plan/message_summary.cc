#include "server/plan/message_summary.h"

#include <algorithm>

#include "server/common/bytes.h"
#include "server/plan/registry.h"

namespace rappel::server::plan {
namespace {

constexpr std::string_view kPrefix = "su/";
constexpr int64_t kDayBias = int64_t{1} << 31;

// Counters in a fixed order, a count first (so that counters can be added
// at the end and older records still read). Into `out`, reusing its
// capacity (a row is encoded per ack).
void EncodeCounts(const MessageSummary::Counts& c, std::string* out) {
  char buf[(6 + kDropClassCount) * 10];
  size_t n = 0;
  auto var = [&](uint64_t v) {  // PutVarint's encoding
    while (v >= 0x80) {
      buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
  };
  var(6 + kDropClassCount - 1);
  for (uint64_t v : {c.sent, c.delivered, c.opened, c.clicked, c.failed, c.credits}) var(v);
  for (int i = 1; i < kDropClassCount; ++i) var(c.dropped[static_cast<size_t>(i)]);
  out->assign(buf, n);
}

bool DecodeCounts(std::string_view v, MessageSummary::Counts* c) {
  uint64_t n = 0;
  if (!GetVarint(&v, &n) || n > 64) return false;
  uint64_t* fixed[] = {&c->sent, &c->delivered, &c->opened, &c->clicked, &c->failed, &c->credits};
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t x = 0;
    if (!GetVarint(&v, &x)) return false;
    if (i < 6) {
      *fixed[i] = x;
    } else if (i - 5 < static_cast<uint64_t>(kDropClassCount)) {
      c->dropped[i - 5] = x;
    }
  }
  return v.empty();
}

void Add(uint64_t* counter, int delta) {
  if (delta > 0) {
    ++*counter;
  } else if (delta < 0 && *counter > 0) {
    --*counter;
  }
}

}  // namespace

uint64_t MessageSummary::Counts::dropped_total() const {
  uint64_t n = 0;
  for (uint64_t d : dropped) n += d;
  return n;
}

std::string MessageSummary::RecordKey(const Key& key) {
  std::string k(kPrefix);
  PutBE(&k, key.tenant, 4);
  PutBE(&k, static_cast<uint64_t>(key.day + kDayBias), 4);
  k.push_back(static_cast<char>(key.channel));
  k.push_back(static_cast<char>(key.kind));
  return k;
}

absl::Status MessageSummary::Load(Store::Reader& reader) {
  return ScanByTenant(reader, kPrefix, [&](uint32_t tenant, std::string_view rest, std::string_view v) {
    if (rest.size() != 6) return absl::DataLossError("malformed message summary key");
    Key key;
    key.tenant = tenant;
    key.day = static_cast<int64_t>(GetBE(rest, 0, 4)) - kDayBias;
    key.channel = static_cast<Channel>(rest[4]);
    key.kind = static_cast<MessageKind>(rest[5]);
    Counts c;
    if (!DecodeCounts(v, &c)) return absl::DataLossError("malformed message summary record");
    rows_[key] = c;
    return absl::OkStatus();
  });
}

void MessageSummary::Note(const Key& key, uint8_t before, uint8_t after, DropClass drop_class,
                          uint32_t credits, Engine::StateWrites* writes) {
  if (before == after && credits == 0) return;
  using namespace message_state;
  Counts& c = rows_[key];
  auto bit = [&](uint8_t b) { return ((after & b) != 0) - ((before & b) != 0); };
  Add(&c.sent, bit(kSent));
  Add(&c.delivered, bit(kDelivered));
  Add(&c.opened, bit(kOpened));
  Add(&c.clicked, bit(kClicked));
  Add(&c.failed, bit(kFailed));
  if (int d = bit(kDropped); d != 0) {
    auto cls = static_cast<size_t>(drop_class);
    if (cls >= c.dropped.size() || cls == 0) cls = static_cast<size_t>(DropClass::kNoAddress);
    Add(&c.dropped[cls], d);
  }
  c.credits += credits;
  if (writes != open_writes_) {
    open_writes_ = writes;
    open_rows_.clear();
  }
  for (auto& [k, index] : open_rows_) {
    if (k != key) continue;
    if (index < writes->size()) {
      WriteBatch::StateOp& op = (*writes)[index];
      if (!op.is_delete && op.copy_from.empty() && op.key == RecordKey(key)) {
        EncodeCounts(c, &op.value);
        return;
      }
    }
    index = writes->size();
    break;
  }
  // A batch touches a few rows (its tenants' channels and kinds); past
  // this many, rows are put again rather than searched for.
  if (open_rows_.size() < 64 &&
      std::none_of(open_rows_.begin(), open_rows_.end(), [&](const auto& r) { return r.first == key; })) {
    open_rows_.emplace_back(key, writes->size());
  }
  WriteBatch::StateOp& op = writes->emplace_back(StatePut(RecordKey(key), {}));
  EncodeCounts(c, &op.value);
}

void MessageSummary::Reload(Store::Reader& reader, const std::vector<Key>& keys) {
  open_writes_ = nullptr;
  open_rows_.clear();
  for (const Key& key : keys) {
    auto bytes = reader.GetState(RecordKey(key));
    Counts c;
    if (bytes.ok() && bytes->has_value() && DecodeCounts(**bytes, &c)) {
      rows_[key] = c;
    } else if (bytes.ok() && !bytes->has_value()) {
      rows_.erase(key);
    }
  }
}

std::vector<std::pair<MessageSummary::Key, MessageSummary::Counts>> MessageSummary::Range(
    uint32_t tenant, int64_t from_day, int64_t to_day) const {
  std::vector<std::pair<Key, Counts>> out;
  Key lo{tenant, from_day, static_cast<Channel>(0), static_cast<MessageKind>(0)};
  for (auto it = rows_.lower_bound(lo); it != rows_.end(); ++it) {
    if (it->first.tenant != tenant || it->first.day > to_day) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

}  // namespace rappel::server::plan
