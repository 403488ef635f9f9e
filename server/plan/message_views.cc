#include "server/plan/message_views.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <span>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/plan/message_outcome.h"
#include "server/plan/quiet_hours.h"

namespace rappel::server::plan {

using nlohmann::json;

namespace {

constexpr int64_t kMaxSummaryDays = 400;

json CountsJson(const MessageSummary::Counts& c) {
  json dropped = json::object();
  for (int i = 1; i < kDropClassCount; ++i) {
    if (uint64_t n = c.dropped[static_cast<size_t>(i)]; n > 0) {
      dropped[std::string(DropClassName(static_cast<DropClass>(i)))] = n;
    }
  }
  return {{"sent", c.sent},       {"delivered", c.delivered},         {"opened", c.opened},
          {"clicked", c.clicked}, {"failed", c.failed},               {"dropped", c.dropped_total()},
          {"dropped_by_reason", std::move(dropped)}, {"credits", c.credits}};
}

void AddCounts(MessageSummary::Counts* to, const MessageSummary::Counts& c) {
  to->sent += c.sent;
  to->delivered += c.delivered;
  to->opened += c.opened;
  to->clicked += c.clicked;
  to->failed += c.failed;
  to->credits += c.credits;
  for (size_t i = 0; i < c.dropped.size(); ++i) to->dropped[i] += c.dropped[i];
}

// A message's id, "<tenant>:@a/<appointment>/<kind>/<channel>/<occurrence>"
// (MessageKey), held as its pieces: compared byte for byte exactly as the
// string would be, without building it (the list builds ids only for the
// messages of the page).
class IdPieces {
 public:
  IdPieces(uint32_t tenant, std::string_view appointment, MessageKind kind, Channel channel,
           uint32_t occurrence) {
    char* t = std::to_chars(tenant_, tenant_ + sizeof(tenant_) - 1, tenant).ptr;
    *t++ = ':';
    char* o = std::to_chars(occurrence_, occurrence_ + sizeof(occurrence_), occurrence).ptr;
    parts_ = {std::string_view(tenant_, static_cast<size_t>(t - tenant_)),
              kReservedKeyPrefix,
              "a/",
              appointment,
              "/",
              KindName(kind),
              "/",
              ChannelName(channel),
              "/",
              std::string_view(occurrence_, static_cast<size_t>(o - occurrence_))};
  }
  IdPieces(const BookEntry& e, const SentRef& m)
      : IdPieces(e.appt.tenant, e.appt.id, m.kind, m.channel, m.occurrence) {}
  IdPieces(const IdPieces&) = delete;  // parts_ points into itself
  IdPieces& operator=(const IdPieces&) = delete;

  // <0, 0 or >0 as std::string::compare of the two ids.
  int Compare(const IdPieces& o) const { return ComparePieces(parts_, o.parts_); }
  int Compare(std::string_view id) const {
    std::string_view whole[1] = {id};
    return ComparePieces(parts_, whole);
  }

 private:
  static int ComparePieces(std::span<const std::string_view> a,
                           std::span<const std::string_view> b) {
    size_t ai = 0, bi = 0, ao = 0, bo = 0;  // piece, and offset in it
    for (;;) {
      while (ai < a.size() && ao == a[ai].size()) ++ai, ao = 0;
      while (bi < b.size() && bo == b[bi].size()) ++bi, bo = 0;
      if (ai == a.size() || bi == b.size()) {
        return (ai == a.size() ? 0 : 1) - (bi == b.size() ? 0 : 1);  // a prefix comes first
      }
      size_t n = std::min(a[ai].size() - ao, b[bi].size() - bo);
      if (int c = a[ai].substr(ao, n).compare(b[bi].substr(bo, n)); c != 0) return c;
      ao += n;
      bo += n;
    }
  }

  char tenant_[11];      // up to 10 digits and ':'
  char occurrence_[10];  // up to 10 digits
  std::array<std::string_view, 10> parts_;
};

// A message of the list, newest first: (at_ms, message id) descending.
struct Listed {
  int64_t at_ms;
  const BookEntry* e;
  const SentRef* m;
  bool Before(const Listed& o) const {  // comes first in the list
    if (at_ms != o.at_ms) return at_ms > o.at_ms;
    return IdPieces(*e, *m).Compare(IdPieces(*o.e, *o.m)) > 0;
  }
};

// Cursor: "<at_ms>:<message id>" of the last message of the previous page.
struct Cursor {
  int64_t at_ms = 0;
  std::string id;
  bool Before(const Listed& l) const {
    return at_ms != l.at_ms ? at_ms > l.at_ms : IdPieces(*l.e, *l.m).Compare(id) < 0;
  }
};

absl::StatusOr<Cursor> ParseCursor(std::string_view c) {
  size_t colon = c.find(':');
  Cursor p;
  if (colon == std::string_view::npos ||
      std::from_chars(c.data(), c.data() + colon, p.at_ms).ptr != c.data() + colon) {
    return absl::InvalidArgumentError("bad cursor: pass the next_cursor of the previous page");
  }
  p.id = std::string(c.substr(colon + 1));
  return p;
}

std::string MessageId(const BookEntry& e, const SentRef& m) {
  return absl::StrCat(e.appt.tenant, ":", MessageKey(e.appt.id, m.kind, m.channel, m.occurrence));
}

}  // namespace

absl::StatusOr<std::string> MessageViews::Summary(const SummaryQuery& q) const {
  const Tenant* t = registry_.FindTenant(q.tenant);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat("unknown tenant ", q.tenant));
  int64_t to = LocalDayOf(*t, engine_.NowMs());
  if (!q.to_day.empty()) {
    auto d = ParseLocalDate(q.to_day);
    if (!d.ok()) return d.status();
    to = *d;
  }
  int64_t from = to - 29;
  if (!q.from_day.empty()) {
    auto d = ParseLocalDate(q.from_day);
    if (!d.ok()) return d.status();
    from = *d;
  }
  if (from > to) return absl::InvalidArgumentError("the period ends before it starts");
  if (to - from + 1 > kMaxSummaryDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("a summary spans at most ", kMaxSummaryDays, " days"));
  }
  json rows = json::array();
  MessageSummary::Counts total;
  for (const auto& [key, counts] : summary_.Range(q.tenant, from, to)) {
    json row = {{"day", FormatLocalDate(static_cast<int32_t>(key.day))},
                {"channel", std::string(ChannelName(key.channel))},
                {"kind", std::string(KindName(key.kind))}};
    row.update(CountsJson(counts));
    rows.push_back(std::move(row));
    AddCounts(&total, counts);
  }
  json out = {{"tenant", q.tenant},
              {"time_zone", t->time_zone},
              {"from", FormatLocalDate(static_cast<int32_t>(from))},
              {"to", FormatLocalDate(static_cast<int32_t>(to))},
              {"rows", std::move(rows)},
              {"total", CountsJson(total)}};
  return out.dump();
}

