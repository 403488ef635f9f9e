#include "server/main/rappeld.h"

#include <chrono>

#include "server/common/clock.h"

namespace rappel::server {
Rappeld::Rappeld(asio::io_context& io)
    : io_(io), timer_(io), shutdown_timer_(io), reclaim_timer_(io) {}

Rappeld::~Rappeld() {
  *alive_ = false;
  if (server_) server_->Stop();
  if (handler_) handler_->JoinBackup();  // the copy reads the store
  reclaim_timer_.cancel();
  engine_.reset();  // drains the store's queue; late completions are dropped
}

absl::StatusOr<std::unique_ptr<Rappeld>> Rappeld::Start(asio::io_context& io,
                                                        RappeldOptions options) {
  std::unique_ptr<Rappeld> d(new Rappeld(io));
  d->clock_ = options.engine.clock ? options.engine.clock : SystemNowMs;
  options.engine.clock = d->clock_;
  d->dispatcher_ = std::make_unique<Dispatcher>(nullptr, options.dispatch, d->clock_);
  // Completions come from the store's writer thread: run them on the io
  // thread, then re-arm the ticker (what they applied may be due already).
  std::weak_ptr<bool> alive = d->alive_;
  Rappeld* self = d.get();
  Store::Poster post = [&io, alive, self](std::function<void()> fn) {
    asio::post(io, [alive, self, fn = std::move(fn)] {
      fn();
      if (auto a = alive.lock(); a && *a) self->Arm();
    });
  };
  auto engine = Engine::Open(options.engine, std::move(post), d->dispatcher_.get());
  if (!engine.ok()) return engine.status();
  d->engine_ = std::move(*engine);
  d->dispatcher_->set_engine(d->engine_.get());
  // Rate limits may hold messages back until the next token (a Pump from a
  // request, not a completion): the ticker must wake for it.
  // Posted: the Pump may run inside Engine::Poll.
  d->dispatcher_->set_wake_hook([&io, alive, self] {
    asio::post(io, [alive, self] {
      if (auto a = alive.lock(); a && *a) self->Arm();
    });
  });
  if (absl::Status st = d->dispatcher_->Recover(); !st.ok()) return st;
  plan::BookOptions book_options = options.book;
  book_options.horizon_ms = static_cast<int64_t>(options.engine.horizon_ms);
  auto book = plan::AppointmentBook::Open(d->engine_.get(), book_options);
  if (!book.ok()) return book.status();
  d->book_ = std::move(*book);
  d->dispatcher_->set_filter(d->book_.get());
  d->book_->set_dispatcher(d->dispatcher_.get());
  d->reclaim_every_ms_ = options.reclaim_every_ms;
  options.handler.frame_limits = options.server.session.frame_limits;
  options.handler.max_payload_bytes = options.engine.max_payload_bytes;
  // The backup thread's reply comes back to the io thread this way.
  options.handler.post = [&io](std::function<void()> fn) { asio::post(io, std::move(fn)); };
  d->handler_ =
      std::make_unique<RequestHandler>(options.handler, d->engine_.get(), d->dispatcher_.get(),
                                       d->book_.get());
  d->server_ = std::make_unique<Server>(io, options.server, d->handler_.get());
  if (absl::Status st = d->server_->Start(); !st.ok()) return st;
  d->Arm();
  d->ArmReclaim();
  return d;
}

void Rappeld::Tick() {
  int64_t now = clock_();
  bool caught_up = engine_->Poll(now);
  dispatcher_->ExpireLeases(now);
  if (!caught_up) {
    // More is due: yield to the sockets, then go on.
    std::weak_ptr<bool> alive = alive_;
    asio::post(io_, [this, alive] {
      if (auto a = alive.lock(); a && *a) Tick();
    });
    return;
  }
  Arm();
}

void Rappeld::Arm() {
  if (shutting_down_) return;
  std::optional<int64_t> next = engine_->NextWakeMs();
  if (auto lease = dispatcher_->NextDeadlineMs(); lease && (!next || *lease < *next)) next = lease;
  if (!next) {
    timer_.cancel();
    return;
  }
  int64_t wait_ms = std::max<int64_t>(0, *next - clock_());
  timer_.expires_after(std::chrono::milliseconds(wait_ms));
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](asio::error_code ec) {
    if (ec) return;  // re-armed or shutting down
    if (auto a = alive.lock(); a && *a) Tick();
  });
}

void Rappeld::ArmReclaim() {
  if (reclaim_every_ms_ <= 0 || shutting_down_) return;
  reclaim_timer_.expires_after(std::chrono::milliseconds(reclaim_every_ms_));
  std::weak_ptr<bool> alive = alive_;
  reclaim_timer_.async_wait([this, alive](asio::error_code ec) {
    if (ec) return;
    if (auto a = alive.lock(); a && *a) {
      book_->Reclaim();
      ArmReclaim();
    }
  });
}

void Rappeld::Shutdown(std::function<void()> done) {
  shutting_down_ = true;
  reclaim_timer_.cancel();
  server_->Stop();
  timer_.cancel();
  shutdown_done_ = std::move(done);
  CheckIdle();
}

void Rappeld::CheckIdle() {
  if (engine_->idle() && !handler_->backup_running()) {
    if (auto done = std::move(shutdown_done_)) done();
    return;
  }
  // Completions arrive by post; look again shortly.
  shutdown_timer_.expires_after(std::chrono::milliseconds(2));
  std::weak_ptr<bool> alive = alive_;
  shutdown_timer_.async_wait([this, alive](asio::error_code ec) {
    if (auto a = alive.lock(); !ec && a && *a) CheckIdle();
  });
}

}  // namespace rappel::server
