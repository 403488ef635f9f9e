// The book's keys in the store's `state` database (written with StatePut
// and StateDelete, write_batch.h).
// Every object belongs to one tenant: its key is the tenant (4 bytes,
// big-endian, so that a tenant's records sort together), then its id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/common/bytes.h"
#include "server/store/write_batch.h"

namespace rappel::server::plan {

using StateOp = WriteBatch::StateOp;

// Ids of objects and appointments: at most this many bytes.
inline constexpr size_t kMaxIdBytes = 128;

// The key of an object within its tenant: 4 bytes of tenant, then the id.
inline std::string ObjKey(uint32_t tenant, std::string_view id) {
  std::string k;
  k.reserve(4 + id.size());
  PutBE(&k, tenant, 4);
  k.append(id);
  return k;
}

// prefix + ObjKey: an object's record (e.g. "pp/" for a patient).
inline std::string StoreKey(std::string_view prefix, uint32_t tenant, std::string_view id) {
  std::string k(prefix);
  k += ObjKey(tenant, id);
  return k;
}

// prefix + a number (8 bytes, big-endian): records numbered in write order.
inline std::string NumberedKey(std::string_view prefix, uint64_t n) {
  std::string k(prefix);
  PutBE(&k, n, 8);
  return k;
}


}  // namespace rappel::server::plan
