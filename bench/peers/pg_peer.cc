// rappel-peer-pg: rappel-load's workloads against a PostgreSQL delay queue
// claimed with FOR UPDATE SKIP LOCKED (as db-scheduler, pg-boss and Solid
// Queue do):
//
//   CREATE TABLE rq (key text PRIMARY KEY, tenant int, due bigint, payload bytea)
//   CREATE INDEX rq_due ON rq (due)
//
//   schedule  one COPY ... FROM STDIN (FORMAT binary) of --batch rows per
//             request, its own transaction, one in flight per connection;
//             or (--ingest insert) one multi-row INSERT of --batch rows (a
//             prepared statement, payload bound as binary), --pipeline
//             requests in flight per connection (libpq pipeline mode)
//   claim     BEGIN; DELETE FROM rq WHERE key IN (SELECT key FROM rq WHERE
//             due <= now ORDER BY due FOR UPDATE SKIP LOCKED LIMIT n)
//             RETURNING key, due, payload; (process) COMMIT
//   ack       the COMMIT: a worker that dies before it rolls the delete
//             back and the rows are claimable again (at least once)
//   cancel    DELETE FROM rq WHERE key = ANY($1) with --batch keys, pipelined
//
// Durability: with synchronous_commit on, a commit (an ingest request, an
// ack, a cancel) is answered after its WAL is flushed (fsync); with it off,
// the answer comes first and up to 3 x wal_writer_delay (600 ms by default)
// of acknowledged commits can be lost on a crash (never corrupted). Set per
// session by --synchronous-commit.
#include <libpq-fe.h>

#include <cstring>

#include "bench/peers/peer_run.h"

namespace rappel::bench::peers {
namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

struct PgOptions {
  std::string synchronous_commit = "on";
  std::string ingest = "copy";  // or "insert"
  std::string dbname = "postgres";
  std::string user = "postgres";
};

class Conn {
 public:
  static std::unique_ptr<Conn> Open(const Config& c, const PgOptions& o, std::string* error) {
    std::string info = "host=" + c.host + " port=" + std::to_string(c.port) +
                       " dbname=" + o.dbname + " user=" + o.user + " connect_timeout=5";
    PGconn* pg = PQconnectdb(info.c_str());
    if (PQstatus(pg) != CONNECTION_OK) {
      *error = PQerrorMessage(pg);
      PQfinish(pg);
      return nullptr;
    }
    PQsetNoticeProcessor(pg, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
    auto conn = std::unique_ptr<Conn>(new Conn(pg));
    if (!conn->Exec("SET synchronous_commit = " + o.synchronous_commit, error)) return nullptr;
    return conn;
  }
  ~Conn() { PQfinish(pg_); }
  PGconn* pg() { return pg_; }

  bool Exec(const std::string& sql, std::string* error) {
    Result r(PQexec(pg_, sql.c_str()));
    return Ok(r.get(), error);
  }
  Result Query(const std::string& sql, std::string* error) {
    Result r(PQexec(pg_, sql.c_str()));
    if (!Ok(r.get(), error)) return nullptr;
    return r;
  }
  static bool Ok(PGresult* r, std::string* error) {
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return true;
    *error = r ? PQresultErrorMessage(r) : "no result";
    while (!error->empty() && error->back() == '\n') error->pop_back();
    return false;
  }

 private:
  explicit Conn(PGconn* pg) : pg_(pg) {}
  PGconn* pg_;
};

// Pipeline mode: Send() queues one statement and a sync point; Receive()
// reads the oldest statement's result and its sync.
class PgPipe : public Pipe {
 public:
  explicit PgPipe(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
  bool Enter(std::string* error) {
    if (PQenterPipelineMode(conn_->pg()) != 1) {
      *error = PQerrorMessage(conn_->pg());
      return false;
    }
    return true;
  }
  Answer Receive() override {
    Answer a;
    uint64_t n = sizes_.front();
    sizes_.pop_front();
    uint64_t done = 0;
    bool bad = false;
    // The statement's result, then null, then the sync's result.
    for (;;) {
      Result r(PQgetResult(conn_->pg()));
      if (!r) continue;  // end of the statement's results
      ExecStatusType s = PQresultStatus(r.get());
      if (s == PGRES_PIPELINE_SYNC) break;
      if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        done += std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
      } else {
        bad = true;
        if (a.error.empty()) Conn::Ok(r.get(), &a.error);
        if (PQstatus(conn_->pg()) == CONNECTION_BAD) break;
      }
    }
    if (bad) {
      a.failed = n;
    } else {
      a.ok = std::min(done, n);
      a.failed = n - a.ok;
      if (a.failed > 0) a.error = "not pending";
    }
    return a;
  }

