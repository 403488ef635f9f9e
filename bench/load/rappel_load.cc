// rappel-load: drives a running rappeld through the client library
// (AsyncClient, pipelined) and reports throughput and latency percentiles.
//
//   ingest  schedule --count reminders, due over --spread-days
//   cancel  schedule --count reminders (setup, reported apart), then cancel
//           them all in random order
//   fire    workers subscribe; schedule --count reminders all due at one
//           instant (--lead-ms after the start); measure from the first
//           delivery to the last ack (fire -> deliver -> ack)
//   mixed   schedule at --rate per second for --duration seconds, each due
//           --lead-ms after it is sent, cancel --cancel-fraction of them
//           before they are due; workers ack the rest; measure the lag from
//           due time to delivery. `mixed --cancel-fraction 0` is the steady
//           due-rate test.
//   appointments
//           setup (untimed): per tenant the tenant object (Europe/Paris,
//           reminders 48h and 24h), --calendars calendars, one on-site type
//           and --patients patients (mobile; every other one an e-mail too:
//           3 to 6 messages per appointment, 4.5 on average); a seed
//           of --seed appointments. Timed: --count appointment events, ~55%
//           creates (--creates), ~20% moves (version+1, a new start), ~10%
//           practitioner cancels, ~15% statuses (seen / absent; with other
//           --creates, the rest in the same proportions), --batch events per batch
//           (one AppointmentUpsert request, plus one AppointmentCommands
//           request when the batch has cancels or statuses). Reports events
//           acknowledged per second and the messages planned per event.
//   fairness
//           two tenants, one SMS rate limit (--sms-rate per second, burst a
//           tenth of it, set over the protocol: needs an admin token, and
//           cleared at the end). Tenant 1 schedules --count reminders all
//           due at one instant; a quarter of the way through their drain,
//           tenant 2 schedules --b-count due at once. Reports each tenant's
//           due -> delivered lag: tenant 2's should be near its fair share
//           (2 x b-count / rate), not what is left of tenant 1's burst.
//
// Every loop is bounded by --count and --max-seconds. Exit codes: 0 done,
// 1 something failed or went missing, 2 usage, 3 rappeld unreachable.
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/context.h"
#include "bench/load/clock.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "nlohmann/json.hpp"
#include "rappel/async_client.h"

namespace rappel::bench {
namespace {

using client::AsyncClient;
using namespace std::chrono_literals;

// The run's shared state: one io thread drives every connection (the
// machine has two cores; rappeld takes the other).
class Load {
 public:
  explicit Load(Config c) : c_(std::move(c)), prefix_(MakePrefix()) {
    payload_.assign(c_.payload_bytes, 'p');
  }

  int Run(nlohmann::json* out);

