// What a planned message costs, counted the one way both its reservation
// (replanner.h, at booking) and the dry run (book_views.h) count it: its
// text rendered as it would be handed out now (MessageRenderer, text only,
// with a household's note on an SMS), priced by MessageCost (credits.h).
//
// Thread: the owner (io) thread (the renderer's).
#pragma once

#include <cstdint>

#include "server/plan/appointment_record.h"
#include "server/plan/households.h"
#include "server/plan/message_renderer.h"

namespace rappel::server::plan {

// 0 for a tenant that is not metered or a free channel (e-mail, push); 1
// when the text cannot be rendered (the reservation must hold something).
uint32_t PlannedCost(const Tenant& tenant, MessageRenderer& renderer, const Households& households,
                     const BookEntry& e, MessageKind kind, Channel channel, uint32_t occurrence,
                     const MessageRef& ref, int64_t now);

}  // namespace rappel::server::plan
