#include "server/replication/replication_server.h"

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/net/listen.h"

namespace rappel::server {

ReplicationServer::ReplicationServer(asio::io_context& io, ReplicationServerOptions options,
                                     PrimaryHook* hook)
    : io_(io), options_(std::move(options)), hook_(hook), acceptor_(io) {}

ReplicationServer::~ReplicationServer() { Stop(); }

absl::Status ReplicationServer::Start() {
  if (absl::Status st = OpenListener(acceptor_, options_.listen_address, options_.port,
                                     "replication");
      !st.ok()) {
    return st;
  }
  port_ = acceptor_.local_endpoint().port();
  // From the writer thread: one post at a time, whatever the commit rate.
  std::shared_ptr<Shared> shared = shared_;
  asio::io_context* io = &io_;
  ReplicationServer* self = this;
  hook_->SetWake([shared, io, self] {
    if (shared->wake_posted.exchange(true)) return;
    asio::post(*io, [shared, self] {
      shared->wake_posted = false;
      if (shared->alive) self->Wake();
    });
  });
  Accept();
  return absl::OkStatus();
}

void ReplicationServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  shared_->alive = false;
  hook_->SetWake({});
  asio::error_code ignored;
  acceptor_.close(ignored);
  auto links = std::move(links_);
  links_.clear();
  for (auto& [ptr, link] : links) link->Close(absl::CancelledError("the primary is stopping"));
}

void ReplicationServer::Accept() {
  std::shared_ptr<Shared> shared = shared_;
  acceptor_.async_accept([this, shared](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (!shared->alive || stopped_) return;
    if (!ec) {
      if (links_.size() >= options_.max_standbys) {
        LogWarn("replication: refused a connection: too many standbys connected");
      } else {
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        auto link = std::make_shared<PrimaryLink>(
            std::move(socket), &options_.tokens, hook_, [this, shared](PrimaryLink* l) {
              if (shared->alive) links_.erase(l);
            });
        links_[link.get()] = link;
        link->set_client_address(options_.client_address);
        link->Start();
      }
    }
    Accept();
  });
}

void ReplicationServer::Wake() {
  // A link may close (and leave links_) while pumping.
  std::vector<std::shared_ptr<PrimaryLink>> links;
  for (auto& [ptr, link] : links_) links.push_back(link);
  for (auto& link : links) link->Pump();
}

std::vector<StandbyStatus> ReplicationServer::standbys() const {
  std::vector<StandbyStatus> out;
  for (const auto& [ptr, link] : links_) {
    if (link->streaming()) out.push_back({link->node(), link->acked()});
  }
  return out;
}

}  // namespace rappel::server
