// rappel-peer-redis: rappel-load's workloads against a Redis delay queue
// built the way Sidekiq's scheduled set and BullMQ's delayed set are:
//
//   rq:due      sorted set, member "<tenant>:<key>", score = due time in ms
//   rq:payload  hash, field "<tenant>:<key>", value = the 200-byte payload
//
//   schedule  HSET rq:payload f v ... then ZADD rq:due s m ... (one variadic
//             command each per batch of --batch, pipelined; the payload is
//             written first, so a claim never sees a member without it)
//   claim     one EVALSHA of a Lua script: ZRANGEBYSCORE rq:due -inf now
//             WITHSCORES LIMIT 0 n, ZREM of those members, HMGET of their
//             payloads; atomic, so no two workers get the same message
//   ack       HDEL rq:payload of the processed batch, pipelined with the
//             worker's next claim
//   cancel    ZREM rq:due m ... and HDEL rq:payload f ... (pipelined)
//
// Durability is the server's AOF setting (appendfsync always: every reply
// is sent after the write is fsynced, group-committed per event-loop turn;
// everysec: up to about a second of acknowledged writes can be lost). A
// claimed message that is never acked stays in rq:payload but is gone from
// rq:due: a crashed worker's batch needs a reaper that this client does not
// run (Sidekiq's "super_fetch" and BullMQ's stalled-job check are such
// reapers); rappel redelivers after its lease time-out.
#include <hiredis/hiredis.h>

#include <cstring>

#include "bench/peers/peer_run.h"

namespace rappel::bench::peers {
namespace {

constexpr const char* kDue = "rq:due";
constexpr const char* kPayload = "rq:payload";

// KEYS[1] = due set, KEYS[2] = payload hash, ARGV[1] = now (ms), ARGV[2] = limit.
// Returns {members-and-scores, payloads} or, when nothing is due,
// {{}, {}, earliest due score or ""}.
constexpr const char* kClaimScript = R"lua(
local r = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local n = #r / 2
if n == 0 then
  local nx = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {{}, {}, nx[2] or ''}
end
local ks = {}
for i = 1, n do ks[i] = r[2 * i - 1] end
redis.call('ZREM', KEYS[1], unpack(ks))
return {r, redis.call('HMGET', KEYS[2], unpack(ks))}
)lua";

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

class Conn {
 public:
  static std::unique_ptr<Conn> Open(const Config& c, std::string* error) {
    timeval tv{5, 0};
    redisContext* ctx = redisConnectWithTimeout(c.host.c_str(), c.port, tv);
    if (ctx == nullptr || ctx->err) {
      *error = ctx ? ctx->errstr : "cannot allocate a redis context";
      if (ctx) redisFree(ctx);
      return nullptr;
    }
    return std::unique_ptr<Conn>(new Conn(ctx));
  }
  ~Conn() { redisFree(ctx_); }

  // Queues a command made of `args` (not sent until Get()).
  void Append(const std::vector<std::string_view>& args) {
    argv_.clear();
    lens_.clear();
    for (std::string_view a : args) {
      argv_.push_back(a.data());
      lens_.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(argv_.size()), argv_.data(), lens_.data());
  }
  // Flushes what is queued and reads the oldest reply; null on a broken connection.
  Reply Get(std::string* error) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK) {
      *error = ctx_->errstr;
      return nullptr;
    }
    return Reply(static_cast<redisReply*>(r));
  }
  Reply Command(const std::vector<std::string_view>& args, std::string* error) {
    Append(args);
    return Get(error);
  }

 private:
  explicit Conn(redisContext* ctx) : ctx_(ctx) {}
  redisContext* ctx_;
  std::vector<const char*> argv_;
  std::vector<size_t> lens_;
};

bool IsError(const Reply& r, std::string* error) {
  if (!r) return true;
  if (r->type == REDIS_REPLY_ERROR) {
    *error = std::string(r->str, r->len);
    return true;
  }
  return false;
}

// The two replies of a pipelined pair of commands; false when either is an
// error (then `error` says why).
bool GetPair(Conn& conn, std::string* error, Reply* first, Reply* second) {
  *first = conn.Get(error);
  bool bad = IsError(*first, error);
  *second = *first ? conn.Get(error) : nullptr;
  return !(IsError(*second, error) || bad);
}

std::string Member(const Items& items, uint64_t i) {
  return std::to_string(items.TenantOf(i)) + ":" + items.KeyOf(i);
}

