#include "server/plan/appointment_record.h"

#include <algorithm>
#include <cstring>

#include "server/common/bytes.h"

namespace rappel::server::plan {
namespace {

// A small binary writer/reader for the record (format in the header). The
// writer fills a buffer sized once up front (a record is encoded per ack:
// growing a string byte by byte showed in the profile).
class Writer {
 public:
  explicit Writer(size_t size_hint) { out_.resize(size_hint); }
  void U8(uint8_t v) {
    *Room(1) = static_cast<char>(v);
    ++len_;
  }
  void U32(uint32_t v) { Var(v); }
  void I64(int64_t v) { Var(ZigZag(v)); }
  void Str(std::string_view s) {
    Var(s.size());
    if (!s.empty()) std::memcpy(Room(s.size()), s.data(), s.size());
    len_ += s.size();
  }
  std::string Take() {
    out_.resize(len_);
    return std::move(out_);
  }

 private:
  // At least n bytes free at out_[len_].
  char* Room(size_t n) {
    if (len_ + n > out_.size()) out_.resize(std::max(out_.size() * 2, len_ + n));
    return out_.data() + len_;
  }
  void Var(uint64_t v) {  // PutVarint's encoding
    char* p = Room(10);
    size_t n = 0;
    while (v >= 0x80) {
      p[n++] = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    p[n++] = static_cast<char>(v);
    len_ += n;
  }

  std::string out_;
  size_t len_ = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  // Varint integers (format 4 on) instead of fixed big-endian ones.
  void set_varints(bool on) { varints_ = on; }
  bool ok() const { return ok_; }
  uint8_t U8() { return static_cast<uint8_t>(Take(1)); }
  uint32_t U32() {
    if (!varints_) return static_cast<uint32_t>(Take(4));
    uint64_t v = Var();
    if (v > UINT32_MAX) ok_ = false;
    return static_cast<uint32_t>(v);
  }
  int64_t I64() {
    if (!varints_) return static_cast<int64_t>(Take(8));
    return UnZigZag(Var());
  }
  std::string Str() {
    std::string s;
    uint32_t n = U32();
    if (ok_ && !TakeBytes(&in_, n, &s)) ok_ = false;
    return s;
  }
  bool done() const { return in_.empty(); }

 private:
  uint64_t Take(size_t n) {
    if (in_.size() < n) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(in_[i]);
    in_.remove_prefix(n);
    return v;
  }
  uint64_t Var() {
    uint64_t v = 0;
    if (!GetVarint(&in_, &v)) ok_ = false;
    return ok_ ? v : 0;
  }
  std::string_view in_;
  bool varints_ = false;
  bool ok_ = true;
};

// 6: a sent message's day; 5: schedule_revision, links_used and
// scheduled_at_ms after delay_ms, and the sent messages at the end; 4: varint integers; 3: a plan entry carries its
// credits and flags (2: without them).
constexpr uint8_t kEntryFormat = 6;



}  // namespace

std::string EncodeEntry(const BookEntry& e) {
  const Appointment& a = e.appt;
  // Enough for most records (varints of ids, times and counts are short);
  // the writer grows if not.
  Writer w(160 + a.id.size() + a.calendar.size() + a.type.size() + a.patient.size() +
           a.location.size() + a.notes.size() + 24 * e.plan.size() + 6 * e.audit.size() +
           20 * e.sent.size());
  w.U8(kEntryFormat);
  w.U32(a.tenant);
  w.Str(a.id);
  w.I64(static_cast<int64_t>(a.version));
  w.U32(a.revision);
  w.Str(a.calendar);
  w.Str(a.type);
  w.Str(a.patient);
  w.I64(a.start_ms);
  w.I64(a.end_ms);
  w.Str(a.location);
  w.Str(a.notes);
  w.U8(a.booked_online);
  w.I64(a.booked_at_ms);
  w.U8(a.channels);
  w.U8(static_cast<uint8_t>(a.lifecycle));
  w.U8(static_cast<uint8_t>(a.status));
  w.U8(a.confirmed);
  w.U8(a.arrived);
  w.I64(a.delay_ms);
  w.U32(a.schedule_revision);
  w.U8(a.links_used);
  w.I64(a.scheduled_at_ms);
  w.U32(static_cast<uint32_t>(e.plan.size()));
  for (const PlanRef& p : e.plan) {
    w.U8(static_cast<uint8_t>(p.kind));
    w.U8(static_cast<uint8_t>(p.channel));
    w.U32(p.occurrence);
    w.I64(p.due_ms);
    w.U32(p.credits);
    w.U8(p.flags);
  }
  w.U32(static_cast<uint32_t>(e.audit.size()));
  for (uint64_t n : e.audit) w.I64(static_cast<int64_t>(n));
  w.U32(static_cast<uint32_t>(e.sent.size()));
  for (const SentRef& m : e.sent) {
    w.U8(static_cast<uint8_t>(m.kind));
    w.U8(static_cast<uint8_t>(m.channel));
    w.U32(m.occurrence);
    w.I64(m.at_ms);
    w.U8(m.state);
    w.U8(m.drop_class);
    w.U32(m.credits);
    w.I64(m.day);
  }
  return w.Take();
}

absl::StatusOr<BookEntry> DecodeEntry(uint64_t seq, std::string_view bytes) {
  Reader r(bytes);
  BookEntry e;
  e.seq = seq;
  Appointment& a = e.appt;
  uint8_t format = r.U8();
  if (format < 2 || format > kEntryFormat) {
    return absl::DataLossError("unknown appointment record format");
  }
  r.set_varints(format >= 4);
  a.tenant = r.U32();
  a.id = r.Str();
  a.version = static_cast<uint64_t>(r.I64());
  a.revision = r.U32();
  a.calendar = r.Str();
  a.type = r.Str();
  a.patient = r.Str();
  a.start_ms = r.I64();
  a.end_ms = r.I64();
  a.location = r.Str();
  a.notes = r.Str();
  a.booked_online = r.U8() != 0;
  a.booked_at_ms = r.I64();
  a.channels = r.U8();
  a.lifecycle = static_cast<Lifecycle>(r.U8());
  a.status = static_cast<VisitStatus>(r.U8());
  a.confirmed = r.U8() != 0;
  a.arrived = r.U8() != 0;
  a.delay_ms = r.I64();
  if (format >= 5) {
    a.schedule_revision = r.U32();
    a.links_used = r.U8();
    a.scheduled_at_ms = r.I64();
  } else {
    // Tokens issued before carry the revision: those of the latest one stay good.
    a.schedule_revision = a.revision;
    a.scheduled_at_ms = a.booked_at_ms;
  }
  uint32_t n = r.U32();
  if (!r.ok() || n > 1024) return absl::DataLossError("truncated appointment record");
  e.plan.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    PlanRef p;
    p.kind = static_cast<MessageKind>(r.U8());
    p.channel = static_cast<Channel>(r.U8());
    p.occurrence = r.U32();
    p.due_ms = r.I64();
    if (format >= 3) {
      p.credits = r.U32();
      p.flags = r.U8();
    }
    e.plan.push_back(p);
  }
  uint32_t audits = r.U32();
  if (!r.ok() || audits > (1u << 20)) return absl::DataLossError("truncated appointment record");
  e.audit.reserve(audits);
  for (uint32_t i = 0; i < audits; ++i) e.audit.push_back(static_cast<uint64_t>(r.I64()));
  if (format >= 5) {
    uint32_t sent = r.U32();
    if (!r.ok() || sent > (1u << 20)) return absl::DataLossError("truncated appointment record");
    e.sent.reserve(sent);
    for (uint32_t i = 0; i < sent; ++i) {
      SentRef m;
      m.kind = static_cast<MessageKind>(r.U8());
      m.channel = static_cast<Channel>(r.U8());
      m.occurrence = r.U32();
      m.at_ms = r.I64();
      m.state = r.U8();
      m.drop_class = r.U8();
      m.credits = r.U32();
      if (format >= 6) m.day = r.I64();
      e.sent.push_back(m);
    }
  }
  if (!r.ok() || !r.done()) return absl::DataLossError("malformed appointment record");
  return e;
}

}  // namespace rappel::server::plan
