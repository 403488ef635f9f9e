#include "server/metrics/families.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

namespace rappel::server::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Indexed by Channel (protocol/rappel.fbs); 0 is never valid.
constexpr const char* kChannelNames[kChannelCount + 1] = {"", "sms", "email", "voice", "push"};

// Prometheus's histogram: cumulative counts per upper bound, +Inf last.
template <int MinExp, int MaxExp>
ClientMetric HistogramMetric(const Histogram<MinExp, MaxExp>& h) {
  using H = Histogram<MinExp, MaxExp>;
  constexpr auto bounds = H::Bounds();
  ClientMetric m;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < H::kBounds; ++i) {
    cumulative += h.bucket(i);
    m.histogram.bucket.push_back({cumulative, bounds[i]});
  }
  cumulative += h.bucket(H::kBounds);
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = h.sum();
  return m;
}

class Families {
 public:
  void Counter(const char* name, const char* help, double value) {
    One(name, help, MetricType::Counter).metric.back().counter.value = value;
  }
  void Gauge(const char* name, const char* help, double value) {
    One(name, help, MetricType::Gauge).metric.back().gauge.value = value;
  }
  // One gauge per channel, labelled channel="sms"...
  void ChannelGauge(const char* name, const char* help, const uint64_t (&by)[kChannelCount + 1]) {
    MetricFamily& f = Add(name, help, MetricType::Gauge);
    for (int c = 1; c <= kChannelCount; ++c) {
      ClientMetric m;
      m.label.push_back({"channel", kChannelNames[c]});
      m.gauge.value = static_cast<double>(by[c]);
      f.metric.push_back(std::move(m));
    }
  }
  // One counter per channel, labelled channel="sms"...
  void ChannelCounter(const char* name, const char* help,
                      const uint64_t (&by)[kChannelCount + 1]) {
    MetricFamily& f = Add(name, help, MetricType::Counter);
    for (int c = 1; c <= kChannelCount; ++c) {
      ClientMetric m;
      m.label.push_back({"channel", kChannelNames[c]});
      m.counter.value = static_cast<double>(by[c]);
      f.metric.push_back(std::move(m));
    }
  }
  // A gauge with one labelled sample per (label value, value).
  MetricFamily& LabelledGauges(const char* name, const char* help) {
    return Add(name, help, MetricType::Gauge);
  }
  MetricFamily& Histograms(const char* name, const char* help) {
    return Add(name, help, MetricType::Histogram);
  }
  template <int MinExp, int MaxExp>
  void OneHistogram(const char* name, const char* help, const Histogram<MinExp, MaxExp>& h) {
    Histograms(name, help).metric.push_back(HistogramMetric(h));
  }
  std::vector<MetricFamily> Take() { return std::move(out_); }

 private:
  MetricFamily& Add(const char* name, const char* help, MetricType type) {
    out_.push_back(MetricFamily{name, help, type, {}});
    return out_.back();
  }
  MetricFamily& One(const char* name, const char* help, MetricType type) {
    MetricFamily& f = Add(name, help, type);
    f.metric.emplace_back();
    return f;
  }
  std::vector<MetricFamily> out_;
};

double D(uint64_t v) { return static_cast<double>(v); }

void AddGauge(MetricFamily& f, const char* label, std::string value, double v) {
  ClientMetric m;
  m.label.push_back({label, std::move(value)});
  m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

}  // namespace