 protected:
  bool Sync(uint64_t n, std::string* error) {
    if (PQpipelineSync(conn_->pg()) != 1) {
      *error = PQerrorMessage(conn_->pg());
      return false;
    }
    sizes_.push_back(n);
    return true;
  }
  std::unique_ptr<Conn> conn_;
  std::deque<uint64_t> sizes_;
};

std::string InsertSql(uint64_t rows) {
  std::string sql = "INSERT INTO rq (key, tenant, due, payload) VALUES ";
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t p = 4 * r;
    sql += (r ? ",($" : "($") + std::to_string(p + 1) + ",$" + std::to_string(p + 2) + ",$" +
           std::to_string(p + 3) + ",$" + std::to_string(p + 4) + ")";
  }
  return sql;
}

class IngestPipe : public PgPipe {
 public:
  IngestPipe(const Config& c, std::unique_ptr<Conn> conn, Backend::DueOf due_of)
      : PgPipe(std::move(conn)), c_(c), items_{c}, due_of_(std::move(due_of)),
        payload_(c.payload_bytes, 'p') {}
  bool Prepare(std::string* error) {
    Result r(PQprepare(conn_->pg(), "ins", InsertSql(c_.batch).c_str(), 0, nullptr));
    return Conn::Ok(r.get(), error) && Enter(error);
  }
  bool Send(uint64_t lo, uint64_t hi, std::string* error) override {
    uint64_t n = hi - lo;
    text_.clear();
    text_.reserve(3 * n);
    values_.clear();
    lengths_.clear();
    formats_.clear();
    for (uint64_t i = lo; i < hi; ++i) {
      text_.push_back(items_.KeyOf(i));
      text_.push_back(std::to_string(items_.TenantOf(i)));
      text_.push_back(std::to_string(due_of_(i)));
    }
    for (uint64_t k = 0; k < n; ++k) {
      for (int f = 0; f < 3; ++f) {
        values_.push_back(text_[3 * k + f].c_str());
        lengths_.push_back(0);
        formats_.push_back(0);
      }
      values_.push_back(payload_.data());
      lengths_.push_back(static_cast<int>(payload_.size()));
      formats_.push_back(1);  // bytea, binary
    }
    int ok;
    if (n == c_.batch) {
      ok = PQsendQueryPrepared(conn_->pg(), "ins", static_cast<int>(values_.size()), values_.data(),
                               lengths_.data(), formats_.data(), 0);
    } else {
      ok = PQsendQueryParams(conn_->pg(), InsertSql(n).c_str(), static_cast<int>(values_.size()),
                             nullptr, values_.data(), lengths_.data(), formats_.data(), 0);
    }
    if (ok != 1) {
      *error = PQerrorMessage(conn_->pg());
      return false;
    }
    return Sync(n, error);
  }

 private:
  const Config& c_;
  Items items_;
  Backend::DueOf due_of_;
  std::string payload_;
  std::vector<std::string> text_;
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
};

// Ingest with COPY … FROM STDIN (FORMAT binary), one COPY (one transaction)
// per request. COPY cannot be pipelined: a second Send() first reads the
// previous COPY's answer, so at most one is in flight per connection.
class CopyPipe : public Pipe {
 public:
  CopyPipe(const Config& c, std::unique_ptr<Conn> conn, Backend::DueOf due_of)
      : items_{c}, conn_(std::move(conn)), due_of_(std::move(due_of)), payload_(c.payload_bytes, 'p') {}

