// The two operations the dispatcher's parts write to the store's `state`
// B-tree, riding in an engine commit (Engine::StateWrites): a put and a
// delete of one key. Pure functions; no thread affinity.
#pragma once

#include <string>
#include <utility>

#include "server/engine/engine.h"

namespace rappel::server {

inline Engine::StateWrites::value_type StatePut(std::string key, std::string value) {
  return {std::move(key), std::move(value), false};
}
inline Engine::StateWrites::value_type StateDelete(std::string key) {
  return {std::move(key), "", true};
}

}  // namespace rappel::server
