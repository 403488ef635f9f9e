#include "bench/load/driver.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

namespace rappel::bench {

using client::AsyncClient;
using namespace std::chrono_literals;

Driver::Driver(Config c)
    : c_(std::move(c)),
      // Keys unique to this run, so runs against one server do not collide.
      prefix_("load-" + std::to_string(getpid()) + "-" + std::to_string(NowMs() % 1'000'000'000) +
              "-"),
      payload_(c_.payload_bytes, 'p'),
      deadline_(Steady::now() +
                std::chrono::milliseconds(static_cast<int64_t>(c_.max_seconds * 1000))) {}

client::Options Driver::OptionsFor(const std::string& token, const std::string& name) const {
  client::Options o;
  o.host = c_.host;
  o.port = c_.port;
  o.tls = c_.tls;
  o.token = token;
  o.client_name = name;
  o.timeout = 60s;
  return o;
}

absl::Status Driver::Connect(bool workers) {
  if (absl::Status st = Connect(&producers_, c_.connections, c_.token, "rappel-load"); !st.ok()) {
    return st;
  }
  if (!workers) return absl::OkStatus();
  std::string worker_token = c_.worker_token.empty() ? c_.token : c_.worker_token;
  return Connect(&workers_, c_.workers, worker_token, "rappel-load-worker");
}

absl::Status Driver::Connect(std::vector<std::unique_ptr<AsyncClient>>* clients, int n,
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

void Driver::Close() {
  producers_.clear();
  workers_.clear();
  io_.restart();
  io_.poll();
}

void Driver::RunIo(const std::function<bool()>& done, const std::function<void()>& progress) {
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

void Driver::Progress(const std::string& what, uint64_t n, uint64_t of, Steady::time_point start) {
  if (!c_.progress) return;
  double s = Seconds(Steady::now() - start);
  std::fprintf(stderr, "\r%-10s %10" PRIu64 " / %-10" PRIu64 " %9.0f/s  %6.1f s   ", what.c_str(),
               n, of, s > 0 ? static_cast<double>(n) / s : 0.0, s);
  std::fflush(stderr);
}

void Driver::EndProgress() {
  if (c_.progress) std::fprintf(stderr, "\n");
}

// --- producers ---------------------------------------------------------------

void Driver::Drive(Phase* phase, uint64_t count, const SendBatch& send,
                   const std::function<bool()>& extra_done, uint32_t batch, uint32_t pipeline) {
  if (batch == 0) batch = c_.batch;
  if (pipeline == 0) pipeline = c_.pipeline;
  const uint64_t gen = ++drive_generation_;
  const double cpu0 = ProcessCpuSeconds();
  uint64_t next = 0;      // first item not yet sent
  uint64_t answered = 0;  // items answered
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
      // When --rate meant this batch to go: a send held back by a slow
      // answer still counts from here (coordinated omission).
      auto intended =
          start + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(
                      static_cast<double>(lo) / std::max(c_.rate, 1e-9)));
      send(*producers_[p], lo, hi,
           [&, p, sent, intended, n = hi - lo, gen](uint64_t ok, uint64_t failed,
                                                    const absl::Status& error) {
             // An answer after this Drive gave up (--max-seconds): its
             // locals are gone.
             if (gen != drive_generation_) return;
             auto now = Steady::now();
             double us = std::chrono::duration<double, std::micro>(now - sent).count();
             phase->latency.Add(us);
             if (c_.rate > 0) {
               phase->corrected.Add(
                   std::chrono::duration<double, std::micro>(now - intended).count());
             }
             size_t second = static_cast<size_t>(Seconds(now - start));
             if (phase->series.size() <= second) phase->series.resize(second + 1);
             phase->series[second].ok += ok;
             phase->series[second].failed += failed;
             phase->series[second].latency.Add(us);
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
  EndProgress();
}

std::vector<client::Reminder> Driver::Reminders(
    uint64_t lo, uint64_t hi, int64_t due_base_ms,
    const std::function<int64_t(uint64_t)>& due_of) const {
  std::vector<client::Reminder> batch;
  batch.reserve(hi - lo);
  for (uint64_t i = lo; i < hi; ++i) {
    batch.push_back(client::Reminder{TenantOf(i), KeyOf(i), client::Channel::kSms,
                                     "+3360000" + std::to_string(i % 10000),
                                     due_base_ms + due_of(i), 0, payload_});
  }
  return batch;
}

Driver::SendBatch Driver::Schedule(int64_t due_base_ms,
                                   std::function<int64_t(uint64_t)> due_of) const {
  return [this, due_base_ms, due_of](AsyncClient& c, uint64_t lo, uint64_t hi, Done done) {
    c.Schedule(Reminders(lo, hi, due_base_ms, due_of),
               PerItem<AsyncClient::ScheduleResults>(std::move(done), [](const auto&) {}));
  };
}

// --- workers -----------------------------------------------------------------

int64_t Driver::ItemOf(const client::Message& m) const {
  if (m.reminder.key.compare(0, prefix_.size(), prefix_) != 0) return kNotMine;
  return static_cast<int64_t>(std::stoull(m.reminder.key.substr(prefix_.size())));
}

void Driver::Subscribe(Phase* deliveries) {
  Subscribe(deliveries, {client::Channel::kSms}, client::AckOutcome::kDelivered,
            [this](const client::Message& m) { return ItemOf(m); });
}

void Driver::Subscribe(Phase* deliveries, std::vector<client::Channel> channels,
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

void Driver::AwaitDeliveries(uint64_t expected, const std::string& what, Phase* deliveries) {
  auto start = Steady::now();
  RunIo([&] { return acked_ + ack_failed_ >= expected; },
        [&] { Progress(what, acked_, expected, start); });
  EndProgress();
  RecordDeliveries(deliveries);
}

void Driver::RecordDeliveries(Phase* deliveries) const {
  deliveries->ok = acked_;
  deliveries->failed = ack_failed_;
  deliveries->seconds = Seconds(last_ack_ - first_delivery_);
}

nlohmann::json Driver::DeliveriesJson(uint64_t expected) const {
  return bench::DeliveriesJson(expected, delivered_total_, acked_, duplicates_);
}

}  // namespace rappel::bench
