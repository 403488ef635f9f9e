// SharedBytes: the bytes of one frame, shared by the primary's backlog and
// the socket writes in flight to each standby, never copied. The pointer may
// alias a larger owner: a CommitGroup frame stays in the FlatBuffers buffer
// it was built in (copying a group of several MB out of it cost as much as
// encoding it, page faults included).
//
// Thread: immutable once made; share freely.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace rappel::server {

using SharedBytes = std::shared_ptr<const std::string_view>;

// Owns `bytes` (moved, not copied) and views all of it.
inline SharedBytes ShareBytes(std::string bytes) {
  struct Owner {
    std::string bytes;
    std::string_view view;
  };
  auto owner = std::make_shared<Owner>();
  owner->bytes = std::move(bytes);
  owner->view = owner->bytes;
  return SharedBytes(owner, &owner->view);
}

}  // namespace rappel::server
