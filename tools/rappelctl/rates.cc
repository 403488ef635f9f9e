#include "tools/rappelctl/rates.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;

// "sms", "email", "voice", "push".
std::optional<client::Channel> ParseChannel(const std::string& name) {
  for (auto c : {client::Channel::kSms, client::Channel::kEmail, client::Channel::kVoice,
                 client::Channel::kPush}) {
    if (name == client::ChannelName(c)) return c;
  }
  return std::nullopt;
}

// "50/s", "3000/min", "10/h", "100/day", "2/10s", "5/250ms": count and period.
absl::Status ParseRate(const std::string& text, uint32_t* count, uint32_t* period_ms) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        "bad rate \"" + text +
        "\": give COUNT/PERIOD, e.g. 50/s, 3000/min, 10/h, 100/day, 5/250ms");
  };
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0) return bad();
  std::string n = text.substr(0, slash), period = text.substr(slash + 1);
  if (!std::all_of(n.begin(), n.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
      n.size() > 9) {
    return bad();
  }
  size_t digits = 0;
  while (digits < period.size() && period[digits] >= '0' && period[digits] <= '9') ++digits;
  if (digits > 9) return bad();
  uint64_t times = digits == 0 ? 1 : std::stoull(period.substr(0, digits));
  std::string unit = period.substr(digits);
  uint64_t unit_ms = 0;
  if (unit == "ms") unit_ms = 1;
  if (unit == "s" || unit == "sec") unit_ms = 1000;
  if (unit == "min" || unit == "m") unit_ms = 60'000;
  if (unit == "h") unit_ms = 3'600'000;
  if (unit == "day" || unit == "d") unit_ms = 86'400'000;
  if (unit_ms == 0 || times == 0 || times * unit_ms > 86'400'000) return bad();
  *count = static_cast<uint32_t>(std::stoul(n));
  *period_ms = static_cast<uint32_t>(times * unit_ms);
  return absl::OkStatus();
}

// "50/s burst 100"; "-" for no limit.
std::string RateText(const client::RateLimit& l) {
  if (l.count == 0) return "-";
  std::string period;
  switch (l.period_ms) {
    case 1000:
      period = "s";
      break;
    case 60'000:
      period = "min";
      break;
    case 3'600'000:
      period = "h";
      break;
    case 86'400'000:
      period = "day";
      break;
    default:
      period = std::to_string(l.period_ms) + "ms";
  }
  return std::to_string(l.count) + "/" + period + " burst " + std::to_string(l.burst);
}

class RateCommands final : public CommandGroup {
 public:
  explicit RateCommands(CLI::App& app) {
    auto* rate = app.add_subcommand(
        "rate", "set or clear a sending limit: per channel overall (the provider's) or per tenant");
    rate->require_subcommand(1);
    set_ =
        rate->add_subcommand("set",
                             "set a limit, e.g. `rate set sms 50/s --burst 100` (all tenants) or "
                             "`rate set sms 5/s --tenant 7`");
    set_->add_option("channel", channel_, "sms, email, voice or push")->required();
    set_->add_option("rate", rate_text_, "COUNT/PERIOD: 50/s, 3000/min, 10/h, 100/day, 5/250ms")
        ->required();
    set_->add_option("--burst", burst_, "messages that may go at once (default: COUNT)");
    clear_ = rate->add_subcommand("clear", "remove a limit");
    clear_->add_option("channel", channel_, "sms, email, voice or push")->required();
    for (CLI::App* sub : {set_, clear_}) {
      sub->add_option(
             "--tenant", tenant_,
             "this tenant's limit on the channel (default: the channel overall, all tenants)")
          ->check(CLI::Range(int64_t{0}, int64_t{UINT32_MAX}));
    }
    rates_ = app.add_subcommand(
        "rates",
        "rate limits per channel and tenant: limit, tokens, messages waiting for a token, "
        "reported late, dropped expired");
    rates_->add_option("--max-rows", max_rows_,
                       "at most this many rows (0: the server's default, 1000)");
    AddWatchOptions(rates_, &watch_seconds_, &watch_count_);
  }

  bool Chosen() const override { return set_->parsed() || clear_->parsed() || rates_->parsed(); }