absl::StatusOr<std::string> MessageViews::List(const MessageListQuery& q) const {
  const Tenant* t = registry_.FindTenant(q.tenant);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat("unknown tenant ", q.tenant));
  std::optional<int64_t> day;
  if (!q.day.empty()) {
    auto d = ParseLocalDate(q.day);
    if (!d.ok()) return d.status();
    day = *d;
  }
  std::optional<Channel> channel;
  if (!q.channel.empty() && !(channel = ParseChannel(q.channel))) {
    return absl::InvalidArgumentError(absl::StrCat("unknown channel \"", q.channel, "\""));
  }
  std::optional<MessageKind> kind;
  if (!q.kind.empty() && !(kind = ParseKind(q.kind))) {
    return absl::InvalidArgumentError(absl::StrCat("unknown message kind \"", q.kind, "\""));
  }
  uint8_t status_bit = 0;
  if (!q.status.empty() && (status_bit = MessageStateBit(q.status)) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown status \"", q.status, "\": sent, delivered, opened, clicked, failed or dropped"));
  }
  if (q.limit > 1000) return absl::InvalidArgumentError("a page holds at most 1000 messages");
  size_t limit = q.limit == 0 ? 50 : q.limit;
  std::optional<Cursor> after;
  if (!q.cursor.empty()) {
    auto c = ParseCursor(q.cursor);
    if (!c.ok()) return c.status();
    after = std::move(*c);
  }
  const int64_t oldest = engine_.NowMs() - t->audit_retention_ms;

  // The first limit + 1 in list order (one more tells whether a next page
  // exists), in a heap whose top is the last of them.
  auto later = [](const Listed& a, const Listed& b) { return a.Before(b); };
  std::vector<Listed> page;
  page.reserve(limit + 1);
  auto consider = [&](const BookEntry& e) {
    if (e.appt.tenant != q.tenant || e.sent.empty()) return;
    if (!q.patient.empty() && e.appt.patient != q.patient) return;
    for (const SentRef& m : e.sent) {
      if (m.at_ms < oldest) continue;
      if (channel && m.channel != *channel) continue;
      if (kind && m.kind != *kind) continue;
      // A status names the message's furthest step ("delivered" is not
      // also "opened"), as the list shows it.
      if (status_bit != 0 && MessageStateName(m.state) != q.status) continue;
      if (day && DayOf(*t, m) != *day) continue;
      Listed l{m.at_ms, &e, &m};
      if (after && !after->Before(l)) continue;
      if (page.size() == limit + 1) {
        if (!l.Before(page.front())) continue;
        std::pop_heap(page.begin(), page.end(), later);
        page.back() = l;
      } else {
        page.push_back(l);
      }
      std::push_heap(page.begin(), page.end(), later);
    }
  };
  if (!q.appointment.empty()) {
    if (const BookEntry* e = log_.Find(q.tenant, q.appointment)) consider(*e);
  } else if (!q.patient.empty()) {
    for (const BookEntry* e : log_.OfPatient(q.tenant, q.patient, INT64_MIN, INT64_MAX)) consider(*e);
  } else {
    for (const BookEntry* e : log_.OfTenant(q.tenant)) consider(*e);
  }
  std::sort_heap(page.begin(), page.end(), later);
  bool more = page.size() > limit;
  if (more) page.pop_back();
  json messages = json::array();
  for (const Listed& f : page) {
    const SentRef& m = *f.m;
    json row = {{"message_id", MessageId(*f.e, m)},
                {"appointment", f.e->appt.id},
                {"patient", f.e->appt.patient},
                {"calendar", f.e->appt.calendar},
                {"kind", std::string(KindName(m.kind))},
                {"channel", std::string(ChannelName(m.channel))},
                {"occurrence", m.occurrence},
                {"at_ms", m.at_ms},
                {"day", FormatLocalDate(static_cast<int32_t>(DayOf(*t, m)))},
                {"status", std::string(MessageStateName(m.state))},
                {"credits", m.credits}};
    if (m.state & message_state::kDropped) {
      row["drop_reason"] = std::string(DropClassName(static_cast<DropClass>(m.drop_class)));
    }
    messages.push_back(std::move(row));
  }
  std::string next;
  if (more && !page.empty()) {
    next = absl::StrCat(page.back().at_ms, ":", MessageId(*page.back().e, *page.back().m));
  }
  json out = {{"tenant", q.tenant}, {"messages", std::move(messages)}, {"next_cursor", next}};
  return out.dump();
}

}  // namespace rappel::server::plan