class IngestPipe : public Pipe {
 public:
  IngestPipe(const Config& c, std::unique_ptr<Conn> conn, Backend::DueOf due_of)
      : c_(c), items_{c}, conn_(std::move(conn)), due_of_(std::move(due_of)),
        payload_(c.payload_bytes, 'p') {}

  bool Send(uint64_t lo, uint64_t hi, std::string*) override {
    members_.clear();
    scores_.clear();
    for (uint64_t i = lo; i < hi; ++i) {
      members_.push_back(Member(items_, i));
      scores_.push_back(std::to_string(due_of_(i)));
    }
    args_.assign({"HSET", kPayload});
    for (const std::string& m : members_) {
      args_.push_back(m);
      args_.push_back(payload_);
    }
    conn_->Append(args_);
    args_.assign({"ZADD", kDue});
    for (size_t k = 0; k < members_.size(); ++k) {
      args_.push_back(scores_[k]);
      args_.push_back(members_[k]);
    }
    conn_->Append(args_);
    sizes_.push_back(hi - lo);
    return true;
  }
  Answer Receive() override {
    Answer a;
    uint64_t n = sizes_.front();
    sizes_.pop_front();
    Reply h, z;
    if (!GetPair(*conn_, &a.error, &h, &z)) {
      a.failed = n;
    } else {
      a.ok = n;
    }
    return a;
  }

 private:
  const Config& c_;
  Items items_;
  std::unique_ptr<Conn> conn_;
  Backend::DueOf due_of_;
  std::string payload_;
  std::vector<std::string> members_, scores_;
  std::vector<std::string_view> args_;
  std::deque<uint64_t> sizes_;
};

class CancelPipe : public Pipe {
 public:
  CancelPipe(const Config& c, std::unique_ptr<Conn> conn) : items_{c}, conn_(std::move(conn)) {}

  bool Send(uint64_t lo, uint64_t hi, std::string*) override {
    members_.clear();
    for (uint64_t i = lo; i < hi; ++i) members_.push_back(Member(items_, items_.CancelOrder(i)));
    args_.assign({"ZREM", kDue});
    args_.insert(args_.end(), members_.begin(), members_.end());
    conn_->Append(args_);
    args_[0] = "HDEL";
    args_[1] = kPayload;
    conn_->Append(args_);
    sizes_.push_back(hi - lo);
    return true;
  }
  Answer Receive() override {
    Answer a;
    uint64_t n = sizes_.front();
    sizes_.pop_front();
    Reply z, h;
    if (!GetPair(*conn_, &a.error, &z, &h)) {
      a.failed = n;
    } else {
      // Removed from the due set: cancelled; the others were not pending.
      a.ok = static_cast<uint64_t>(z->integer);
      a.failed = n - a.ok;
      if (a.failed > 0) a.error = "not pending";
    }
    return a;
  }

 private:
  Items items_;
  std::unique_ptr<Conn> conn_;
  std::vector<std::string> members_;
  std::vector<std::string_view> args_;
  std::deque<uint64_t> sizes_;
};

class RedisWorker : public Worker {
 public:
  RedisWorker(std::unique_ptr<Conn> conn, std::string sha) : conn_(std::move(conn)), sha_(std::move(sha)) {}

  int64_t Round(int64_t now_ms, uint32_t limit, const Deliver& deliver, const Acked& acked,
                int64_t* next_due_ms, std::string* error) override {
    // The previous batch's ack goes out with this claim.
    bool acking = !unacked_.empty();
    if (acking) {
      args_.assign({"HDEL", kPayload});
      args_.insert(args_.end(), unacked_.begin(), unacked_.end());
      conn_->Append(args_);
    }
    std::string now = std::to_string(now_ms);
    std::string lim = std::to_string(limit);
    conn_->Append({"EVALSHA", sha_, "2", kDue, kPayload, now, lim});
    if (acking) {
      Reply r = conn_->Get(error);
      if (!r) return -1;
      uint64_t n = unacked_.size();
      unacked_.clear();
      if (r->type == REDIS_REPLY_INTEGER) {
        uint64_t ok = std::min<uint64_t>(n, static_cast<uint64_t>(r->integer));
        acked(ok, n - ok);
      } else {
        acked(0, n);
      }
    }
    Reply r = conn_->Get(error);
    if (IsError(r, error)) return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
      *error = "unexpected claim reply";
      return -1;
    }
    redisReply* ms = r->element[0];
    redisReply* ps = r->element[1];
    if (ms->elements == 0) {
      *next_due_ms = 0;
      if (r->elements > 2 && r->element[2]->type == REDIS_REPLY_STRING && r->element[2]->len > 0) {
        *next_due_ms = std::strtoll(r->element[2]->str, nullptr, 10);
      }
      return 0;
    }
    size_t n = ms->elements / 2;
    for (size_t k = 0; k < n; ++k) {
      std::string_view member(ms->element[2 * k]->str, ms->element[2 * k]->len);
      double due = std::strtod(ms->element[2 * k + 1]->str, nullptr);
      // "Processing" is looking at the payload: it must be there.
      if (k < ps->elements && ps->element[k]->type == REDIS_REPLY_STRING) {
        size_t colon = member.find(':');
        deliver(member.substr(colon + 1), due);
      }
      unacked_.emplace_back(member);
    }
    return static_cast<int64_t>(n);
  }

 private:
  std::unique_ptr<Conn> conn_;
  std::string sha_;
  std::vector<std::string> unacked_;
  std::vector<std::string_view> args_;
};

