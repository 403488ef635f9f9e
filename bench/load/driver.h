// The connections of one rappel-load run and the two loops every scenario
// is made of:
//   producers  Drive() sends items [0, count) in batches over --connections
//              AsyncClients, --pipeline requests in flight on each, paced at
//              --rate if set, and records each request's latency in a Phase;
//   workers    Subscribe() acks every message pushed to --workers
//              connections, counting this run's deliveries once each
//              (duplicates apart) with their due -> delivered lag.
// Everything runs on the caller's thread, inside RunIo(): the machine has
// two cores and rappeld takes the other. Every loop stops at --max-seconds
// (timed_out() then says so).
//
// Items are numbered; item i is key "<prefix><i>" of tenant 1 + i % --tenants,
// the prefix unique to the run so that runs against one server never collide.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/load/clock.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "nlohmann/json.hpp"
#include "rappel/async_client.h"

namespace rappel::bench {

class Driver {
 public:
  explicit Driver(Config c);

  const Config& config() const { return c_; }
  // Paces every later Drive() at `per_second` (mixed's default rate).
  void set_rate(double per_second) { c_.rate = per_second; }
  const std::string& prefix() const { return prefix_; }
  std::string KeyOf(uint64_t i) const { return prefix_ + std::to_string(i); }
  uint32_t TenantOf(uint64_t i) const { return 1 + static_cast<uint32_t>(i % c_.tenants); }
  const std::string& payload() const { return payload_; }
  asio::io_context& io() { return io_; }
  // The first producer connection, for one-off requests (rate limits, credits).
  client::AsyncClient& producer() { return *producers_[0]; }
  bool timed_out() const { return timed_out_; }

  // Opens --connections producer connections and, with `workers`, --workers
  // worker connections (with --worker-token, default --token). The error is
  // the first connection's that failed.
  absl::Status Connect(bool workers);
  // Closes every connection and runs what their closing left queued.
  void Close();

  // Runs the io context until done() or --max-seconds, calling progress()
  // (may be null) every half second.
  void RunIo(const std::function<bool()>& done, const std::function<void()>& progress);
  // The progress line on stderr, unless --quiet or not a terminal.
  void Progress(const std::string& what, uint64_t n, uint64_t of, Steady::time_point start);
  // Ends the progress line.
  void EndProgress();

  // --- producers ------------------------------------------------------------
  // `send` issues one batch of items [lo, hi) on a client and calls
  // `done(ok, failed, error)` once answered.
  using Done = std::function<void(uint64_t ok, uint64_t failed, const absl::Status& error)>;
  using SendBatch = std::function<void(client::AsyncClient&, uint64_t lo, uint64_t hi, Done)>;
  // Sends items [0, count) and fills *phase (counts, request latencies,
  // time, this process's CPU over it). Returns once every batch is answered
  // and extra_done() (if given) holds, or at --max-seconds; answers after
  // that are dropped. `batch`, `pipeline`: 0 for --batch, --pipeline.
  void Drive(Phase* phase, uint64_t count, const SendBatch& send,
             const std::function<bool()>& extra_done = nullptr, uint32_t batch = 0,
             uint32_t pipeline = 0);
  // Schedules items as SMS reminders due at due_base_ms + due_of(i).
  SendBatch Schedule(int64_t due_base_ms, std::function<int64_t(uint64_t)> due_of) const;
  // Adapts `done` to an answer with one result per item (Status or
  // StatusOr): the items that succeeded, those that failed, the first
  // error; on_ok(result) for each success.
  template <typename Results, typename OnOk>
  static auto PerItem(Done done, OnOk on_ok) {
    return [done, on_ok](absl::StatusOr<Results> r) {
      if (!r.ok()) return done(0, 1, r.status());
      uint64_t ok = 0;
      absl::Status first;
      for (const auto& item : *r) {
        if (item.ok()) {
          ++ok;
          on_ok(item);
        } else if (first.ok()) {
          first = StatusOf(item);
        }
      }
      done(ok, r->size() - ok, first);
    };
  }
  // One status per item (cancel).
  static auto ItemStatuses(Done done) {
    return PerItem<client::AsyncClient::ItemStatuses>(std::move(done), [](const absl::Status&) {});
  }

  // --- workers --------------------------------------------------------------
  // What classify() returns for a message that is not this run's (an earlier
  // run's leftover: acked, not counted), or this run's without an item
  // number (not checked for duplicates); otherwise the item number.
  static constexpr int64_t kNotMine = -1;
  static constexpr int64_t kMineUncounted = -2;
  using Classify = std::function<int64_t(const client::Message&)>;
  // Counts duplicates over items [0, n).
  void TrackItems(uint64_t n) { delivered_.assign(n, 0); }
  // Subscribes every worker connection to `channels`, acking everything
  // with `outcome`; the due -> delivered lag of this run's messages goes to
  // deliveries->latency.
  void Subscribe(Phase* deliveries, std::vector<client::Channel> channels,
                 client::AckOutcome outcome, Classify classify);
  // This run's raw reminders on SMS, keyed "<prefix><item>", acked delivered.
  void Subscribe(Phase* deliveries);
  // The item number of this run's raw reminder (key "<prefix><item>"), or
  // kNotMine.
  int64_t ItemOf(const client::Message& m) const;
  // Runs until `expected` deliveries are acked or failed, then records them.
  void AwaitDeliveries(uint64_t expected, const std::string& what, Phase* deliveries);
  // Sets the deliveries' counts, and their time from the first delivery to
  // the last ack.
  void RecordDeliveries(Phase* deliveries) const;
  uint64_t acked() const { return acked_; }
  uint64_t ack_failed() const { return ack_failed_; }
  // The report's "deliveries" object.
  nlohmann::json DeliveriesJson(uint64_t expected) const;

 private:
  static const absl::Status& StatusOf(const absl::Status& st) { return st; }
  template <typename T>
  static const absl::Status& StatusOf(const absl::StatusOr<T>& r) {
    return r.status();
  }
  absl::Status Connect(std::vector<std::unique_ptr<client::AsyncClient>>* clients, int n,
                       const std::string& token, const std::string& name);
  client::Options OptionsFor(const std::string& token, const std::string& name) const;
  std::vector<client::Reminder> Reminders(uint64_t lo, uint64_t hi, int64_t due_base_ms,
                                          const std::function<int64_t(uint64_t)>& due_of) const;

  Config c_;
  std::string prefix_;
  std::string payload_;
  asio::io_context io_;
  std::vector<std::unique_ptr<client::AsyncClient>> producers_;
  std::vector<std::unique_ptr<client::AsyncClient>> workers_;
  Steady::time_point deadline_;
  bool timed_out_ = false;
  uint64_t drive_generation_ = 0;  // bumped as each Drive starts and ends

  // Worker side.
  std::vector<uint8_t> delivered_;  // per item: times delivered
  uint64_t delivered_total_ = 0;
  uint64_t acked_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t ack_failed_ = 0;
  Steady::time_point first_delivery_{};
  Steady::time_point last_ack_{};
};

}  // namespace rappel::bench