  // `rate set` and `rate clear`: the limit to send.
  int Prepare() override {
    if (rates_->parsed()) return 0;
    auto c = ParseChannel(channel_);
    if (!c) return Usage("unknown channel \"" + channel_ + "\": sms, email, voice or push");
    limit_.channel = *c;
    limit_.all_tenants = tenant_ < 0;
    limit_.tenant = tenant_ < 0 ? 0 : static_cast<uint32_t>(tenant_);
    if (set_->parsed()) {
      if (absl::Status st = ParseRate(rate_text_, &limit_.count, &limit_.period_ms); !st.ok()) {
        return Usage(std::string(st.message()));
      }
      if (limit_.count == 0) return Usage("a rate of 0 is no limit: use `rate clear`");
      limit_.burst = burst_;
    }
    return 0;
  }

  int Run(client::BlockingClient& c, bool json) override {
    if (!rates_->parsed()) return SetLimit(c, json);
    if (watch_seconds_ <= 0) return ShowRates(c, json, 2);
    return Watch(watch_seconds_, watch_count_, json, [&] { return ShowRates(c, json, -1); });
  }

 private:
  int SetLimit(client::BlockingClient& c, bool json) {
    if (absl::Status st = c.SetRateLimits({limit_}); !st.ok()) return Fail(st);
    std::string who =
        limit_.all_tenants ? std::string("all tenants") : "tenant " + std::to_string(limit_.tenant);
    const char* channel = client::ChannelName(limit_.channel);
    if (json) {
      std::printf("%s\n", Json{{"channel", channel},
                               {"tenant", limit_.all_tenants ? Json() : Json(limit_.tenant)},
                               {"count", limit_.count},
                               {"period_ms", limit_.period_ms},
                               {"burst", limit_.burst}}
                              .dump()
                              .c_str());
    } else if (limit_.count == 0) {
      std::printf("%s, %s: no limit\n", channel, who.c_str());
    } else {
      // rappeld reads a burst of 0 as COUNT; say what it will apply.
      client::RateLimit shown = limit_;
      if (shown.burst == 0) shown.burst = shown.count;
      std::printf("%s, %s: %s\n", channel, who.c_str(), RateText(shown).c_str());
    }
    return 0;
  }

  // `indent`: the JSON's (-1: one line).
  int ShowRates(client::BlockingClient& c, bool json, int indent) {
    auto r = c.Rates(max_rows_);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      Json out = Json::array();
      for (const auto& row : r->rows) {
        const auto& l = row.limit;
        Json limit;
        if (l.count != 0) {
          limit = Json{{"count", l.count}, {"period_ms", l.period_ms}, {"burst", l.burst}};
        }
        out.push_back({{"channel", client::ChannelName(l.channel)},
                       {"tenant", l.all_tenants ? Json() : Json(l.tenant)},
                       {"limit", limit},
                       {"tokens", row.tokens},
                       {"waiting", row.waiting},
                       {"late", row.late},
                       {"expired", row.expired}});
      }
      std::printf("%s\n", Json{{"rows", out}, {"truncated", r->truncated}}.dump(indent).c_str());
    } else {
      auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
      std::printf("%-7s %-10s %-22s %10s %10s %8s %8s\n", "CHANNEL", "TENANT", "LIMIT", "TOKENS",
                  "WAITING", "LATE", "EXPIRED");
      for (const auto& row : r->rows) {
        const auto& l = row.limit;
        std::string tenant = l.all_tenants ? "all" : std::to_string(l.tenant);
        std::printf("%-7s %-10s %-22s %10llu %10llu %8llu %8llu\n", client::ChannelName(l.channel),
                    tenant.c_str(), RateText(l).c_str(), u(row.tokens), u(row.waiting), u(row.late),
                    u(row.expired));
      }
      if (r->rows.empty()) std::printf("(no rate limits set)\n");
      if (r->truncated) std::printf("(more rows: --max-rows)\n");
    }
    return 0;
  }

  CLI::App* set_ = nullptr;
  CLI::App* clear_ = nullptr;
  CLI::App* rates_ = nullptr;
  std::string channel_, rate_text_;
  uint32_t burst_ = 0;
  int64_t tenant_ = -1;  // -1: the channel overall, all tenants
  uint32_t max_rows_ = 0;
  double watch_seconds_ = 0;
  uint32_t watch_count_ = 0;
  client::RateLimit limit_;  // set and clear: filled by Prepare
};

}  // namespace

std::unique_ptr<CommandGroup> AddRateCommands(CLI::App& app) {
  return std::make_unique<RateCommands>(app);
}

}  // namespace rappel::ctl
