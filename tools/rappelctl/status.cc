#include "tools/rappelctl/status.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;

const char* RoleName(client::ShardRole r) {
  switch (r) {
    case client::ShardRole::kLeader:
      return "leader";
    case client::ShardRole::kStandby:
      return "standby";
    case client::ShardRole::kSingle:
      break;
  }
  return "single";
}

class StatusCommand final : public CommandGroup {
 public:
  explicit StatusCommand(CLI::App& app) {
    status_ = app.add_subcommand(
        "status", "pending by channel and tenant, due soon, leases, dead letters, store, commits");
    status_
        ->add_option("--tenants", max_tenants_,
                     "show at most this many tenants, largest first (0: the server's default, 20)")
        ->capture_default_str();
    AddWatchOptions(status_, &watch_seconds_, &watch_count_);
  }

  bool Chosen() const override { return status_->parsed(); }

  int Run(client::BlockingClient& c, bool json) override {
    if (watch_seconds_ <= 0) return Once(c, json, 2);
    return Watch(watch_seconds_, watch_count_, json, [&] { return Once(c, json, -1); });
  }

 private:
  // One report; `indent`: the JSON's (-1: one line).
  int Once(client::BlockingClient& c, bool json, int indent) {
    auto s = c.Stats(max_tenants_);
    if (!s.ok()) return Fail(s.status());
    auto channel = [](int i) { return client::ChannelName(static_cast<client::Channel>(i)); };
    auto ratio = [](uint64_t a, uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; };
    uint64_t garbage_records = s->log_records - std::min(s->log_records, s->live_records);
    uint64_t garbage_bytes = s->log_bytes - std::min(s->log_bytes, s->live_bytes);
    const client::ReplicationState& r = s->replication;
    bool standby = r.role == client::ShardRole::kStandby;
    if (json) {
      Json standbys = Json::array();
      for (const auto& b : r.standbys) {
        standbys.push_back({{"node", b.node},
                            {"term", b.term},
                            {"index", b.index},
                            {"behind", r.index - std::min(r.index, b.index)}});
      }
      Json replication{
          {"role", RoleName(r.role)},   {"leader", r.leader},       {"term", r.term},
          {"index", r.index},           {"commit_ms", r.commit_ms}, {"streaming", r.streaming},
          {"last_error", r.last_error}, {"standbys", standbys}};
      if (standby) {
        // No engine on a standby: its counters would all read 0.
        Json out{{"node", c.endpoint()}, {"replication", replication}};
        std::printf("%s\n", out.dump(indent).c_str());
        return 0;
      }
      Json ready, live, rate_waiting;
      for (int i = 1; i <= 4; ++i) {
        ready[channel(i)] = s->ready_by_channel[i];
        live[channel(i)] = s->live_by_channel[i];
        rate_waiting[channel(i)] = s->rate_waiting_by_channel[i];
      }
      Json tenants = Json::array();
      for (const auto& t : s->by_tenant) {
        tenants.push_back(
            {{"tenant", t.tenant}, {"live", t.live}, {"dead_letters", t.dead_letters}});
      }
      Json out{{"pending", s->pending},
               {"leased", s->leased},
               {"dead_letters", s->dead_letters},
               {"dead_letters_dropped", s->dead_letters_dropped},
               {"retrying", s->retrying},
               {"rate_waiting", s->rate_waiting},
               {"rate_waiting_by_channel", rate_waiting},
               {"rate_late", s->rate_late},
               {"rate_expired", s->rate_expired},
               {"ready_by_channel", ready},
               {"live_by_channel", live},
               {"tenants", s->tenants},
               {"by_tenant", tenants},
               {"due_next_hour", s->due_next_hour},
               {"due_next_day", s->due_next_day},
               {"log_records", s->log_records},
               {"live_records", s->live_records},
               {"garbage_records", garbage_records},
               {"log_bytes", s->log_bytes},
               {"live_bytes", s->live_bytes},
               {"garbage_bytes", garbage_bytes},
               {"store_used_bytes", s->store_used_bytes},
               {"store_map_bytes", s->store_map_bytes},
               {"compaction_steps", s->compaction_steps},
               {"commits", s->commits},
               {"records_appended", s->records_appended},
               {"batches_committed", s->batches_committed},
               {"mean_records_per_commit", ratio(s->records_appended, s->commits)},
               {"mean_batches_per_commit", ratio(s->batches_committed, s->commits)},
               {"max_records_per_commit", s->max_records_per_commit},
               {"max_batches_per_commit", s->max_batches_per_commit},
               {"fatal_error", s->fatal_error},
               {"node", c.endpoint()},
               {"replication", replication}};
      std::printf("%s\n", out.dump(indent).c_str());
    } else {
      auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
      if (standby) {
        std::printf("node              %s, standby of %s\n", c.endpoint().c_str(),
                    r.leader.empty() ? "(no leader known yet)" : r.leader.c_str());
        std::printf("durable position  term %llu index %llu%s\n", u(r.term), u(r.index),
                    r.commit_ms > 0
                        ? (", committed on the primary at " +
                           absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(r.commit_ms),
                                            absl::UTCTimeZone()))
                              .c_str()
                        : "");
        std::printf("stream            %s\n",
                    r.streaming ? "receiving"
                                : ("not connected" +
                                   (r.last_error.empty() ? std::string() : ": " + r.last_error))
                                      .c_str());
        return 0;
      }
      if (r.role == client::ShardRole::kLeader) {
        std::printf("node              %s, leader at term %llu index %llu\n", c.endpoint().c_str(),
                    u(r.term), u(r.index));
        for (const auto& b : r.standbys) {
          std::printf("standby           %s at index %llu (%llu behind)\n", b.node.c_str(),
                      u(b.index), u(r.index - std::min(r.index, b.index)));
        }
        if (r.standbys.empty()) std::printf("standby           none streaming\n");
      }
      std::printf("pending           %llu\n", u(s->pending));
      std::printf("leased            %llu\n", u(s->leased));
      std::printf("dead letters      %llu\n", u(s->dead_letters));
      std::printf("retrying          %llu\n", u(s->retrying));
      std::printf("waiting for rate  %llu (reported late %llu, of which expired %llu)\n",
                  u(s->rate_waiting), u(s->rate_late), u(s->rate_expired));
      std::printf("due next hour     %llu\n", u(s->due_next_hour));
      std::printf("due next day      %llu\n", u(s->due_next_day));
      std::printf("\n%-8s %12s %12s %12s\n", "CHANNEL", "LIVE", "READY", "RATE WAIT");
      for (int i = 1; i <= 4; ++i) {
        std::printf("%-8s %12llu %12llu %12llu\n", channel(i), u(s->live_by_channel[i]),
                    u(s->ready_by_channel[i]), u(s->rate_waiting_by_channel[i]));
      }
      std::printf("\n%-10s %12s %12s   (%llu tenants with live reminders)\n", "TENANT", "LIVE",
                  "DEAD", u(s->tenants));
      for (const auto& t : s->by_tenant) {
        std::printf("%-10u %12llu %12llu\n", t.tenant, u(t.live), u(t.dead_letters));
      }
      std::printf("\n%-8s %14s %14s\n", "LOG", "RECORDS", "BYTES");
      std::printf("%-8s %14llu %14llu\n", "total", u(s->log_records), u(s->log_bytes));
      std::printf("%-8s %14llu %14llu\n", "live", u(s->live_records), u(s->live_bytes));
      std::printf("%-8s %14llu %14llu\n", "garbage", u(garbage_records), u(garbage_bytes));
      std::printf("\nstore used bytes  %llu (map %llu)\n", u(s->store_used_bytes),
                  u(s->store_map_bytes));
      std::printf("compaction steps  %llu\n", u(s->compaction_steps));
      std::printf("commits           %llu\n", u(s->commits));
      std::printf("records/commit    mean %.1f, max %llu\n", ratio(s->records_appended, s->commits),
                  u(s->max_records_per_commit));
      std::printf("requests/commit   mean %.1f, max %llu\n",
                  ratio(s->batches_committed, s->commits), u(s->max_batches_per_commit));
      if (!s->fatal_error.empty()) std::printf("WRITES REFUSED    %s\n", s->fatal_error.c_str());
    }
    return s->fatal_error.empty() ? 0 : kExitFailed;
  }

  CLI::App* status_ = nullptr;
  uint32_t max_tenants_ = 20;
  double watch_seconds_ = 0;
  uint32_t watch_count_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddStatusCommand(CLI::App& app) {
  return std::make_unique<StatusCommand>(app);
}

}  // namespace rappel::ctl