  bool Send(uint64_t lo, uint64_t hi, std::string* error) override {
    if (pending_ > 0) ready_.push_back(Read());
    Result r(PQexec(conn_->pg(), "COPY rq (key, tenant, due, payload) FROM STDIN (FORMAT binary)"));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) {
      Conn::Ok(r.get(), error);
      return false;
    }
    buf_.clear();
    static const char kHeader[] = "PGCOPY\n\377\r\n\0";
    buf_.append(kHeader, 11);
    Put32(0);  // flags
    Put32(0);  // header extension length
    for (uint64_t i = lo; i < hi; ++i) {
      std::string key = items_.KeyOf(i);
      Put16(4);
      Put32(static_cast<uint32_t>(key.size()));
      buf_ += key;
      Put32(4);
      Put32(items_.TenantOf(i));
      Put32(8);
      uint64_t due = static_cast<uint64_t>(due_of_(i));
      Put32(static_cast<uint32_t>(due >> 32));
      Put32(static_cast<uint32_t>(due));
      Put32(static_cast<uint32_t>(payload_.size()));
      buf_ += payload_;
    }
    Put16(0xFFFF);  // trailer: -1
    if (PQputCopyData(conn_->pg(), buf_.data(), static_cast<int>(buf_.size())) != 1 ||
        PQputCopyEnd(conn_->pg(), nullptr) != 1) {
      *error = PQerrorMessage(conn_->pg());
      return false;
    }
    sizes_.push_back(hi - lo);
    ++pending_;
    return true;
  }
  Answer Receive() override {
    if (!ready_.empty()) {
      Answer a = ready_.front();
      ready_.pop_front();
      return a;
    }
    return Read();
  }

 private:
  Answer Read() {
    Answer a;
    uint64_t n = sizes_.front();
    sizes_.pop_front();
    --pending_;
    uint64_t done = 0;
    bool bad = false;
    while (PGresult* raw = PQgetResult(conn_->pg())) {
      Result r(raw);
      if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
        done += std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
      } else {
        bad = true;
        if (a.error.empty()) Conn::Ok(r.get(), &a.error);
      }
    }
    if (bad) {
      a.failed = n;
    } else {
      a.ok = std::min(done, n);
      a.failed = n - a.ok;
    }
    return a;
  }
  void Put16(uint16_t v) {
    buf_ += static_cast<char>(v >> 8);
    buf_ += static_cast<char>(v);
  }
  void Put32(uint32_t v) {
    Put16(static_cast<uint16_t>(v >> 16));
    Put16(static_cast<uint16_t>(v));
  }

  Items items_;
  std::unique_ptr<Conn> conn_;
  Backend::DueOf due_of_;
  std::string payload_;
  std::string buf_;
  std::deque<uint64_t> sizes_;
  std::deque<Answer> ready_;
  int pending_ = 0;
};

class CancelPipe : public PgPipe {
 public:
  CancelPipe(const Config& c, std::unique_ptr<Conn> conn) : PgPipe(std::move(conn)), items_{c} {}
  bool Prepare(std::string* error) {
    Result r(PQprepare(conn_->pg(), "del", "DELETE FROM rq WHERE key = ANY($1::text[])", 1, nullptr));
    return Conn::Ok(r.get(), error) && Enter(error);
  }
  bool Send(uint64_t lo, uint64_t hi, std::string* error) override {
    keys_ = "{";
    for (uint64_t i = lo; i < hi; ++i) {
      if (i > lo) keys_ += ',';
      keys_ += items_.KeyOf(items_.CancelOrder(i));  // letters, digits and '-': no quoting
    }
    keys_ += '}';
    const char* values[] = {keys_.c_str()};
    if (PQsendQueryPrepared(conn_->pg(), "del", 1, values, nullptr, nullptr, 0) != 1) {
      *error = PQerrorMessage(conn_->pg());
      return false;
    }
    return Sync(hi - lo, error);
  }