 private:
  static std::string MakePrefix() {
    // Keys unique to this run, so runs against one server do not collide.
    return "load-" + std::to_string(getpid()) + "-" + std::to_string(NowMs() % 1'000'000'000) + "-";
  }
  std::string KeyOf(uint64_t i) const { return prefix_ + std::to_string(i); }
  uint32_t TenantOf(uint64_t i) const { return 1 + static_cast<uint32_t>(i % c_.tenants); }
  client::Options OptionsFor(const std::string& token, const std::string& name) const {
    client::Options o;
    o.host = c_.host;
    o.port = c_.port;
    o.token = token;
    o.client_name = name;
    o.timeout = 60s;
    return o;
  }

  absl::Status Connect(std::vector<std::unique_ptr<AsyncClient>>* clients, int n,
                       const std::string& token, const std::string& name);
  // Sends items [0, count) as batches over the producer connections, at most
  // `pipeline` requests in flight on each, paced at c_.rate if set. `send`
  // issues one batch [lo, hi) on a client and calls `done(ok, failed,
  // error)` when answered.
  using Done = std::function<void(uint64_t ok, uint64_t failed, const absl::Status& error)>;
  using SendBatch = std::function<void(AsyncClient&, uint64_t lo, uint64_t hi, Done)>;
  // `batch`, `pipeline`: 0 for --batch, --pipeline.
  void Drive(Phase* phase, uint64_t count, const SendBatch& send,
             const std::function<bool()>& extra_done = nullptr, uint32_t batch = 0,
             uint32_t pipeline = 0);
  // Subscribes every worker connection to `channels`, acking everything
  // with `outcome`; `classify` says whether a message is this run's (and
  // its item number, for the duplicate count): kNotMine (an earlier run's
  // leftover: acked, not counted), kMineUncounted, or the item number.
  static constexpr int64_t kNotMine = -1;
  static constexpr int64_t kMineUncounted = -2;
  using Classify = std::function<int64_t(const client::Message&)>;
  void Subscribe(Phase* deliveries, std::vector<client::Channel> channels,
                 client::AckOutcome outcome, Classify classify);
  // Raw reminders on SMS, keyed "<prefix><item>", acked delivered.
  void Subscribe(Phase* deliveries);
  void RunIo(const std::function<bool()>& done, const std::function<void()>& progress);
  void Progress(const std::string& what, uint64_t n, uint64_t of, Steady::time_point start);
  // Runs until `expected` deliveries are acked or failed, then records them
  // (counts, and the time from the first delivery to the last ack).
  void AwaitDeliveries(uint64_t expected, const std::string& what, Phase* deliveries);

  std::vector<client::Reminder> Reminders(uint64_t lo, uint64_t hi, int64_t due_base_ms,
                                          const std::function<int64_t(uint64_t)>& due_of);

  // The fairness scenario.
  void Fairness(std::vector<Phase>* phases, nlohmann::json* out, uint64_t* expected);
  // The appointments scenario.
  void Appointments(std::vector<Phase>* phases, nlohmann::json* out);
  // Tenants (with `tenant_extra` merged into each), calendars, a type and
  // patients (with `patient_extra`); false when it failed or timed out.
  bool SetupObjects(std::vector<Phase>* phases, const nlohmann::json& tenant_extra,
                    const nlohmann::json& patient_extra);
  // The appointment-fire scenario: appointment messages all due at once,
  // rendered and gated at lease, through to acked delivery.
  void AppointmentFire(std::vector<Phase>* phases, nlohmann::json* out);

  void PutObjects(Phase* phase, std::vector<std::tuple<client::ObjectKind, uint32_t, std::string,
                                                       std::string>> objects);
  // Sends `n` appointment events as one batch; creates only when `creates_only`.
  void SendEvents(AsyncClient& c, uint64_t n, bool creates_only, Done done);
  uint64_t NextRandom() {  // splitmix64
    uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return NextRandom() % n; }
  // A start 7 to 60 days ahead, a weekday between 08:00 and 18:45 Paris
  // time (winter offset), on a quarter hour; and its end, 15 to 45 min later.
  std::pair<int64_t, int64_t> RandomSlot();
  client::AppointmentInput InputOf(uint32_t a) const;
  void CountError(const absl::Status& st) {
    ++errors_[std::string(absl::StatusCodeToString(st.code()))];
  }

  Config c_;
  std::string prefix_;
  std::string payload_;
  asio::io_context io_;
  std::vector<std::unique_ptr<AsyncClient>> producers_;
  std::vector<std::unique_ptr<AsyncClient>> workers_;
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
  // fairness: the due -> delivered lag of each tenant's messages goes to its
  // phase (indexed by tenant) instead of the deliveries phase.
  std::vector<Phase*> lag_by_tenant_;

  // Appointments side: the load's view of each appointment it created.
  struct Appt {
    uint32_t tenant;
    uint32_t patient;
    uint32_t calendar;
    uint64_t version;
    int64_t start_ms;
    int64_t end_ms;
  };
  std::vector<Appt> appts_;
  // Appointments acknowledged, active, without a status and with no event
  // in flight: what moves, cancels and statuses pick from (so two events on
  // one appointment are never in flight at once, on any connection).
  std::vector<uint32_t> pool_;
  uint64_t rng_ = 0x5EED;
  int64_t day0_ms_ = 0;  // today, 00:00 UTC
  enum EventKind { kCreate, kMove, kCancel, kStatus, kEventKinds };
  uint64_t events_ok_[kEventKinds] = {};
  uint64_t planned_sum_ = 0;  // over the timed phase's acknowledged events
  std::map<std::string, uint64_t> errors_;  // by status code, every phase
  LatencySamples request_latency_;
  bool timed_ = false;  // counting for the timed phase
};

absl::Status Load::Connect(std::vector<std::unique_ptr<AsyncClient>>* clients, int n,
                           const std::string& token, const std::string& name) {
  int answered = 0;
  absl::Status first_error;
  for (int i = 0; i < n; ++i) {
    clients->push_back(std::make_unique<AsyncClient>(io_, OptionsFor(token, name)));
    clients->back()->Start([&](absl::Status st) {
      ++answered;
      if (!st.ok() && first_error.ok()) first_error = st;
    });
  }
  RunIo([&] { return answered == n; }, nullptr);
  return first_error;
}

void Load::RunIo(const std::function<bool()>& done, const std::function<void()>& progress) {
  auto next_progress = Steady::now() + 500ms;
  io_.restart();
  while (!done()) {
    if (Steady::now() > deadline_) {
      timed_out_ = true;
      return;
    }
    io_.run_for(2ms);
    io_.restart();
    if (progress && Steady::now() >= next_progress) {
      progress();
      next_progress += 500ms;
    }
  }
}

void Load::Progress(const std::string& what, uint64_t n, uint64_t of, Steady::time_point start) {
  if (!c_.progress) return;
  double s = Seconds(Steady::now() - start);
  std::fprintf(stderr, "\r%-10s %10" PRIu64 " / %-10" PRIu64 " %9.0f/s  %6.1f s   ", what.c_str(),
               n, of, s > 0 ? static_cast<double>(n) / s : 0.0, s);
  std::fflush(stderr);
}

void Load::AwaitDeliveries(uint64_t expected, const std::string& what, Phase* deliveries) {
  auto start = Steady::now();
  RunIo([&] { return acked_ + ack_failed_ >= expected; },
        [&] { Progress(what, acked_, expected, start); });
  if (c_.progress) std::fprintf(stderr, "\n");
  deliveries->ok = acked_;
  deliveries->failed = ack_failed_;
  deliveries->seconds = Seconds(last_ack_ - first_delivery_);
}

std::vector<client::Reminder> Load::Reminders(uint64_t lo, uint64_t hi, int64_t due_base_ms,
                                              const std::function<int64_t(uint64_t)>& due_of) {
  std::vector<client::Reminder> batch;
  batch.reserve(hi - lo);
  for (uint64_t i = lo; i < hi; ++i) {
    batch.push_back(client::Reminder{TenantOf(i), KeyOf(i), client::Channel::kSms,
                                     "+3360000" + std::to_string(i % 10000), due_base_ms + due_of(i),
                                     0, payload_});
  }
  return batch;
}

void Load::Drive(Phase* phase, uint64_t count, const SendBatch& send,
                 const std::function<bool()>& extra_done, uint32_t batch, uint32_t pipeline) {
  if (batch == 0) batch = c_.batch;
  if (pipeline == 0) pipeline = c_.pipeline;
  const uint64_t gen = ++drive_generation_;
  const double cpu0 = ProcessCpuSeconds();
  uint64_t next = 0;       // first item not yet sent
  uint64_t answered = 0;   // items answered
  std::vector<uint32_t> in_flight(producers_.size(), 0);
  auto start = Steady::now();
  std::function<void(size_t)> pump = [&](size_t p) {
    while (in_flight[p] < pipeline && next < count) {
      if (c_.rate > 0) {
        double allowed = c_.rate * Seconds(Steady::now() - start);
        if (static_cast<double>(next) >= allowed) return;
      }
      uint64_t lo = next;
      uint64_t hi = std::min<uint64_t>(count, lo + batch);
      next = hi;
      ++in_flight[p];
      auto sent = Steady::now();
      send(*producers_[p], lo, hi,
           [&, p, sent, n = hi - lo, gen](uint64_t ok, uint64_t failed, const absl::Status& error) {
             // An answer after this Drive gave up (--max-seconds): its
             // locals are gone.
             if (gen != drive_generation_) return;
             phase->latency.Add(std::chrono::duration<double, std::micro>(Steady::now() - sent).count());
             phase->ok += ok;
             phase->failed += failed;
             if (!error.ok() && phase->first_error.empty()) phase->first_error = error.ToString();
             answered += n;
             --in_flight[p];
             pump(p);
           });
    }
  };
  for (size_t p = 0; p < producers_.size(); ++p) pump(p);
  // Paced sending needs a clock: top up every millisecond.
  asio::steady_timer pacer(io_);
  std::function<void()> tick = [&] {
    pacer.expires_after(1ms);
    pacer.async_wait([&](asio::error_code ec) {
      if (ec) return;
      for (size_t p = 0; p < producers_.size(); ++p) pump(p);
      if (next < count) tick();
    });
  };
  if (c_.rate > 0) tick();
  RunIo([&] { return answered == count && (!extra_done || extra_done()); },
        [&] { Progress(phase->name, answered, count, start); });
  pacer.cancel();
  ++drive_generation_;  // late answers (after a time-out) are ignored
  phase->seconds = Seconds(Steady::now() - start);
  phase->cpu_seconds = ProcessCpuSeconds() - cpu0;
  phase->wall_seconds = phase->seconds;
  if (c_.progress) std::fprintf(stderr, "\n");
}

void Load::Subscribe(Phase* deliveries) {
  Subscribe(deliveries, {client::Channel::kSms}, client::AckOutcome::kDelivered,
            [this](const client::Message& m) -> int64_t {
              if (m.reminder.key.compare(0, prefix_.size(), prefix_) != 0) return kNotMine;
              return static_cast<int64_t>(std::stoull(m.reminder.key.substr(prefix_.size())));
            });
}

void Load::Subscribe(Phase* deliveries, std::vector<client::Channel> channels,
                     client::AckOutcome outcome, Classify classify) {
  int answered = 0;
  for (auto& w : workers_) {
    AsyncClient* worker = w.get();
    worker->Subscribe(
        client::Subscription{channels, c_.worker_in_flight, c_.worker_batch},
        [this, worker, deliveries, outcome, classify](std::vector<client::Message> messages) {
          auto now = Steady::now();
          double now_us = NowUs();
          std::vector<client::AckItem> acks;
          acks.reserve(messages.size());
          auto own = std::make_shared<std::vector<bool>>();
          own->reserve(messages.size());
          for (const client::Message& m : messages) {
            acks.push_back(client::AckItem{m.lease_id, outcome, {}});
            // Leftovers of an earlier run are acked but not counted.
            int64_t item = classify(m);
            own->push_back(item != kNotMine);
            if (item == kNotMine) continue;
            if (delivered_total_++ == 0) first_delivery_ = now;
            deliveries->latency.Add(now_us - static_cast<double>(m.reminder.due_ms) * 1000.0);
            if (item >= 0 && static_cast<uint64_t>(item) < delivered_.size() &&
                delivered_[static_cast<size_t>(item)]++ > 0) {
              ++duplicates_;
            }
          }
          worker->Ack(acks, [this, own](absl::StatusOr<AsyncClient::ItemStatuses> r) {
            last_ack_ = Steady::now();
            if (!r.ok()) {
              ack_failed_ += std::count(own->begin(), own->end(), true);
              return;
            }
            for (size_t i = 0; i < r->size() && i < own->size(); ++i) {
              if ((*own)[i]) ((*r)[i].ok() ? acked_ : ack_failed_)++;
            }
          });
        },
        [&answered](absl::Status st) {
          ++answered;
          if (!st.ok()) std::fprintf(stderr, "rappel-load: subscribe: %s\n", st.ToString().c_str());
        });
  }
  RunIo([&] { return answered == static_cast<int>(workers_.size()); }, nullptr);
}

// --- appointments ------------------------------------------------------------

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr const char* kEventNames[] = {"create", "move", "cancel", "status"};

std::pair<int64_t, int64_t> Load::RandomSlot() {
  int64_t day = day0_ms_ / kDayMs + 7 + static_cast<int64_t>(Below(54));  // 7..60 days ahead
  int weekday = static_cast<int>((day + 4) % 7);                         // 0: Sunday
  if (weekday == 6) day += 2;
  if (weekday == 0) day += 1;
  int64_t local = 8 * kHourMs + static_cast<int64_t>(Below(44)) * 15 * kMinuteMs;  // 08:00..18:45
  int64_t start = day * kDayMs + local - kHourMs;  // Paris in winter: UTC+1
  static constexpr int64_t kLengths[] = {15, 20, 30, 45};
  return {start, start + kLengths[Below(4)] * kMinuteMs};
}

client::AppointmentInput Load::InputOf(uint32_t a) const {
  const Appt& x = appts_[a];
  client::AppointmentInput in;
  in.tenant = x.tenant;
  in.id = KeyOf(a);
  in.calendar = "cal-" + std::to_string(x.calendar);
  in.type = "consult";
  in.patient = "p" + std::to_string(x.patient);
  in.start_ms = x.start_ms;
  in.end_ms = x.end_ms;
  in.booked_at_ms = NowMs();
  in.channels = client::ChannelBit(client::Channel::kSms) | client::ChannelBit(client::Channel::kEmail);
  in.version = x.version;
  return in;
}

void Load::PutObjects(Phase* phase, std::vector<std::tuple<client::ObjectKind, uint32_t,
                                                           std::string, std::string>> objects) {
  // 64 objects per batch, 8 batches in flight per connection.
  Drive(phase, objects.size(), [&](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
    auto left = std::make_shared<uint64_t>(hi - lo);
    auto ok = std::make_shared<uint64_t>(0);
    auto first = std::make_shared<absl::Status>();
    for (uint64_t i = lo; i < hi; ++i) {
      const auto& [kind, tenant, id, json] = objects[i];
      c.PutObject(kind, tenant, id, json,
                  [this, left, ok, first, done](absl::StatusOr<std::string> r) {
                    if (r.ok()) {
                      ++*ok;
                    } else {
                      CountError(r.status());
                      if (first->ok()) *first = r.status();
                    }
                    if (--*left == 0) {
                      done(*ok, 0, *first);  // failures counted below
                    }
                  });
    }
  }, nullptr, 64, 8);
  phase->failed = objects.size() - phase->ok;
}

void Load::SendEvents(AsyncClient& c, uint64_t n, bool creates_only, Done done) {
  std::vector<client::AppointmentInput> upserts;
  std::vector<client::AppointmentCommand> commands;
  // Which appointment each item is about, and what it is.
  auto upsert_of = std::make_shared<std::vector<std::pair<uint32_t, EventKind>>>();
  auto command_of = std::make_shared<std::vector<std::pair<uint32_t, EventKind>>>();
  upserts.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t r = Below(100);
    // The rest keep the default mix's proportions: 20 moves, 10 cancels and
    // 15 statuses in 45.
    uint64_t rest = r < c_.creates_pct ? 0 : (r - c_.creates_pct) * 45 / (100 - c_.creates_pct);
    EventKind kind = creates_only || pool_.empty() || r < c_.creates_pct ? kCreate
                     : rest < 20                                          ? kMove
                     : rest < 30                                          ? kCancel
                                                                          : kStatus;
    uint32_t a;
    if (kind == kCreate) {
      a = static_cast<uint32_t>(appts_.size());
      auto [start, end] = RandomSlot();
      uint64_t tenant = Below(c_.tenants);
      appts_.push_back(Appt{static_cast<uint32_t>(1 + tenant), static_cast<uint32_t>(Below(c_.patients)),
                            static_cast<uint32_t>(Below(c_.calendars)), 1, start, end});
    } else {
      size_t k = Below(pool_.size());
      a = pool_[k];
      pool_[k] = pool_.back();
      pool_.pop_back();
    }
    if (kind == kMove) {
      Appt& x = appts_[a];
      auto [start, end] = RandomSlot();
      x.start_ms = start;
      x.end_ms = end;
      ++x.version;
    }
    if (kind == kCreate || kind == kMove) {
      upserts.push_back(InputOf(a));
      upsert_of->emplace_back(a, kind);
    } else {
      client::AppointmentCommand cmd;
      cmd.tenant = appts_[a].tenant;
      cmd.id = KeyOf(a);
      if (kind == kCancel) {
        cmd.action = client::AppointmentAction::kCancelByPractitioner;
      } else {
        cmd.action = client::AppointmentAction::kSetStatus;
        cmd.status = Below(100) < 85 ? client::VisitStatus::kSeen : client::VisitStatus::kAbsent;
      }
      commands.push_back(std::move(cmd));
      command_of->emplace_back(a, kind);
    }
  }
  struct Pending {
    int requests = 0;
    uint64_t ok = 0;
    uint64_t failed = 0;
    absl::Status first;
  };
  auto pending = std::make_shared<Pending>();
  pending->requests = (upserts.empty() ? 0 : 1) + (commands.empty() ? 0 : 1);
  auto answer = [this, pending, done](std::shared_ptr<std::vector<std::pair<uint32_t, EventKind>>> of,
                                      Steady::time_point sent) {
    return [this, pending, done, of, sent](absl::StatusOr<AsyncClient::AppointmentResults> r) {
      request_latency_.Add(std::chrono::duration<double, std::micro>(Steady::now() - sent).count());
      for (size_t i = 0; i < of->size(); ++i) {
        auto [a, kind] = (*of)[i];
        const absl::Status& st = !r.ok() ? r.status()
                                 : i < r->size() ? (*r)[i].status()
                                                 : absl::InternalError("missing result");
        if (st.ok()) {
          ++pending->ok;
          if (timed_) {
            ++events_ok_[kind];
            planned_sum_ += (*r)[i]->planned;
          }
          // Still active without a status: back in the pool.
          if (kind == kCreate || kind == kMove) pool_.push_back(a);
        } else {
          ++pending->failed;
          CountError(st);
          if (pending->first.ok()) pending->first = st;
        }
      }
      if (--pending->requests == 0) done(pending->ok, pending->failed, pending->first);
    };
  };
  auto sent = Steady::now();
  if (!upserts.empty()) c.UpsertAppointments(upserts, answer(upsert_of, sent));
  if (!commands.empty()) c.AppointmentCommands(commands, answer(command_of, sent));
}

bool Load::SetupObjects(std::vector<Phase>* phases, const nlohmann::json& tenant_extra,
                        const nlohmann::json& patient_extra) {
  // Setup: tenants first (the rest needs them), then calendars, type, patients.
  using Object = std::tuple<client::ObjectKind, uint32_t, std::string, std::string>;
  std::vector<Object> tenants;
  std::vector<Object> objects;
  for (uint32_t t = 1; t <= c_.tenants; ++t) {
    nlohmann::json tenant{{"name", "Cabinet " + std::to_string(t)},
                          {"time_zone", "Europe/Paris"},
                          {"reminder_offsets", {"48h", "24h"}}};
    tenant.update(tenant_extra);
    tenants.emplace_back(client::ObjectKind::kTenant, t, "", tenant.dump());
    for (uint32_t k = 0; k < c_.calendars; ++k) {
      objects.emplace_back(client::ObjectKind::kCalendar, t, "cal-" + std::to_string(k),
                           nlohmann::json{{"name", "Dr " + std::to_string(k)},
                                          {"email", "dr" + std::to_string(k) + "@example.org"}}
                               .dump());
    }
    objects.emplace_back(client::ObjectKind::kAppointmentType, t, "consult",
                         R"({"name": "Consultation", "mode": "on_site"})");
    for (uint32_t p = 0; p < c_.patients; ++p) {
      std::string n = std::to_string(p);
      // Every other patient gives only a mobile number: with a notice and
      // two reminders per channel, 3 to 6 messages per appointment, 4.5 on
      // average (the issue's "3-5 messages planned per appointment").
      nlohmann::json patient{{"first_name", "Prenom" + n},
                             {"last_name", "Nom" + n},
                             {"mobile", "+3361" + std::string(8 - std::min<size_t>(8, n.size()), '0') + n}};
      if (p % 2 == 0) patient["email"] = "p" + n + "@example.org";
      patient.update(patient_extra);
      objects.emplace_back(client::ObjectKind::kPatient, t, "p" + n, patient.dump());
    }
  }
  Phase setup{"setup", "64 object puts sent -> all durable"};
  auto setup_start = Steady::now();
  PutObjects(&setup, std::move(tenants));
  Phase rest{"setup", ""};
  if (setup.failed == 0 && !timed_out_) {
    PutObjects(&rest, std::move(objects));
    setup.ok += rest.ok;
    setup.failed += rest.failed;
    setup.latency.Merge(rest.latency);
    if (setup.first_error.empty()) setup.first_error = rest.first_error;
  }
  setup.seconds = Seconds(Steady::now() - setup_start);
  phases->push_back(std::move(setup));
  return phases->back().failed == 0 && !timed_out_;
}

void Load::Appointments(std::vector<Phase>* phases, nlohmann::json* out) {
  day0_ms_ = NowMs() / kDayMs * kDayMs;
  rng_ ^= static_cast<uint64_t>(NowMs());
  if (!SetupObjects(phases, nlohmann::json::object(), nlohmann::json::object())) return;

  // Seed: appointments the timed events can move, cancel and mark.
  uint64_t seed = c_.seed >= 0 ? static_cast<uint64_t>(c_.seed) : c_.count / 4;
  if (seed > 0) {
    Phase seeding{"seed", kRequestLatency};
    Drive(&seeding, seed, [this](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
      SendEvents(c, hi - lo, /*creates_only=*/true, std::move(done));
    });
    seeding.latency = std::move(request_latency_);
    request_latency_ = LatencySamples();
    phases->push_back(std::move(seeding));
    if (phases->back().failed > 0 || timed_out_) return;
  }

  Phase events{"appointments", kRequestLatency};
  timed_ = true;
  Drive(&events, c_.count, [this](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
    SendEvents(c, hi - lo, /*creates_only=*/false, std::move(done));
  });
  timed_ = false;
  events.latency = std::move(request_latency_);
  request_latency_ = LatencySamples();
  phases->push_back(std::move(events));

  uint64_t ok = std::accumulate(std::begin(events_ok_), std::end(events_ok_), uint64_t{0});
  nlohmann::json by_kind = nlohmann::json::object();
  for (int k = 0; k < kEventKinds; ++k) by_kind[kEventNames[k]] = events_ok_[k];
  (*out)["appointments"] = {
      {"events_ok", by_kind},
      {"messages_planned", planned_sum_},
      {"planned_per_event", ok > 0 ? static_cast<double>(planned_sum_) / static_cast<double>(ok) : 0.0},
      {"appointments_known", appts_.size()},
      {"tenants", c_.tenants},
      {"calendars_per_tenant", c_.calendars},
      {"patients_per_tenant", c_.patients}};
}

void Load::AppointmentFire(std::vector<Phase>* phases, nlohmann::json* out) {
  // A reminder 1 h before and no minimum lead time, so that appointments
  // booked now starting in 1 h have their confirmation and their reminder
  // due within seconds.
  nlohmann::json tenant{{"reminder_offsets", {"1h"}}, {"min_lead", "0s"}};
  nlohmann::json patient = nlohmann::json::object();
  if (c_.gates) {
    // Every gate on, none holding anything back: sending hours all day,
    // metered with ample credit, rate limits (below), opt-in with consent
    // given, a daily cap above what anyone gets, household SMS merging.
    nlohmann::json hours = nlohmann::json::object();
    for (const char* d : {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}) hours[d] = {"00:00-24:00"};
    tenant.update({{"sending_hours", hours},
                   {"metered", true},
                   {"require_consent", true},
                   {"max_reminders_per_day", 1000},
                   {"merge_household_sms", true}});
    patient["consent"] = true;
  }
  if (!SetupObjects(phases, tenant, patient)) return;
  if (c_.gates) {
    int answered = 0;
    for (uint32_t t = 1; t <= c_.tenants; ++t) {
      producers_[0]->Credits(t, int64_t{1'000'000'000}, [&answered](absl::StatusOr<std::string> r) {
        ++answered;
        if (!r.ok()) std::fprintf(stderr, "rappel-load: credits: %s\n", r.status().ToString().c_str());
      });
    }
    RunIo([&] { return answered == static_cast<int>(c_.tenants); }, nullptr);
    // Rate limits that never bind (1 000 000/s with as much burst) on both
    // channels, overall and per tenant: the gate and the fair queues work,
    // nothing waits for a token.
    std::vector<client::RateLimit> limits;
    for (client::Channel ch : {client::Channel::kSms, client::Channel::kEmail}) {
      limits.push_back(client::RateLimit{ch, true, 0, 1'000'000, 1000, 1'000'000});
      for (uint32_t t = 1; t <= c_.tenants; ++t) {
        limits.push_back(client::RateLimit{ch, false, t, 1'000'000, 1000, 1'000'000});
      }
    }
    bool set = false;
    producers_[0]->SetRateLimits(limits, [&set](absl::Status st) {
      set = true;
      if (!st.ok()) std::fprintf(stderr, "rappel-load: rate limits: %s\n", st.ToString().c_str());
    });
    RunIo([&] { return set; }, nullptr);
  }
  // Booked now, starting `lead` + 1 h from now: the confirmations are due at
  // once, the reminders at fire_at; workers subscribe after fire_at, so
  // that everything is due when delivery starts.
  int64_t lead = c_.lead_ms > 0 ? c_.lead_ms : 2'000 + static_cast<int64_t>(c_.count / 20);
  int64_t fire_at = NowMs() + lead;
  Phase create{"book", kRequestLatency};
  timed_ = true;
  Drive(&create, c_.count, [this, fire_at](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
    std::vector<client::AppointmentInput> batch;
    batch.reserve(hi - lo);
    for (uint64_t i = lo; i < hi; ++i) {
      uint32_t tenant = 1 + static_cast<uint32_t>(i % c_.tenants);
      uint32_t patient = static_cast<uint32_t>((i / c_.tenants) % c_.patients);
      uint32_t calendar = static_cast<uint32_t>((i / c_.tenants) % c_.calendars);
      int64_t start = fire_at + kHourMs;
      appts_.push_back(Appt{tenant, patient, calendar, 1, start, start + 30 * kMinuteMs});
      batch.push_back(InputOf(static_cast<uint32_t>(appts_.size() - 1)));
      batch.back().id = KeyOf(i);
    }
    c.UpsertAppointments(batch, [this, done](absl::StatusOr<AsyncClient::AppointmentResults> r) {
      if (!r.ok()) return done(0, 1, r.status());
      uint64_t ok = 0;
      absl::Status first;
      for (const auto& item : *r) {
        if (item.ok()) {
          ++ok;
          planned_sum_ += item->planned;
        } else if (first.ok()) {
          first = item.status();
        }
      }
      done(ok, r->size() - ok, first);
    });
  });
  timed_ = false;
  phases->push_back(std::move(create));
  if (phases->back().failed > 0 || timed_out_) return;
  if (NowMs() > fire_at) {
    std::fprintf(stderr, "rappel-load: booking ran past the fire time by %" PRId64
                         " ms: raise --lead-ms\n", NowMs() - fire_at);
  }
  asio::steady_timer wait(io_, std::chrono::milliseconds(std::max<int64_t>(0, fire_at - NowMs() + 200)));
  bool waited = false;
  wait.async_wait([&](const asio::error_code&) { waited = true; });
  RunIo([&] { return waited; }, nullptr);

  Phase deliveries{"fire", kLagLatency};
  // This run's appointment messages: "<tenant>:@a/<prefix>...".
  std::string mine = "@a/" + prefix_;
  Subscribe(&deliveries, {client::Channel::kSms, client::Channel::kEmail}, client::AckOutcome::kSent,
            [mine](const client::Message& m) {
              return m.message_id.find(mine) != std::string::npos ? kMineUncounted : kNotMine;
            });
  AwaitDeliveries(planned_sum_, "fire", &deliveries);
  phases->push_back(std::move(deliveries));
  (*out)["appointment_fire"] = {{"gates", c_.gates},
                                {"appointments", c_.count},
                                {"messages_planned", planned_sum_},
                                {"messages_per_appointment",
                                 c_.count > 0 ? static_cast<double>(planned_sum_) / c_.count : 0.0}};
}

// --- fairness ----------------------------------------------------------------

void Load::Fairness(std::vector<Phase>* phases, nlohmann::json* out, uint64_t* expected) {
  const uint64_t a_count = c_.count;
  const uint64_t total = a_count + c_.b_count;
  delivered_.assign(total, 0);
  client::RateLimit limit{client::Channel::kSms, true, 0, c_.sms_rate, 1000,
                          std::max<uint32_t>(1, c_.sms_rate / 10)};
  auto set_limit = [&](const client::RateLimit& l) {
    absl::Status result = absl::UnknownError("no answer");
    bool answered = false;
    producers_[0]->SetRateLimits({l}, [&](absl::Status st) {
      result = st;
      answered = true;
    });
    RunIo([&] { return answered; }, nullptr);
    return result;
  };
  Phase setup{"rate-limit", kRequestLatency};
  if (absl::Status st = set_limit(limit); !st.ok()) {
    setup.failed = 1;
    setup.first_error = "setting the SMS rate limit (admin token needed): " + st.ToString();
    phases->push_back(std::move(setup));
    return;
  }
  Phase deliveries{"delivered", kLagLatency};
  Phase lag_a{"tenant-1", kLagLatency};
  Phase lag_b{"tenant-2", kLagLatency};
  lag_by_tenant_ = {nullptr, &lag_a, &lag_b};
  Subscribe(&deliveries);
  // Items [0, a_count) are tenant 1's, [a_count, total) tenant 2's.
  auto send = [this, a_count](int64_t due_ms) -> SendBatch {
    return [this, a_count, due_ms](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
      std::vector<client::Reminder> batch;
      batch.reserve(hi - lo);
      for (uint64_t i = lo; i < hi; ++i) {
        uint64_t item = due_ms == 0 ? a_count + i : i;
        batch.push_back(client::Reminder{item < a_count ? 1u : 2u, KeyOf(item),
                                         client::Channel::kSms,
                                         "+3360000" + std::to_string(item % 10000),
                                         due_ms == 0 ? NowMs() : due_ms, 0, payload_});
      }
      c.Schedule(batch, [done](absl::StatusOr<AsyncClient::ScheduleResults> r) {
        if (!r.ok()) return done(0, 1, r.status());
        uint64_t ok = 0;
        for (const auto& item : *r) ok += item.ok() ? 1 : 0;
        done(ok, r->size() - ok, ok == r->size() ? absl::OkStatus() : absl::InternalError("item"));
      });
    };
  };
  int64_t lead = c_.lead_ms > 0 ? c_.lead_ms : 1'000 + static_cast<int64_t>(a_count / 100);
  int64_t fire_at = NowMs() + lead;
  Phase ingest_a{"ingest-1", kRequestLatency};
  Drive(&ingest_a, a_count, send(fire_at));
  // A quarter of the way through tenant 1's drain at the limit.
  double drain_s = static_cast<double>(a_count) / c_.sms_rate;
  auto b_at = Steady::now() + std::chrono::milliseconds(std::max<int64_t>(0, fire_at - NowMs())) +
              std::chrono::milliseconds(static_cast<int64_t>(drain_s * 250));
  RunIo([&] { return Steady::now() >= b_at; }, nullptr);
  uint64_t a_left = a_count - std::min<uint64_t>(a_count, lag_a.ok);
  Phase ingest_b{"ingest-2", kRequestLatency};
  Drive(&ingest_b, c_.b_count, send(0));
  *expected = ingest_a.ok + ingest_b.ok;
  AwaitDeliveries(*expected, "delivered", &deliveries);
  lag_by_tenant_.clear();
  if (absl::Status st = set_limit({client::Channel::kSms, true, 0, 0, 1000, 0}); !st.ok()) {
    deliveries.failed += 1;
    deliveries.first_error = "clearing the rate limit: " + st.ToString();
  }
  phases->push_back(std::move(ingest_a));
  phases->push_back(std::move(ingest_b));
  phases->push_back(std::move(deliveries));
  phases->push_back(std::move(lag_a));
  phases->push_back(std::move(lag_b));
  (*out)["fairness"] = {
      {"sms_rate", c_.sms_rate},
      {"burst", limit.burst},
      {"tenant_1_count", a_count},
      {"tenant_2_count", c_.b_count},
      {"tenant_1_left_when_2_scheduled", a_left},
      // Round robin gives tenant 2 half the rate while both wait.
      {"tenant_2_fair_share_ms", 2000.0 * static_cast<double>(c_.b_count) / c_.sms_rate},
      // What a FIFO would have made tenant 2 wait: tenant 1's backlog first.
      {"tenant_2_fifo_ms", 1000.0 * static_cast<double>(a_left + c_.b_count) / c_.sms_rate}};
}

int Load::Run(nlohmann::json* out) {
  deadline_ = Steady::now() + std::chrono::milliseconds(static_cast<int64_t>(c_.max_seconds * 1000));
  std::string worker_token = c_.worker_token.empty() ? c_.token : c_.worker_token;
  if (absl::Status st = Connect(&producers_, c_.connections, c_.token, "rappel-load"); !st.ok()) {
    std::fprintf(stderr, "rappel-load: %s\n", st.ToString().c_str());
    return absl::IsUnavailable(st) ? 3 : 1;
  }
  bool needs_workers = c_.scenario == "fire" || c_.scenario == "mixed" ||
                       c_.scenario == "appointment-fire" || c_.scenario == "fairness";
  if (needs_workers) {
    if (absl::Status st = Connect(&workers_, c_.workers, worker_token, "rappel-load-worker");
        !st.ok()) {
      std::fprintf(stderr, "rappel-load: %s\n", st.ToString().c_str());
      return absl::IsUnavailable(st) ? 3 : 1;
    }
  }

  auto schedule = [this](int64_t due_base, std::function<int64_t(uint64_t)> due_of) -> SendBatch {
    return [this, due_base, due_of](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
      c.Schedule(Reminders(lo, hi, due_base, due_of),
                 [done](absl::StatusOr<AsyncClient::ScheduleResults> r) {
                   if (!r.ok()) return done(0, 1, r.status());
                   uint64_t ok = 0;
                   absl::Status first;
                   for (const auto& item : *r) {
                     if (item.ok()) {
                       ++ok;
                     } else if (first.ok()) {
                       first = item.status();
                     }
                   }
                   done(ok, r->size() - ok, first);
                 });
    };
  };
  auto statuses = [](Done done) {
    return [done](absl::StatusOr<AsyncClient::ItemStatuses> r) {
      if (!r.ok()) return done(0, 1, r.status());
      uint64_t ok = 0;
      absl::Status first;
      for (const absl::Status& st : *r) {
        if (st.ok()) {
          ++ok;
        } else if (first.ok()) {
          first = st;
        }
      }
      done(ok, r->size() - ok, first);
    };
  };
  // Spread due times over the window, at least a minute ahead.
  const int64_t spread_ms = std::max<int64_t>(1, static_cast<int64_t>(c_.spread_days * 86'400'000));
  auto spread = [spread_ms](uint64_t i) {
    return 60'000 + static_cast<int64_t>((i * 2654435761u) % static_cast<uint64_t>(spread_ms));
  };

  std::vector<Phase> phases;
  uint64_t expected_deliveries = 0;
  if (c_.scenario == "ingest" || c_.scenario == "cancel") {
    Phase ingest{c_.scenario == "ingest" ? "ingest" : "setup", kRequestLatency};
    Drive(&ingest, c_.count, schedule(NowMs(), spread));
    phases.push_back(std::move(ingest));
    if (c_.scenario == "cancel" && !timed_out_) {
      Phase cancel{"cancel", kRequestLatency};
      // A random order: i -> i * a mod count with a coprime multiplier.
      uint64_t a = 0x9E3779B97F4A7C15ull % c_.count;
      while (std::gcd(a, c_.count) != 1) ++a;
      Drive(&cancel, c_.count, [&, a](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
        std::vector<client::Key> keys;
        keys.reserve(hi - lo);
        for (uint64_t i = lo; i < hi; ++i) {
          uint64_t k = static_cast<uint64_t>((static_cast<unsigned __int128>(i) * a) % c_.count);
          keys.push_back(client::Key{TenantOf(k), KeyOf(k)});
        }
        c.Cancel(keys, statuses(done));
      });
      phases.push_back(std::move(cancel));
    }
  } else if (c_.scenario == "fire") {
    delivered_.assign(c_.count, 0);
    Phase deliveries{"fire", kLagLatency};
    Subscribe(&deliveries);
    // Everything due at one instant, after the ingest should be done.
    int64_t lead = c_.lead_ms > 0 ? c_.lead_ms
                                  : 2'000 + static_cast<int64_t>(c_.count / 150);  // >= 150k/s
    int64_t fire_at = NowMs() + lead;
    Phase ingest{"ingest", kRequestLatency};
    Drive(&ingest, c_.count, schedule(fire_at, [](uint64_t) { return 0; }));
    if (NowMs() > fire_at) {
      std::fprintf(stderr, "rappel-load: ingest ran past the fire time by %" PRId64
                           " ms: raise --lead-ms\n", NowMs() - fire_at);
    }
    phases.push_back(std::move(ingest));
    auto start = Steady::now();
    const double cpu0 = ProcessCpuSeconds();
    const int64_t wait_ms = std::max<int64_t>(0, fire_at - NowMs());  // idle until the fire time
    RunIo([&] { return acked_ + ack_failed_ >= phases[0].ok; },
          [&] { Progress("fire", acked_, phases[0].ok, start); });
    deliveries.cpu_seconds = ProcessCpuSeconds() - cpu0;
    deliveries.wall_seconds = std::max(0.0, Seconds(Steady::now() - start) - static_cast<double>(wait_ms) / 1000);
    if (c_.progress) std::fprintf(stderr, "\n");
    expected_deliveries = phases[0].ok;
    deliveries.ok = acked_;
    deliveries.failed = ack_failed_;
    deliveries.seconds = Seconds(last_ack_ - first_delivery_);
    phases.push_back(std::move(deliveries));
  } else if (c_.scenario == "mixed") {
    if (c_.rate <= 0) c_.rate = 20'000;
    uint64_t total = static_cast<uint64_t>(c_.rate * c_.duration_s);
    delivered_.assign(total, 0);
    Phase deliveries{"delivered", kLagLatency};
    Subscribe(&deliveries);
    int64_t lead = c_.lead_ms > 0 ? c_.lead_ms : 1'000;
    // Item i is sent at start + i / rate and due `lead` later: a steady due rate.
    int64_t start_ms = NowMs();
    double per_item_ms = 1000.0 / c_.rate;
    uint64_t cancel_every =
        c_.cancel_fraction > 0 ? std::max<uint64_t>(1, static_cast<uint64_t>(1 / c_.cancel_fraction)) : 0;
    Phase cancels{"cancel", kRequestLatency};
    uint64_t cancel_answers = 0;
    uint64_t cancel_sent = 0;
    Phase ingest{"schedule", kRequestLatency};
    SendBatch send_schedule = schedule(start_ms + lead, [per_item_ms](uint64_t i) {
      return static_cast<int64_t>(static_cast<double>(i) * per_item_ms);
    });
    auto cancel_start = Steady::now();
    Drive(&ingest, total,
          [&](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
            send_schedule(c, lo, hi, [&, &c = c, lo, hi, done](uint64_t ok, uint64_t failed,
                                                               const absl::Status& error) {
              done(ok, failed, error);
              if (cancel_every == 0) return;
              std::vector<client::Key> keys;
              for (uint64_t i = lo; i < hi; ++i) {
                if (i % cancel_every == 0) keys.push_back(client::Key{TenantOf(i), KeyOf(i)});
              }
              if (keys.empty()) return;
              cancel_sent += keys.size();
              auto sent = Steady::now();
              c.Cancel(keys, statuses([&, sent, n = keys.size()](uint64_t ok, uint64_t failed,
                                                                 const absl::Status& error) {
                cancels.latency.Add(
                    std::chrono::duration<double, std::micro>(Steady::now() - sent).count());
                cancels.ok += ok;
                cancels.failed += failed;
                if (!error.ok() && cancels.first_error.empty()) cancels.first_error = error.ToString();
                cancel_answers += n;
              }));
            });
          },
          [&] { return cancel_answers == cancel_sent; });
    cancels.seconds = Seconds(Steady::now() - cancel_start);
    expected_deliveries = ingest.ok - cancels.ok;
    phases.push_back(std::move(ingest));
    if (cancel_every != 0) phases.push_back(std::move(cancels));
    AwaitDeliveries(expected_deliveries, "delivered", &deliveries);
    phases.push_back(std::move(deliveries));
  } else if (c_.scenario == "appointments") {
    Appointments(&phases, out);
  } else if (c_.scenario == "appointment-fire") {
    AppointmentFire(&phases, out);
    expected_deliveries = planned_sum_;
  } else if (c_.scenario == "fairness") {
    Fairness(&phases, out, &expected_deliveries);
  }
  producers_.clear();
  workers_.clear();
  io_.restart();
  io_.poll();

  uint64_t failed = 0;
  (*out)["phases"] = PhasesJson(phases, &failed);
  bool tracked = !delivered_.empty() || c_.scenario == "appointment-fire";
  if (tracked) {
    (*out)["deliveries"] = DeliveriesJson(expected_deliveries, delivered_total_, acked_, duplicates_);
  }
  if (c_.scenario == "appointments" || c_.scenario == "appointment-fire") {
    nlohmann::json errors = nlohmann::json::object();
    for (const auto& [code, n] : errors_) errors[code] = n;
    (*out)["errors"] = errors;
  }
  (*out)["timed_out"] = timed_out_;
  bool missing = tracked && acked_ < expected_deliveries;
  return timed_out_ || failed > 0 || missing ? 1 : 0;
}

void PrintHuman(const Config& c, const Context& ctx, const nlohmann::json& r) {
  std::printf("rappel-load %s: build %s, commit %s\n", c.scenario.c_str(), ctx.build_type.c_str(),
              ctx.commit.c_str());
  std::printf("machine: %s, %u hardware threads, kernel %s\n", ctx.cpu.c_str(),
              ctx.hardware_threads, ctx.kernel.c_str());
  if (IsAppointmentScenario(c.scenario)) {
    std::printf("target %s:%u, %d connections x %u batches in flight, batch %u events; "
                "%u tenants x %u calendars, %u patients\n",
                c.host.c_str(), c.port, c.connections, c.pipeline, c.batch, c.tenants, c.calendars,
                c.patients);
  } else {
    std::printf("target %s:%u, %d connections x %u in flight, batch %u, %u-byte payloads\n",
                c.host.c_str(), c.port, c.connections, c.pipeline, c.batch, c.payload_bytes);
  }
  PrintPhases(r["phases"]);
  PrintDeliveries(r);
  if (r.contains("fairness")) {
    const auto& f = r["fairness"];
    std::printf("\nfairness: sms %u/s burst %u; tenant 2's %llu scheduled with %llu of tenant 1's "
                "waiting: fair share %.0f ms, FIFO would be %.0f ms (see the tenant-2 row)\n",
                f["sms_rate"].get<unsigned>(), f["burst"].get<unsigned>(),
                f["tenant_2_count"].get<unsigned long long>(),
                f["tenant_1_left_when_2_scheduled"].get<unsigned long long>(),
                f["tenant_2_fair_share_ms"].get<double>(), f["tenant_2_fifo_ms"].get<double>());
  }
  if (r.contains("appointments")) {
    const auto& a = r["appointments"];
    const auto& k = a["events_ok"];
    std::printf("\nevents ok: %llu creates, %llu moves, %llu cancels, %llu statuses; "
                "%.2f messages planned per event (%llu in all)\n",
                k["create"].get<unsigned long long>(), k["move"].get<unsigned long long>(),
                k["cancel"].get<unsigned long long>(), k["status"].get<unsigned long long>(),
                a["planned_per_event"].get<double>(), a["messages_planned"].get<unsigned long long>());
  }
  if (r.contains("appointment_fire")) {
    const auto& a = r["appointment_fire"];
    std::printf("\ngates %s; %llu appointments, %llu messages (%.2f each)\n",
                a["gates"].get<bool>() ? "on" : "off", a["appointments"].get<unsigned long long>(),
                a["messages_planned"].get<unsigned long long>(),
                a["messages_per_appointment"].get<double>());
  }
  if (r.contains("errors")) {
    std::string line;
    for (const auto& [code, n] : r["errors"].items()) {
      line += (line.empty() ? "" : ", ") + code + " " + std::to_string(n.get<unsigned long long>());
    }
    std::printf("errors: %s\n", line.empty() ? "none" : line.c_str());
  }
  if (r["timed_out"].get<bool>()) std::printf("TIMED OUT after --max-seconds %.0f\n", c.max_seconds);
}

}  // namespace
}  // namespace rappel::bench

int main(int argc, char** argv) {
  using rappel::bench::Config;
  Config c;
  if (std::optional<int> rc = rappel::bench::ParseCommandLine(
          argc, argv,
          {"ingest", "cancel", "fire", "mixed", "appointments", "appointment-fire", "fairness"}, &c)) {
    return *rc;
  }

  rappel::bench::Context ctx = rappel::bench::ReadContext();
  nlohmann::json report = {
      {"scenario", c.scenario},
      {"header", rappel::bench::ContextJson(ctx)},
      {"config", rappel::bench::ConfigJson(c)}};
  if (!ctx.optimized) {
    std::fprintf(stderr, "rappel-load: WARNING: built without optimisation or with sanitizers\n");
  }
  rappel::bench::Load load(c);
  int rc = load.Run(&report);
  if (rc == 2 || rc == 3) return rc;
  if (c.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    rappel::bench::PrintHuman(c, ctx, report);
  }
  return rc;
}
