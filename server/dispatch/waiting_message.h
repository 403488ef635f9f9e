// WaitingMessage: a due message waiting for a worker, in a channel's FIFO,
// in its fair queue (rate_limited_lane.h), or held by the filter; and
// MessageContent, what a message is once read from the log.
//
// A message due for the first time holds only its reference (DueRef): its
// content stays in the log until it is leased, so a burst of a million due
// messages costs ~64 bytes each while it waits. One back from a lease (its
// lease expired, its worker left) keeps its content only if the filter
// prepared it (it must not be prepared twice); the others are read again.
//
// Plain values; the owner's (the dispatcher's io) thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "server/engine/reminder.h"

namespace rappel::server {

// A message once read from the log: its content and id (once the filter has
// prepared it, the payload and recipient are the worker's).
struct MessageContent {
  DueReminder due;
  std::string message_id;
  bool track_opens = false;  // the filter's Prepared::track_opens
};

struct WaitingMessage {
  DueRef ref;
  uint32_t attempt = 1;
  bool prepared = false;  // the filter has rendered it
  std::unique_ptr<MessageContent> content;
};

}  // namespace rappel::server