class RedisBackend : public Backend {
 public:
  explicit RedisBackend(const Config& c) : c_(c) {}
  std::string name() const override { return "redis"; }
  nlohmann::json settings() const override {
    std::string error;
    nlohmann::json s = nlohmann::json::object();
    auto conn = Conn::Open(c_, &error);
    if (!conn) return s;
    for (const char* key : {"appendonly", "appendfsync", "save"}) {
      Reply r = conn->Command({"CONFIG", "GET", key}, &error);
      if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        s[key] = std::string(r->element[1]->str, r->element[1]->len);
      }
    }
    Reply v = conn->Command({"INFO", "server"}, &error);
    if (v && v->type == REDIS_REPLY_STRING) {
      std::string info(v->str, v->len);
      size_t at = info.find("redis_version:");
      if (at != std::string::npos) {
        s["version"] = info.substr(at + 14, info.find('\r', at) - at - 14);
      }
    }
    return s;
  }
  bool Reset(std::string* error) override {
    auto conn = Conn::Open(c_, error);
    if (!conn) return false;
    Reply r = conn->Command({"DEL", kDue, kPayload}, error);
    return !IsError(r, error);
  }
  std::unique_ptr<Pipe> IngestPipe(DueOf due_of, std::string* error) override {
    auto conn = Conn::Open(c_, error);
    if (!conn) return nullptr;
    return std::make_unique<peers::IngestPipe>(c_, std::move(conn), std::move(due_of));
  }
  std::unique_ptr<Pipe> CancelPipe(std::string* error) override {
    auto conn = Conn::Open(c_, error);
    if (!conn) return nullptr;
    return std::make_unique<peers::CancelPipe>(c_, std::move(conn));
  }
  std::unique_ptr<Worker> MakeWorker(std::string* error) override {
    auto conn = Conn::Open(c_, error);
    if (!conn) return nullptr;
    Reply r = conn->Command({"SCRIPT", "LOAD", kClaimScript}, error);
    if (IsError(r, error)) return nullptr;
    std::string sha(r->str, r->len);
    return std::make_unique<RedisWorker>(std::move(conn), std::move(sha));
  }
  nlohmann::json Memory() override {
    std::string error;
    nlohmann::json m = nlohmann::json::object();
    auto conn = Conn::Open(c_, &error);
    if (!conn) return m;
    Reply r = conn->Command({"INFO", "memory"}, &error);
    if (!r || r->type != REDIS_REPLY_STRING) return m;
    std::string info(r->str, r->len);
    auto field = [&](const std::string& name) -> double {
      size_t at = info.find("\n" + name + ":");
      if (at == std::string::npos) return -1;
      return std::strtod(info.c_str() + at + name.size() + 2, nullptr);
    };
    m["used_memory"] = field("used_memory");
    m["used_memory_rss"] = field("used_memory_rss");
    m["bytes"] = m["used_memory"];
    return m;
  }
  bool Serving() override {
    std::string error;
    auto conn = Conn::Open(c_, &error);
    if (!conn) return false;
    Reply r = conn->Command({"ZRANGEBYSCORE", kDue, "-inf", "0", "LIMIT", "0", "1"}, &error);
    return r && r->type == REDIS_REPLY_ARRAY;  // -LOADING while the AOF is read
  }

 private:
  const Config& c_;
};

}  // namespace
}  // namespace rappel::bench::peers

int main(int argc, char** argv) {
  using namespace rappel::bench::peers;
  return PeerMain(
      argc, argv,
      "rappel-peer-redis: rappel-load's workloads against a Redis sorted-set delay queue",
      [](CLI::App&) {}, [](const Config& c) { return std::make_unique<RedisBackend>(c); });
}
