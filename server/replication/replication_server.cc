#include "server/replication/replication_server.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/net/listen.h"

namespace rappel::server {

std::optional<ReplPos> QuorumPosition(const std::vector<StandbyStatus>& standbys, size_t n) {
  // At most max_standbys entries: sorting by node is cheaper than a map.
  std::vector<const StandbyStatus*> sorted;
  sorted.reserve(standbys.size());
  for (const StandbyStatus& s : standbys) sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(), [](const StandbyStatus* a, const StandbyStatus* b) {
    return a->node != b->node ? a->node < b->node : a->acked > b->acked;
  });
  std::vector<ReplPos> best;  // one per node
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i == 0 || sorted[i]->node != sorted[i - 1]->node) best.push_back(sorted[i]->acked);
  }
  if (n == 0 || best.size() < n) return std::nullopt;
  std::nth_element(best.begin(), best.begin() + (n - 1), best.end(), std::greater<>());
  return best[n - 1];
}

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
            std::move(socket), &options_.tokens, hook_,
            [this, shared](PrimaryLink* l) {
              if (shared->alive) links_.erase(l);
            },
            [this, shared] {
              if (shared->alive) OnAck();
            },
            options_.snapshots);
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

void ReplicationServer::OnAck() {
  size_t n = hook_->sync_standbys();
  if (n == 0) return;
  std::optional<ReplPos> pos = QuorumPosition(standbys(), n);
  if (pos) hook_->Release(*pos);
}

std::vector<StandbyStatus> ReplicationServer::standbys() const {
  std::vector<StandbyStatus> out;
  for (const auto& [ptr, link] : links_) {
    if (link->streaming()) out.push_back({link->node(), link->acked()});
  }
  return out;
}

}  // namespace rappel::server
