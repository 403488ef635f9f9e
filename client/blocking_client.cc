// BlockingClient: AsyncClient on a private io_context, run on the caller's
// thread until the answer to the one request in flight arrives.
#include <asio.hpp>
#include <deque>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "rappel/async_client.h"
#include "rappel/client.h"

namespace rappel::client {

struct BlockingClient::Impl {
  asio::io_context io;
  std::unique_ptr<AsyncClient> client;
  std::deque<Message> received;  // pushed by the server, not yet returned by Receive

  // Starts a request with `start(callback)` and runs the io_context until
  // the callback has run. The client's own deadline (Options::timeout)
  // guarantees it does.
  template <typename T, typename Start>
  T Wait(Start start) {
    std::optional<T> result;
    start([&result](T r) { result.emplace(std::move(r)); });
    io.restart();
    while (!result) {
      if (io.run_one() == 0) return T(absl::InternalError("rappel client: nothing left to run"));
    }
    return std::move(*result);
  }
};

BlockingClient::BlockingClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlockingClient::~BlockingClient() = default;

absl::StatusOr<std::unique_ptr<BlockingClient>> BlockingClient::Connect(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->client = std::make_unique<AsyncClient>(impl->io, options);
  absl::Status st = impl->Wait<absl::Status>([&](auto cb) { impl->client->Start(cb); });
  if (!st.ok()) return st;
  return std::unique_ptr<BlockingClient>(new BlockingClient(std::move(impl)));
}

absl::StatusOr<std::vector<absl::StatusOr<ScheduleOutcome>>> BlockingClient::Schedule(
    const std::vector<Reminder>& reminders) {
  using R = absl::StatusOr<AsyncClient::ScheduleResults>;
  return impl_->Wait<R>([&](auto cb) { impl_->client->Schedule(reminders, cb); });
}

absl::StatusOr<std::vector<absl::Status>> BlockingClient::Cancel(const std::vector<Key>& keys) {
  using R = absl::StatusOr<AsyncClient::ItemStatuses>;
  return impl_->Wait<R>([&](auto cb) { impl_->client->Cancel(keys, cb); });
}

absl::Status BlockingClient::Reschedule(const Key& key, int64_t due_ms) {
  return impl_->Wait<absl::Status>([&](auto cb) { impl_->client->Reschedule(key, due_ms, cb); });
}

std::string BlockingClient::endpoint() const { return impl_->client->endpoint(); }
ShardRole BlockingClient::shard_role() const { return impl_->client->shard_role(); }

absl::Status BlockingClient::Ping() {
  return impl_->Wait<absl::Status>([&](auto cb) { impl_->client->Ping(cb); });
}

absl::Status BlockingClient::Subscribe(const std::vector<Channel>& channels,
                                       uint32_t max_in_flight, uint32_t batch_size) {
  Impl* impl = impl_.get();
  return impl->Wait<absl::Status>([&](auto cb) {
    impl->client->Subscribe(
        Subscription{channels, max_in_flight, batch_size},
        [impl](std::vector<Message> messages) {
          for (Message& m : messages) impl->received.push_back(std::move(m));
        },
        cb);
  });
}

absl::StatusOr<std::vector<Message>> BlockingClient::Receive(std::chrono::milliseconds wait) {
  if (impl_->received.empty() && wait.count() > 0) {
    // The flag outlives this call: the timer's handler may run later.
    auto expired = std::make_shared<bool>(false);
    asio::steady_timer timer(impl_->io, wait);
    timer.async_wait([expired](asio::error_code ec) {
      if (!ec) *expired = true;
    });
    impl_->io.restart();
    while (impl_->received.empty() && !*expired && impl_->io.run_one() > 0) {
    }
  }
  std::vector<Message> out(std::make_move_iterator(impl_->received.begin()),
                           std::make_move_iterator(impl_->received.end()));
  impl_->received.clear();
  return out;
}

absl::StatusOr<std::vector<absl::Status>> BlockingClient::Ack(const std::vector<AckItem>& items) {
  using R = absl::StatusOr<AsyncClient::ItemStatuses>;
  return impl_->Wait<R>([&](auto cb) { impl_->client->Ack(items, cb); });
}

absl::StatusOr<ServerStats> BlockingClient::Stats(uint32_t max_tenants) {
  return impl_->Wait<absl::StatusOr<ServerStats>>(
      [&](auto cb) { impl_->client->Stats(cb, max_tenants); });
}

absl::StatusOr<CompactResult> BlockingClient::Compact() {
  return impl_->Wait<absl::StatusOr<CompactResult>>([&](auto cb) { impl_->client->Compact(cb); });
}

absl::Status BlockingClient::SetRateLimits(const std::vector<RateLimit>& limits) {
  return impl_->Wait<absl::Status>([&](auto cb) { impl_->client->SetRateLimits(limits, cb); });
}

absl::StatusOr<RateList> BlockingClient::Rates(uint32_t max_rows) {
  return impl_->Wait<absl::StatusOr<RateList>>(
      [&](auto cb) { impl_->client->Rates(cb, max_rows); });
}

absl::StatusOr<ReminderState> BlockingClient::Inspect(const Key& key) {
  return impl_->Wait<absl::StatusOr<ReminderState>>(
      [&](auto cb) { impl_->client->Inspect(key, cb); });
}

absl::StatusOr<KeyPage> BlockingClient::ListKeys(const KeyListQuery& query) {
  return impl_->Wait<absl::StatusOr<KeyPage>>(
      [&](auto cb) { impl_->client->ListKeys(query, cb); });
}

absl::StatusOr<std::vector<DeadLetter>> BlockingClient::ListDeadLetters(uint32_t tenant,
                                                                       uint32_t limit) {
  return impl_->Wait<absl::StatusOr<std::vector<DeadLetter>>>(
      [&](auto cb) { impl_->client->ListDeadLetters(tenant, limit, cb); });
}

absl::StatusOr<std::vector<absl::Status>> BlockingClient::ReplayDeadLetters(
    const std::vector<Key>& keys) {
  using R = absl::StatusOr<AsyncClient::ItemStatuses>;
  return impl_->Wait<R>([&](auto cb) { impl_->client->ReplayDeadLetters(keys, cb); });
}

absl::Status BlockingClient::Backup(const std::string& dir) {
  return impl_->Wait<absl::Status>([&](auto cb) { impl_->client->Backup(dir, cb); });
}

absl::StatusOr<std::string> BlockingClient::PutObject(ObjectKind kind, uint32_t tenant,
                                                     const std::string& id,
                                                     const std::string& json) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->PutObject(kind, tenant, id, json, cb); });
}

