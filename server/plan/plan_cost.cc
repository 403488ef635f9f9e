#include "server/plan/plan_cost.h"

#include "server/plan/credits.h"

namespace rappel::server::plan {

uint32_t PlannedCost(const Tenant& tenant, MessageRenderer& renderer, const Households& households,
                     const BookEntry& e, MessageKind kind, Channel channel, uint32_t occurrence,
                     const MessageRef& ref, int64_t now) {
  if (!tenant.metered || !IsPaid(channel)) return 0;
  std::string also = channel == Channel::kSms
                         ? households.Note(e, households.Companions(e, kind, occurrence))
                         : std::string();
  auto rendered = renderer.Render(e, kind, channel, also, ref, now, /*text_only=*/true);
  return rendered.ok() ? MessageCost(tenant, channel, rendered->text) : 1;
}

}  // namespace rappel::server::plan
