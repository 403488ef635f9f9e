#include "server/plan/audit.h"

#include <algorithm>
#include <charconv>

#include "server/common/bytes.h"

namespace rappel::server::plan {
namespace {

constexpr char kBinaryFormat = 1;  // text records start with a digit

// Line: zigzag(at - the first line's at; the first: at), what, kind, channel (0: every),
// occurrence, zigzag(due - at), reason; strings are a varint length and
// their bytes. The deltas keep the times to a byte or four.
void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

class LineReader {
 public:
  explicit LineReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  uint64_t Varint() {
    uint64_t v = 0;
    if (!GetVarint(&in_, &v)) ok_ = false;
    return ok_ ? v : 0;
  }
  uint8_t Byte() {
    if (in_.empty()) {
      ok_ = false;
      return 0;
    }
    auto b = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return b;
  }
  std::string String() {
    std::string s;
    uint64_t n = Varint();
    if (ok_ && !TakeBytes(&in_, n, &s)) ok_ = false;
    return s;
  }

 private:
  std::string_view in_;
  bool ok_ = true;
};

// The first line's time of a record being built (the base of the others).
int64_t FirstAt(std::string_view record) {
  LineReader r(record.substr(1));
  return UnZigZag(r.Varint());
}

std::vector<AuditEntry> ParseBinary(std::string_view record) {
  std::vector<AuditEntry> out;
  LineReader r(record.substr(1));
  int64_t base = 0;
  bool first = true;
  while (!r.done()) {
    AuditEntry e;
    int64_t at = base + UnZigZag(r.Varint());
    if (first) {
      base = at;
      first = false;
    }
    e.at_ms = at;
    e.what = r.String();
    uint8_t kind = r.Byte();
    uint8_t channel = r.Byte();
    e.occurrence = static_cast<uint32_t>(r.Varint());
    int64_t due_delta = UnZigZag(r.Varint());
    e.reason = r.String();
    if (!r.ok() || kind < 1 || kind > kMessageKindCount ||
        (channel != 0 && !IsValidChannel(channel))) {
      break;  // a damaged record: what came before it stands
    }
    e.due_ms = at + due_delta;
    e.kind = std::string(KindName(static_cast<MessageKind>(kind)));
    e.channel = channel == 0 ? "*" : std::string(ChannelName(static_cast<Channel>(channel)));
    out.push_back(std::move(e));
  }
  return out;
}

// Text records: "at\twhat\tkind\tchannel\toccurrence\tdue\treason\n" lines.
std::vector<AuditEntry> ParseText(std::string_view v) {
  std::vector<AuditEntry> out;
  while (!v.empty()) {
    size_t nl = v.find('\n');
    std::string_view line = v.substr(0, nl);
    v.remove_prefix(nl == std::string_view::npos ? v.size() : nl + 1);
    std::vector<std::string_view> f;
    size_t start = 0;
    for (;;) {
      size_t tab = line.find('\t', start);
      f.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    AuditEntry e;
    auto number = [](std::string_view s, auto* v) {
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
      return ec == std::errc() && end == s.data() + s.size() && !s.empty();
    };
    if (f.size() != 7 || !number(f[0], &e.at_ms) || !number(f[4], &e.occurrence) ||
        !number(f[5], &e.due_ms)) {
      continue;
    }
    e.what = std::string(f[1]);
    e.kind = std::string(f[2]);
    e.channel = std::string(f[3]);
    e.reason = std::string(f[6]);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

void AppendAuditLine(std::string* record, int64_t at_ms, std::string_view what, MessageKind kind,
                     std::optional<Channel> channel, uint32_t occurrence, int64_t due_ms,
                     std::string_view reason) {
  int64_t base = 0;
  if (record->empty()) {
    record->push_back(kBinaryFormat);
  } else {
    base = FirstAt(*record);
  }
  PutVarint(record, ZigZag(at_ms - base));
  PutString(record, what);
  record->push_back(static_cast<char>(kind));
  record->push_back(channel ? static_cast<char>(*channel) : char{0});
  PutVarint(record, occurrence);
  PutVarint(record, ZigZag(due_ms - at_ms));
  // A reason (a worker's ack detail) is shown as one line.
  size_t from = record->size() + (reason.size() < 0x80 ? 1 : 2);
  PutString(record, reason);
  if (from < record->size()) {
    std::replace_if(record->begin() + static_cast<std::ptrdiff_t>(from), record->end(),
                    [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  }
}

std::vector<AuditEntry> ParseAuditRecord(std::string_view record) {
  if (record.empty()) return {};
  return record.front() == kBinaryFormat ? ParseBinary(record) : ParseText(record);
}

}  // namespace rappel::server::plan
