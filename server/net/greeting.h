// Greeting: the client port's Hello, answered the same way by a primary
// (RequestHandler) and a standby (StandbyHandler): the protocol version,
// the token (its role, name and tenants; a replica token is for the
// replication port only), and the HelloReply with the limits and the
// node's part in its shard.
//
// Thread: the caller's (the io thread); nothing kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "server/net/connection.h"
#include "server/net/credentials.h"
#include "server/net/request_wire.h"

namespace rappel::server {

// What a HelloReply announces.
struct HelloFacts {
  std::string server_name;
  uint32_t max_frame_bytes = 0;
  uint32_t max_payload_bytes = 0;
  protocol::wire::ShardRole shard_role = protocol::wire::ShardRole::Single;
  std::string leader;  // a standby's leader's client address; empty: unknown
};

// Answers `hello` on `conn`: on success sets conn's greeted, role, token
// and tenants and replies HelloReply; otherwise an Error frame and close
// (UnsupportedVersion, Unauthenticated for an unknown token or a replica
// token). `tokens` empty: the loopback default (admin, every tenant).
void AnswerHello(const std::vector<Credential>& tokens, const HelloFacts& facts, Connection& conn,
                 uint64_t id, const protocol::wire::Hello& hello, ReplyFn reply);

// True if `tokens` still grant `conn` what its Hello gave it: its token is
// there with the same role and tenants (or, with no tokens at all, it said
// Hello with none). True for a connection not greeted yet.
bool TokensStillGrant(const std::vector<Credential>& tokens, const Connection& conn);

}  // namespace rappel::server
