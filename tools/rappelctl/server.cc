#include "tools/rappelctl/server.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;

class ServerCommands final : public CommandGroup {
 public:
  explicit ServerCommands(CLI::App& app) {
    backup_ = app.add_subcommand(
        "backup", "hot backup with compaction into DIR (on the server; one at a time)");
    backup_->add_option("dir", dir_, "an empty directory on rappeld's machine")->required();
    compact_ = app.add_subcommand(
        "compact", "compact the store's log now; prints records and bytes before and after");
    ping_ = app.add_subcommand("ping", "check that rappeld answers");
  }

  bool Chosen() const override {
    return backup_->parsed() || compact_->parsed() || ping_->parsed();
  }

  int Run(client::BlockingClient& c, bool json) override {
    if (backup_->parsed()) return Backup(c, json);
    if (compact_->parsed()) return Compact(c, json);
    return Ping(c, json);
  }

 private:
  int Backup(client::BlockingClient& c, bool json) {
    if (absl::Status st = c.Backup(dir_); !st.ok()) return Fail(st);
    if (json) {
      std::printf("%s\n", Json{{"backup", dir_}}.dump().c_str());
    } else {
      std::printf("backup written to %s\n", dir_.c_str());
    }
    return 0;
  }

  int Compact(client::BlockingClient& c, bool json) {
    auto r = c.Compact();
    if (!r.ok()) return Fail(r.status());
    if (json) {
      std::printf("%s\n", Json{{"log_records_before", r->log_records_before},
                               {"log_bytes_before", r->log_bytes_before},
                               {"log_records_after", r->log_records_after},
                               {"log_bytes_after", r->log_bytes_after},
                               {"live_records", r->live_records},
                               {"relocated", r->relocated},
                               {"store_used_bytes", r->store_used_bytes}}
                              .dump(2)
                              .c_str());
    } else {
      auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
      std::printf("%-8s %14s %14s\n", "LOG", "RECORDS", "BYTES");
      std::printf("%-8s %14llu %14llu\n", "before", u(r->log_records_before),
                  u(r->log_bytes_before));
      std::printf("%-8s %14llu %14llu\n", "after", u(r->log_records_after), u(r->log_bytes_after));
      std::printf("live records %llu, relocated %llu, store used bytes %llu\n", u(r->live_records),
                  u(r->relocated), u(r->store_used_bytes));
    }
    return 0;
  }

  int Ping(client::BlockingClient& c, bool json) {
    if (absl::Status st = c.Ping(); !st.ok()) return Fail(st);
    std::printf(json ? "{\"pong\": true}\n" : "pong\n");
    return 0;
  }

  CLI::App* backup_ = nullptr;
  CLI::App* compact_ = nullptr;
  CLI::App* ping_ = nullptr;
  std::string dir_;
};

}  // namespace

std::unique_ptr<CommandGroup> AddServerCommands(CLI::App& app) {
  return std::make_unique<ServerCommands>(app);
}

}  // namespace rappel::ctl
