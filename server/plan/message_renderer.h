// MessageRenderer: an appointment's message as a worker gets it (the JSON
// document of render.h, in the tenant's zone and the patient's language,
// with the tenant's template if it has one) and its address on the
// channel, or only its text (what its cost is counted on at plan time).
// Self-service links carry tokens signed with the revision they were issued
// for (token.h); the messages of one plan share them (the last ones are
// kept: three HMACs per message were most of the cost of costing a plan).
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/plan/appointment_record.h"
#include "server/plan/registry.h"
#include "server/plan/render.h"

namespace rappel::server::plan {

class MessageRenderer {
 public:
  // `registry` must outlive the renderer.
  explicit MessageRenderer(const ObjectRegistry& registry) : registry_(registry) {}

  // Empty recipient: no address on the channel.
  struct Rendered {
    std::string payload;    // what the worker gets (empty with text_only)
    std::string recipient;  // the address, as it is now
    std::string text;       // what its cost is counted on
    bool track_opens = false;  // its template asks for open tracking
  };
  // `also`: appended to the text (a household's other appointments);
  // `ref`: the message's payload (its delay, what happened).
  // FailedPrecondition when an object the appointment refers to is gone;
  // the renderer's errors (a bad template variable, a time out of range).
  absl::StatusOr<Rendered> Render(const BookEntry& e, MessageKind kind, Channel channel,
                                  std::string_view also, const MessageRef& ref, int64_t now,
                                  bool text_only);

 private:
  struct LinksCache {
    std::string key;  // tenant/id/revision/confirmed/now; empty: no links
    std::string confirm, cancel, arrival;
  };

  const ObjectRegistry& registry_;
  LinksCache links_cache_;
};

}  // namespace rappel::server::plan