absl::StatusOr<std::string> BlockingClient::GetObject(ObjectKind kind, uint32_t tenant,
                                                     const std::string& id) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->GetObject(kind, tenant, id, cb); });
}

absl::StatusOr<std::vector<absl::StatusOr<AppointmentResult>>> BlockingClient::UpsertAppointments(
    const std::vector<AppointmentInput>& items) {
  using R = absl::StatusOr<AsyncClient::AppointmentResults>;
  return impl_->Wait<R>([&](auto cb) { impl_->client->UpsertAppointments(items, cb); });
}

absl::StatusOr<std::vector<absl::StatusOr<AppointmentResult>>> BlockingClient::AppointmentCommands(
    const std::vector<AppointmentCommand>& commands) {
  using R = absl::StatusOr<AsyncClient::AppointmentResults>;
  return impl_->Wait<R>([&](auto cb) { impl_->client->AppointmentCommands(commands, cb); });
}

absl::StatusOr<uint32_t> BlockingClient::PostAbsence(uint32_t tenant, const std::string& calendar,
                                                     int64_t from_ms, int64_t to_ms) {
  return impl_->Wait<absl::StatusOr<uint32_t>>(
      [&](auto cb) { impl_->client->PostAbsence(tenant, calendar, from_ms, to_ms, cb); });
}

