// AdminRequests: the operator part of the protocol (Stats, Compact,
// Inspect, KeyList, DeadLetterList, DeadLetterReplay, Backup), turned into engine,
// store and dispatcher calls and their results into reply frames. The
// RequestHandler hands it every frame of those types, after Hello and the
// role check (admins only).
//
// Replies: Stats, Inspect, KeyList and DeadLetterList at once (a failed
// list is an Error frame; a KeyList limit over 1 000 is InvalidArgument); Compact once the pass has committed; DeadLetterReplay with
// one status per key, in order, once every replay is durable (an Error
// frame, InvalidArgument, if the keys exceed the copy budget); Backup once
// the copy is done, refused (FailedPrecondition) while another one runs.
//
// Tenants (tenant_access.h): with a token limited to some tenants, Stats
// answers only their rows (by_tenant, tenants; the instance-wide counters
// are 0), DeadLetterList only their letters; Inspect of another tenant's
// key, and KeyList of another tenant, is an Error frame PermissionDenied, a DeadLetterReplay key of one is
// refused in its place; Compact and Backup, which concern every tenant,
// are an Error frame PermissionDenied.
//
// Thread: the io thread, like the engine. Backup is the exception: the copy
// (mdb_env_copy2, as long as the live data takes to copy) runs on a thread
// of its own, one backup at a time, and its reply is posted back to the io
// thread (`post`), so clients go on being served.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "protocol/framing.h"
#include "server/dispatch/dispatcher.h"
#include "server/engine/engine.h"
#include "server/net/connection.h"
#include "server/net/replication_view.h"
#include "server/net/request_wire.h"

namespace rappel::server {

class AdminRequests {
 public:
  using Reply = ReplyFn;
  using Post = std::function<void(std::function<void()>)>;

  // Neither pointer is owned; both outlive this. `max_frame_bytes` sets the
  // copy budget. `post` runs a closure on the io thread; null: Backup runs
  // inline on the io thread. `before_backup` (tests) runs on the backup
  // thread before the copy starts.
  // `replication` (may be null) fills StatsReply.replication.
  AdminRequests(Engine* engine, Dispatcher* dispatcher, size_t max_frame_bytes, Post post,
                std::function<void()> before_backup,
                std::function<ReplicationView()> replication = nullptr);
  // Waits for a backup in progress; its reply is dropped.
  ~AdminRequests();
  AdminRequests(const AdminRequests&) = delete;
  AdminRequests& operator=(const AdminRequests&) = delete;

  // True if `type` is one of ours (then `reply` is called exactly once).
  static bool Handles(protocol::wire::Body type);
  void Handle(const Connection& conn, const protocol::wire::Frame& frame, Reply reply);

  // True while a backup copy runs (its reply not yet sent).
  bool backup_running() const { return backup_running_; }
  // Blocks until the backup thread, if any, has finished (the store must
  // outlive the copy). Its reply is dropped if not yet sent.
  void JoinBackup();

 private:
  void Stats(uint64_t id, const protocol::wire::Stats& req, Reply reply);
  // Stats for a token limited to `tenants`: their rows only.
  void TenantStats(uint64_t id, const protocol::wire::Stats& req,
                   const std::vector<TenantId>& tenants, Reply reply);
  void Compact(uint64_t id, Reply reply);
  void Inspect(uint64_t id, const protocol::wire::Inspect& req, Reply reply);
  void KeyList(uint64_t id, const protocol::wire::KeyList& req, Reply reply);
  void DeadLetterList(const Connection& conn, uint64_t id,
                      const protocol::wire::DeadLetterList& req, Reply reply);
  void DeadLetterReplay(const Connection& conn, uint64_t id,
                        const protocol::wire::DeadLetterReplay& req, Reply reply);
  void Backup(uint64_t id, std::string dir, Reply reply);

  Engine* engine_;
  Dispatcher* dispatcher_;
  size_t max_frame_bytes_;
  Post post_;
  std::function<void()> before_backup_;
  std::function<ReplicationView()> replication_;
  bool backup_running_ = false;
  std::thread backup_thread_;
  // False once this is destroyed: a backup reply posted late is dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rappel::server
