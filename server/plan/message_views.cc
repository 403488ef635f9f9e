#include "server/plan/message_views.h"

#include <algorithm>
#include <charconv>

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

// A list position, newest first: (at_ms, message id) descending.
struct Position {
  int64_t at_ms = 0;
  std::string id;
  bool Before(const Position& o) const {  // comes first in the list
    return at_ms != o.at_ms ? at_ms > o.at_ms : id > o.id;
  }
};

// Cursor: "<at_ms>:<message id>" of the last message of the previous page.
absl::StatusOr<Position> ParseCursor(std::string_view c) {
  size_t colon = c.find(':');
  Position p;
  if (colon == std::string_view::npos ||
      std::from_chars(c.data(), c.data() + colon, p.at_ms).ptr != c.data() + colon) {
    return absl::InvalidArgumentError("bad cursor: pass the next_cursor of the previous page");
  }
  p.id = std::string(c.substr(colon + 1));
  return p;
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
  std::optional<Position> after;
  if (!q.cursor.empty()) {
    auto c = ParseCursor(q.cursor);
    if (!c.ok()) return c.status();
    after = std::move(*c);
  }
  const int64_t oldest = engine_.NowMs() - t->audit_retention_ms;

  struct Found {
    Position pos;
    const BookEntry* e;
    const SentRef* m;
  };
  std::vector<Found> found;
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
      if (day && LocalDayOf(*t, m.at_ms) != *day) continue;
      Position pos{m.at_ms, absl::StrCat(e.appt.tenant, ":",
                                         MessageKey(e.appt.id, m.kind, m.channel, m.occurrence))};
      if (after && !after->Before(pos)) continue;
      found.push_back(Found{std::move(pos), &e, &m});
    }
  };
  if (!q.appointment.empty()) {
    if (const BookEntry* e = log_.Find(q.tenant, q.appointment)) consider(*e);
  } else if (!q.patient.empty()) {
    for (const BookEntry* e : log_.OfPatient(q.tenant, q.patient, INT64_MIN, INT64_MAX)) consider(*e);
  } else {
    for (const auto& [obj, e] : log_.entries()) consider(e);
  }
  auto newer = [](const Found& a, const Found& b) { return a.pos.Before(b.pos); };
  bool more = found.size() > limit;
  if (more) {
    std::nth_element(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(limit), found.end(), newer);
    found.resize(limit);
  }
  std::sort(found.begin(), found.end(), newer);
  json messages = json::array();
  for (const Found& f : found) {
    const SentRef& m = *f.m;
    json row = {{"message_id", f.pos.id},
                {"appointment", f.e->appt.id},
                {"patient", f.e->appt.patient},
                {"calendar", f.e->appt.calendar},
                {"kind", std::string(KindName(m.kind))},
                {"channel", std::string(ChannelName(m.channel))},
                {"occurrence", m.occurrence},
                {"at_ms", m.at_ms},
                {"day", FormatLocalDate(static_cast<int32_t>(LocalDayOf(*t, m.at_ms)))},
                {"status", std::string(MessageStateName(m.state))},
                {"credits", m.credits}};
    if (m.state & message_state::kDropped) {
      row["drop_reason"] = std::string(DropClassName(static_cast<DropClass>(m.drop_class)));
    }
    messages.push_back(std::move(row));
  }
  std::string next;
  if (more && !found.empty()) next = absl::StrCat(found.back().pos.at_ms, ":", found.back().pos.id);
  json out = {{"tenant", q.tenant}, {"messages", std::move(messages)}, {"next_cursor", next}};
  return out.dump();
}

}  // namespace rappel::server::plan