 private:
  Items items_;
  std::string keys_;
};

class PgWorker : public Worker {
 public:
  explicit PgWorker(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
  bool Prepare(std::string* error) {
    Result r(PQprepare(conn_->pg(), "claim",
                       "DELETE FROM rq WHERE key IN (SELECT key FROM rq WHERE due <= $1 "
                       "ORDER BY due FOR UPDATE SKIP LOCKED LIMIT $2) RETURNING key, due, payload",
                       2, nullptr));
    if (!Conn::Ok(r.get(), error)) return false;
    Result m(PQprepare(conn_->pg(), "next", "SELECT min(due) FROM rq", 0, nullptr));
    return Conn::Ok(m.get(), error);
  }
  int64_t Round(int64_t now_ms, uint32_t limit, const Deliver& deliver, const Acked& acked,
                int64_t* next_due_ms, std::string* error) override {
    if (!conn_->Exec("BEGIN", error)) return -1;
    std::string now = std::to_string(now_ms);
    std::string lim = std::to_string(limit);
    const char* values[] = {now.c_str(), lim.c_str()};
    Result r(PQexecPrepared(conn_->pg(), "claim", 2, values, nullptr, nullptr, 0));
    if (!Conn::Ok(r.get(), error)) {
      std::string ignored;
      conn_->Exec("ROLLBACK", &ignored);
      return -1;
    }
    int n = PQntuples(r.get());
    for (int k = 0; k < n; ++k) {
      // "Processing" is looking at the payload: it must be there.
      if (PQgetlength(r.get(), k, 2) > 0) {
        deliver(std::string_view(PQgetvalue(r.get(), k, 0), PQgetlength(r.get(), k, 0)),
                std::strtod(PQgetvalue(r.get(), k, 1), nullptr));
      }
    }
    *next_due_ms = 0;
    if (n == 0) {
      Result m(PQexecPrepared(conn_->pg(), "next", 0, nullptr, nullptr, nullptr, 0));
      if (Conn::Ok(m.get(), error) && PQntuples(m.get()) == 1 && !PQgetisnull(m.get(), 0, 0)) {
        *next_due_ms = std::strtoll(PQgetvalue(m.get(), 0, 0), nullptr, 10);
      }
    }
    if (!conn_->Exec("COMMIT", error)) {
      if (n > 0) acked(0, static_cast<uint64_t>(n));
      return -1;
    }
    if (n > 0) acked(static_cast<uint64_t>(n), 0);
    return n;
  }

 private:
  std::unique_ptr<Conn> conn_;
};

class PgBackend : public Backend {
 public:
  PgBackend(const Config& c, PgOptions o) : c_(c), o_(std::move(o)) {}
  std::string name() const override { return "postgresql"; }
  nlohmann::json settings() const override {
    nlohmann::json s = {{"synchronous_commit", o_.synchronous_commit}, {"ingest", o_.ingest}};
    std::string error;
    auto conn = Conn::Open(c_, o_, &error);
    if (!conn) return s;
    for (const char* key : {"server_version", "fsync", "wal_sync_method", "shared_buffers",
                            "max_wal_size", "commit_delay"}) {
      Result r = conn->Query(std::string("SHOW ") + key, &error);
      if (r && PQntuples(r.get()) == 1) s[key] = PQgetvalue(r.get(), 0, 0);
    }
    return s;
  }
  bool Reset(std::string* error) override {
    auto conn = Conn::Open(c_, o_, error);
    return conn && conn->Exec("DROP TABLE IF EXISTS rq", error) &&
           conn->Exec("CREATE TABLE rq (key text PRIMARY KEY, tenant int NOT NULL, "
                      "due bigint NOT NULL, payload bytea NOT NULL)",
                      error) &&
           conn->Exec("CREATE INDEX rq_due ON rq (due)", error);
  }
  std::unique_ptr<Pipe> IngestPipe(DueOf due_of, std::string* error) override {
    auto conn = Conn::Open(c_, o_, error);
    if (!conn) return nullptr;
    if (o_.ingest == "copy") return std::make_unique<CopyPipe>(c_, std::move(conn), std::move(due_of));
    auto p = std::make_unique<peers::IngestPipe>(c_, std::move(conn), std::move(due_of));
    if (!p->Prepare(error)) return nullptr;
    return p;
  }
  std::unique_ptr<Pipe> CancelPipe(std::string* error) override {
    auto conn = Conn::Open(c_, o_, error);
    if (!conn) return nullptr;
    auto p = std::make_unique<peers::CancelPipe>(c_, std::move(conn));
    if (!p->Prepare(error)) return nullptr;
    return p;
  }
  std::unique_ptr<Worker> MakeWorker(std::string* error) override {
    auto conn = Conn::Open(c_, o_, error);
    if (!conn) return nullptr;
    auto w = std::make_unique<PgWorker>(std::move(conn));
    if (!w->Prepare(error)) return nullptr;
    return w;
  }
  nlohmann::json Memory() override {
    nlohmann::json m = nlohmann::json::object();
    std::string error;
    auto conn = Conn::Open(c_, o_, &error);
    if (!conn) return m;
    // Flushes dirty pages so the files have their size; then the sizes.
    conn->Exec("CHECKPOINT", &error);
    Result r = conn->Query(
        "SELECT pg_relation_size('rq'), pg_indexes_size('rq'), pg_total_relation_size('rq')",
        &error);
    if (!r || PQntuples(r.get()) != 1) return m;
    m["table"] = std::strtod(PQgetvalue(r.get(), 0, 0), nullptr);
    m["indexes"] = std::strtod(PQgetvalue(r.get(), 0, 1), nullptr);
    m["total"] = std::strtod(PQgetvalue(r.get(), 0, 2), nullptr);
    m["bytes"] = m["total"];
    return m;
  }
  bool Serving() override {
    std::string error;
    auto conn = Conn::Open(c_, o_, &error);
    if (!conn) return false;
    // A fresh cluster has no queue table yet: then answering at all is serving.
    Result t = conn->Query("SELECT to_regclass('rq') IS NOT NULL", &error);
    if (!t || PQntuples(t.get()) != 1) return false;
    if (std::strcmp(PQgetvalue(t.get(), 0, 0), "t") != 0) return true;
    Result r = conn->Query("SELECT key FROM rq WHERE due <= 0 ORDER BY due LIMIT 1", &error);
    return r != nullptr;
  }

 private:
  const Config& c_;
  PgOptions o_;
};

}  // namespace
}  // namespace rappel::bench::peers

int main(int argc, char** argv) {
  using namespace rappel::bench::peers;
  PgOptions o;
  return PeerMain(
      argc, argv,
      "rappel-peer-pg: rappel-load's workloads against a PostgreSQL FOR UPDATE SKIP LOCKED queue",
      [&](CLI::App& app) {
        app.add_option("--synchronous-commit", o.synchronous_commit,
                       "on: answers after the WAL flush; off: before")
            ->capture_default_str()
            ->check(CLI::IsMember({"on", "off"}));
        app.add_option("--ingest", o.ingest,
                       "insert: a multi-row INSERT per request, pipelined; copy: one COPY (binary) "
                       "per request, one in flight per connection")
            ->capture_default_str()
            ->check(CLI::IsMember({"insert", "copy"}));
        app.add_option("--dbname", o.dbname)->capture_default_str();
        app.add_option("--user", o.user)->capture_default_str();
      },
      [&](const Config& c) { return std::make_unique<PgBackend>(c, o); });
}