std::vector<MetricFamily> SnapshotFamilies(const ServerSnapshot& s) {
  const EngineStats& e = s.engine;
  const DispatchStats& d = s.dispatch;
  Families f;
  // What `rappelctl status` shows, in its order.
  f.Gauge("rappel_pending", "Reminders not yet handed to a worker: in the wheel, ready or "
          "waiting for a rate token", D(e.in_wheel + d.ready + d.rate_waiting));
  f.Gauge("rappel_leased", "Messages handed to a worker, not yet acknowledged", D(d.leased));
  f.Gauge("rappel_dead_letters", "Dead letters kept", D(d.dead_letters));
  f.Gauge("rappel_log_records", "Records in the log, live or garbage", D(e.log_records));
  f.Gauge("rappel_store_used_bytes", "Store pages in use", D(e.store.used_bytes));
  f.Counter("rappel_store_commits_total", "Store write transactions committed",
            D(e.store.commits));
  f.ChannelGauge("rappel_ready", "Messages due, waiting for a worker", d.ready_by_channel);
  f.Gauge("rappel_store_writable",
          "1 while the store accepts writes; 0 once it refused them for good", 
          e.store.fatal_error.empty() ? 1 : 0);
  f.ChannelGauge("rappel_live_reminders_by_channel", "Live reminders by channel",
                 e.live_by_channel);
  f.Gauge("rappel_tenants", "Tenants with at least one live reminder", D(e.tenants));
  f.Gauge("rappel_due_next_hour", "Reminders due within the next hour", D(s.due_next_hour));
  f.Gauge("rappel_due_next_day", "Reminders due within the next 24 hours", D(s.due_next_day));
  f.Gauge("rappel_live_reminders", "Live reminders in the index", D(e.live));
  f.Gauge("rappel_live_bytes", "Bytes of the live reminders' records", D(e.live_bytes));
  f.Gauge("rappel_log_bytes", "Bytes of the records in the log, live or garbage",
          D(e.log_bytes));
  f.Gauge("rappel_store_map_bytes", "Size of the store's memory map", D(e.store.map_bytes));
  f.Counter("rappel_store_records_appended_total", "Log records written",
            D(e.store.records_appended));
  f.Counter("rappel_store_batches_committed_total", "Write batches made durable",
            D(e.store.batches_committed));
  f.Gauge("rappel_store_max_records_per_commit", "Most log records in one commit since start",
          D(e.store.max_group_records));
  f.Gauge("rappel_store_max_batches_per_commit", "Most batches in one commit since start",
          D(e.store.max_group_batches));
  f.Gauge("rappel_retrying", "Reminders with a durable failure count", D(d.retrying));
  f.Counter("rappel_dead_letters_dropped_total", "Dead letters deleted beyond the limit",
            D(d.dead_letters_dropped));
  f.Counter("rappel_compaction_steps_total", "Log compaction steps", D(e.compaction_steps));
  f.Gauge("rappel_rate_waiting", "Messages due, waiting for a rate token", D(d.rate_waiting));
  f.ChannelGauge("rappel_rate_waiting_by_channel", "Messages waiting for a rate token",
                 d.rate_waiting_by_channel);
  f.Counter("rappel_rate_late_total", "Rate-limited messages reported unable to make their time",
            D(d.rate_late));
  f.Counter("rappel_rate_expired_total", "Rate-limited messages dropped past their expiry",
            D(d.rate_expired));
  // Lifetime counters of the engine and the dispatcher (since start).
  f.Counter("rappel_reminders_scheduled_total", "Reminder versions made durable",
            D(e.scheduled));
  f.Counter("rappel_reminders_cancelled_total", "Reminders cancelled", D(e.cancelled));
  f.Counter("rappel_reminders_completed_total", "Reminders completed", D(e.completed));
  f.Counter("rappel_reminders_expired_total", "Reminders dropped at firing: past their expiry",
            D(e.expired));
  f.Counter("rappel_reminders_fired_total", "Reminders fallen due and handed to the dispatcher",
            D(e.fired));
  f.Counter("rappel_messages_delivered_total", "Messages handed to a worker", D(d.delivered));
  f.Counter("rappel_messages_acked_total", "Messages acknowledged by a worker", D(d.acked));
  f.Counter("rappel_messages_retried_total", "Deliveries failed and retried", D(d.retried));
  f.Counter("rappel_messages_redelivered_total", "Leases expired or whose worker went away",
            D(d.redelivered));
  f.Gauge("rappel_workers", "Workers subscribed", D(d.workers));
  f.Gauge("rappel_connections", "Client connections open", D(s.connections));
  f.Gauge("rappel_recovery_seconds", "Time the last start took to recover the store",
          static_cast<double>(e.recovery_ms) / 1000.0);
  f.Gauge("rappel_memory_index_bytes", "Memory of the wheel, the index and their metadata",
          D(e.memory_bytes));
  // Connections by the role of their Hello.
  MetricFamily& roles = f.LabelledGauges("rappel_connections_by_role",
                                         "Client connections open, by role (none: no Hello yet)");
  AddGauge(roles, "role", "none", D(s.connections_by_role.none));
  AddGauge(roles, "role", "producer", D(s.connections_by_role.producer));
  AddGauge(roles, "role", "worker", D(s.connections_by_role.worker));
  AddGauge(roles, "role", "admin", D(s.connections_by_role.admin));
  // Per channel.
  f.ChannelCounter("rappel_messages_late_total",
                   "Messages handed to a worker more than 1 s after their due time",
                   d.late_by_channel);
  // Per tenant: the busiest by live reminders, then the rest as "other".
  MetricFamily& live = f.LabelledGauges("rappel_tenant_live_reminders",
                                        "Live reminders of the busiest tenants; other: the rest");
  MetricFamily& dead = f.LabelledGauges("rappel_tenant_dead_letters",
                                        "Dead letters of the busiest tenants; other: the rest");
  for (const ServerSnapshot::Tenant& t : s.top_tenants) {
    AddGauge(live, "tenant", std::to_string(t.tenant), D(t.live));
    AddGauge(dead, "tenant", std::to_string(t.tenant), D(t.dead_letters));
  }
  AddGauge(live, "tenant", "other", D(s.other_tenants.live));
  AddGauge(dead, "tenant", "other", D(s.other_tenants.dead_letters));
  if (s.replication.on) {
    const ServerSnapshot::Replication& r = s.replication;
    f.Gauge("rappel_replication_term",
            "The term of this primary's groups (a shard's epoch, raised by each election)",
            D(r.term));
    f.Gauge("rappel_replication_index", "Index of the last group this primary committed",
            D(r.index));
    f.Gauge("rappel_shard_leader", "1 on a shard's elected leader", r.shard_leader ? 1 : 0);
    f.Gauge("rappel_standbys_connected", "Standbys streaming from this primary",
            D(r.standbys.size()));
    MetricFamily& acked = f.LabelledGauges(
        "rappel_standby_acked_index", "Last group each standby acknowledged as durable");
    MetricFamily& lag = f.LabelledGauges("rappel_standby_lag_groups",
                                         "Groups committed here and not yet durable on each standby");
    for (const auto& sb : r.standbys) {
      AddGauge(acked, "node", sb.node, D(sb.acked_index));
      AddGauge(lag, "node", sb.node, D(r.index - std::min(r.index, sb.acked_index)));
    }
  }
  // Histograms.
  MetricFamily& requests = f.Histograms(
      "rappel_request_duration_seconds",
      "Requests from the frame's arrival to its reply queued, by request type");
  for (size_t t = 1; t < RequestLatencies::kTypes; ++t) {
    const LatencyHistogram& h = s.requests.by_type[t];
    if (h.count() == 0) continue;  // types never requested make no series
    ClientMetric m = HistogramMetric(h);
    m.label.push_back(
        {"type", protocol::wire::EnumNameBody(static_cast<protocol::wire::Body>(t))});
    requests.metric.push_back(std::move(m));
  }
  f.OneHistogram("rappel_store_commit_duration_seconds",
                 "Store commits: writing the group to the commit's return, fsync included",
                 e.store.commit_seconds);
  f.OneHistogram("rappel_store_commit_records", "Log records written per store commit",
                 e.store.records_per_commit);
  f.OneHistogram("rappel_handout_lag_seconds",
                 "Due time to handed to a worker, per lease (redeliveries included)",
                 d.handed_out_lag_seconds);
  f.OneHistogram("rappel_lease_ack_seconds", "Handed to a worker to its outcome, per ack",
                 d.lease_ack_seconds);
  return f.Take();
}

std::vector<MetricFamily> ExporterFamilies(uint64_t snapshot_misses, double snapshot_age_seconds) {
  Families f;
  f.Counter("rappel_metrics_snapshot_misses_total",
            "Scrapes that served an older snapshot: the io thread did not answer in time",
            D(snapshot_misses));
  f.Gauge("rappel_metrics_snapshot_age_seconds", "Age of the snapshot this scrape served",
          snapshot_age_seconds);
  return f.Take();
}

std::vector<MetricFamily> ProcessFamilies() {
  Families f;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0, resident = 0;
    if (std::fscanf(statm, "%llu %llu", &size, &resident) == 2) {
      double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      f.Gauge("process_resident_memory_bytes", "Resident memory size in bytes",
              static_cast<double>(resident) * page);
    }
    std::fclose(statm);
  }
  return f.Take();
}

}  // namespace rappel::server::metrics
