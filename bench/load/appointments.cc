// appointments: how many appointment events per second rappeld
// acknowledges, and how many messages it plans per event.
//
// Setup (untimed, appointment_setup.h), then a seed of --seed appointments
// (default count/4) for the timed events to act on. Timed: --count events,
// ~55% creates (--creates), ~20% moves (version+1, a new start), ~10%
// practitioner cancels, ~15% statuses (seen / absent; with other
// --creates, the rest in the same proportions), --batch events per batch:
// one AppointmentUpsert request, plus one AppointmentCommands request when
// the batch has cancels or statuses.
#include <cstdio>
#include <memory>
#include <numeric>

#include "bench/load/appointment_setup.h"
#include "bench/load/scenario.h"

namespace rappel::bench {
namespace {

using client::AsyncClient;

class AppointmentEvents {
 public:
  AppointmentEvents(Driver& d, AppointmentSetup& setup) : d_(d), setup_(setup) {}

  void Run(std::vector<Phase>* phases, nlohmann::json* out);

 private:
  enum EventKind { kCreate, kMove, kCancel, kStatus, kEventKinds };
  static constexpr const char* kEventNames[] = {"create", "move", "cancel", "status"};

  // Sends `n` appointment events as one batch; creates only when `creates_only`.
  void SendEvents(AsyncClient& c, uint64_t n, bool creates_only, Driver::Done done);
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

  Driver& d_;
  AppointmentSetup& setup_;
  // Appointments acknowledged, active, without a status and with no event
  // in flight: what moves, cancels and statuses pick from (so two events on
  // one appointment are never in flight at once, on any connection).
  std::vector<uint32_t> pool_;
  uint64_t rng_ = 0x5EED;
  int64_t day0_ms_ = 0;  // today, 00:00 UTC
  uint64_t events_ok_[kEventKinds] = {};
  uint64_t planned_sum_ = 0;  // over the timed phase's acknowledged events
  LatencySamples request_latency_;
  bool timed_ = false;  // counting for the timed phase
};

std::pair<int64_t, int64_t> AppointmentEvents::RandomSlot() {
  int64_t day = day0_ms_ / kDayMs + 7 + static_cast<int64_t>(Below(54));  // 7..60 days ahead
  int weekday = static_cast<int>((day + 4) % 7);                          // 0: Sunday
  if (weekday == 6) day += 2;
  if (weekday == 0) day += 1;
  int64_t local = 8 * kHourMs + static_cast<int64_t>(Below(44)) * 15 * kMinuteMs;  // 08:00..18:45
  int64_t start = day * kDayMs + local - kHourMs;  // Paris in winter: UTC+1
  static constexpr int64_t kLengths[] = {15, 20, 30, 45};
  return {start, start + kLengths[Below(4)] * kMinuteMs};
}

void AppointmentEvents::SendEvents(AsyncClient& c, uint64_t n, bool creates_only,
                                   Driver::Done done) {
  const Config& cfg = d_.config();
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
    uint64_t rest = r < cfg.creates_pct ? 0 : (r - cfg.creates_pct) * 45 / (100 - cfg.creates_pct);
    EventKind kind = creates_only || pool_.empty() || r < cfg.creates_pct ? kCreate
                     : rest < 20                                          ? kMove
                     : rest < 30                                          ? kCancel
                                                                          : kStatus;
    uint32_t a;
    if (kind == kCreate) {
      auto [start, end] = RandomSlot();
      uint64_t tenant = Below(cfg.tenants);
      a = setup_.Add(Appt{static_cast<uint32_t>(1 + tenant),
                          static_cast<uint32_t>(Below(cfg.patients)),
                          static_cast<uint32_t>(Below(cfg.calendars)), 1, start, end});
    } else {
      size_t k = Below(pool_.size());
      a = pool_[k];
      pool_[k] = pool_.back();
      pool_.pop_back();
    }
    if (kind == kMove) {
      Appt& x = setup_.at(a);
      auto [start, end] = RandomSlot();
      x.start_ms = start;
      x.end_ms = end;
      ++x.version;
    }
    if (kind == kCreate || kind == kMove) {
      upserts.push_back(setup_.InputOf(a));
      upsert_of->emplace_back(a, kind);
    } else {
      client::AppointmentCommand cmd;
      cmd.tenant = setup_.at(a).tenant;
      cmd.id = d_.KeyOf(a);
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
  auto answer = [this, pending, done](
                    std::shared_ptr<std::vector<std::pair<uint32_t, EventKind>>> of,
                    Steady::time_point sent) {
    return [this, pending, done, of, sent](absl::StatusOr<AsyncClient::AppointmentResults> r) {
      request_latency_.Add(std::chrono::duration<double, std::micro>(Steady::now() - sent).count());
      for (size_t i = 0; i < of->size(); ++i) {
        auto [a, kind] = (*of)[i];
        const absl::Status& st = !r.ok()         ? r.status()
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
          setup_.CountError(st);
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

void AppointmentEvents::Run(std::vector<Phase>* phases, nlohmann::json* out) {
  const Config& cfg = d_.config();
  day0_ms_ = NowMs() / kDayMs * kDayMs;
  rng_ ^= static_cast<uint64_t>(NowMs());
  if (!setup_.SetupObjects(phases, nlohmann::json::object(), nlohmann::json::object())) return;

  // Seed: appointments the timed events can move, cancel and mark.
  uint64_t seed = cfg.seed >= 0 ? static_cast<uint64_t>(cfg.seed) : cfg.count / 4;
  if (seed > 0) {
    Phase seeding{"seed", kRequestLatency};
    d_.Drive(&seeding, seed, [this](AsyncClient& c, uint64_t lo, uint64_t hi, Driver::Done done) {
      SendEvents(c, hi - lo, /*creates_only=*/true, std::move(done));
    });
    seeding.latency = std::move(request_latency_);
    request_latency_ = LatencySamples();
    phases->push_back(std::move(seeding));
    if (phases->back().failed > 0 || d_.timed_out()) return;
  }

  Phase events{"appointments", kRequestLatency};
  timed_ = true;
  d_.Drive(&events, cfg.count, [this](AsyncClient& c, uint64_t lo, uint64_t hi, Driver::Done done) {
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
      {"planned_per_event",
       ok > 0 ? static_cast<double>(planned_sum_) / static_cast<double>(ok) : 0.0},
      {"appointments_known", setup_.size()},
      {"tenants", cfg.tenants},
      {"calendars_per_tenant", cfg.calendars},
      {"patients_per_tenant", cfg.patients}};
}

}  // namespace

void RunAppointments(Driver& d, Outcome* o, nlohmann::json* report) {
  AppointmentSetup setup(d);
  AppointmentEvents events(d, setup);
  events.Run(&o->phases, report);
  // Answers that come after --max-seconds call into `events` and `setup`:
  // close while they live.
  d.Close();
  (*report)["errors"] = setup.ErrorsJson();
}

void PrintAppointments(const nlohmann::json& r) {
  if (r.contains("appointments")) {
    const auto& a = r["appointments"];
    const auto& k = a["events_ok"];
    std::printf(
        "\nevents ok: %llu creates, %llu moves, %llu cancels, %llu statuses; "
        "%.2f messages planned per event (%llu in all)\n",
        k["create"].get<unsigned long long>(), k["move"].get<unsigned long long>(),
        k["cancel"].get<unsigned long long>(), k["status"].get<unsigned long long>(),
        a["planned_per_event"].get<double>(), a["messages_planned"].get<unsigned long long>());
  }
  PrintErrors(r);
}

}  // namespace rappel::bench