absl::StatusOr<uint32_t> BlockingClient::DelayAlert(uint32_t tenant, const std::string& calendar,
                                                    int64_t delay_ms) {
  return impl_->Wait<absl::StatusOr<uint32_t>>(
      [&](auto cb) { impl_->client->DelayAlert(tenant, calendar, delay_ms, cb); });
}

absl::StatusOr<AppointmentResult> BlockingClient::PatientReply(uint32_t tenant,
                                                               const std::string& patient,
                                                               const std::string& appointment,
                                                               PatientReplyKind kind) {
  return impl_->Wait<absl::StatusOr<AppointmentResult>>(
      [&](auto cb) { impl_->client->PatientReply(tenant, patient, appointment, kind, cb); });
}

absl::StatusOr<TokenRedeemResult> BlockingClient::RedeemToken(const std::string& token) {
  return impl_->Wait<absl::StatusOr<TokenRedeemResult>>(
      [&](auto cb) { impl_->client->RedeemToken(token, cb); });
}

absl::StatusOr<std::string> BlockingClient::ShowAppointment(uint32_t tenant,
                                                           const std::string& id) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->ShowAppointment(tenant, id, cb); });
}

absl::StatusOr<std::string> BlockingClient::Credits(uint32_t tenant, int64_t add) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->Credits(tenant, add, cb); });
}

absl::StatusOr<std::vector<absl::StatusOr<bool>>> BlockingClient::ReportOutcomes(
    const std::vector<OutcomeItem>& items) {
  return impl_->Wait<absl::StatusOr<std::vector<absl::StatusOr<bool>>>>(
      [&](auto cb) { impl_->client->ReportOutcomes(items, cb); });
}

absl::StatusOr<std::string> BlockingClient::MessageSummary(uint32_t tenant,
                                                          const std::string& from_day,
                                                          const std::string& to_day) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->MessageSummary(tenant, from_day, to_day, cb); });
}

absl::StatusOr<std::string> BlockingClient::MessageList(const MessageListQuery& query) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->MessageList(query, cb); });
}

absl::StatusOr<std::string> BlockingClient::DryRun(const AppointmentInput& appointment) {
  return impl_->Wait<absl::StatusOr<std::string>>(
      [&](auto cb) { impl_->client->DryRun(appointment, cb); });
}

namespace {

// The one result of a batch of one.
absl::StatusOr<AppointmentResult> Single(
    absl::StatusOr<std::vector<absl::StatusOr<AppointmentResult>>> results) {
  if (!results.ok()) return results.status();
  if (results->size() != 1) {
    return absl::DataLossError(absl::StrCat("rappeld answered with ", results->size(),
                                            " appointment results instead of one"));
  }
  return std::move((*results)[0]);
}

}  // namespace

absl::StatusOr<AppointmentResult> BlockingClient::UpsertAppointment(
    const AppointmentInput& appointment) {
  return Single(UpsertAppointments({appointment}));
}

absl::StatusOr<AppointmentResult> BlockingClient::CancelAppointment(uint32_t tenant,
                                                                    const std::string& id,
                                                                    CancelledBy by) {
  AppointmentCommand c;
  c.tenant = tenant;
  c.id = id;
  switch (by) {
    case CancelledBy::kPractitioner:
      c.action = AppointmentAction::kCancelByPractitioner;
      break;
    case CancelledBy::kPatient:
      c.action = AppointmentAction::kCancelByPatient;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown CancelledBy value ", static_cast<int>(by)));
  }
  return Single(AppointmentCommands({c}));
}

absl::StatusOr<AppointmentResult> BlockingClient::SetStatus(uint32_t tenant, const std::string& id,
                                                            VisitStatus status) {
  AppointmentCommand c;
  c.tenant = tenant;
  c.id = id;
  c.action = AppointmentAction::kSetStatus;
  c.status = status;
  return Single(AppointmentCommands({c}));
}

}  // namespace rappel::client
