#include "server/net/greeting.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/net/tenant_access.h"

namespace rappel::server {

namespace wire = protocol::wire;

void AnswerHello(const std::vector<Credential>& tokens, const HelloFacts& facts, Connection& conn,
                 uint64_t id, const wire::Hello& hello, ReplyFn reply) {
  if (hello.protocol_version() < 1) {
    reply(ErrorFrame(
              id, wire::ErrorCode::UnsupportedVersion,
              absl::StrCat("protocol version ", hello.protocol_version(),
                           " is not supported; this server speaks ", protocol::kProtocolVersion)),
          true);
    return;
  }
  wire::Role role = wire::Role::Admin;
  if (!tokens.empty()) {
    std::string_view token =
        hello.token() != nullptr ? hello.token()->string_view() : std::string_view();
    const Credential* c = FindCredential(tokens, token);
    if (c == nullptr) {
      LogRefusal(absl::StrCat("authentication failed from ", conn.peer, ": ",
                              token.empty() ? "no token" : "unknown token"));
      reply(ErrorFrame(id, wire::ErrorCode::Unauthenticated, "unknown token"), true);
      return;
    }
    if (c->role == wire::Role::Replica) {
      LogRefusal("refused Hello: a replica token on the client port");
      reply(ErrorFrame(id, wire::ErrorCode::Unauthenticated,
                       "a replica token is for the replication port only"),
            true);
      return;
    }
    role = c->role;
    conn.token_name = c->name;
    conn.token_hash = c->hash;
    conn.tenants = c->tenants;
  } else {
    conn.token_name = "(no token: loopback default)";
    conn.token_hash = {};
    conn.tenants.reset();
  }
  conn.greeted = true;
  conn.role = role;
  conn.client_name = Str(hello.client_name());
  flatbuffers::FlatBufferBuilder b;
  auto name = b.CreateString(facts.server_name);
  auto leader = facts.leader.empty() ? 0 : b.CreateString(facts.leader);
  auto body =
      wire::CreateHelloReply(b, protocol::kProtocolVersion, name, role, facts.max_frame_bytes,
                             facts.max_payload_bytes, facts.shard_role, leader);
  reply(Finish(b, id, wire::Body::HelloReply, body.Union()), false);
}

bool TokensStillGrant(const std::vector<Credential>& tokens, const Connection& conn) {
  if (!conn.greeted) return true;  // its Hello will be checked against the new tokens
  if (tokens.empty()) return conn.token_hash == SecretHash{};
  for (const Credential& c : tokens) {
    if (c.hash != conn.token_hash) continue;
    auto same = [](const std::optional<std::vector<TenantId>>& a,
                   const std::optional<std::vector<TenantId>>& b) {
      if (a.has_value() != b.has_value()) return false;
      if (!a) return true;
      return std::equal(a->begin(), a->end(), b->begin(), b->end(),
                        [](TenantId x, TenantId y) { return x.value == y.value; });
    };
    return c.role == conn.role && same(c.tenants, conn.tenants);
  }
  return false;
}

}  // namespace rappel::server
