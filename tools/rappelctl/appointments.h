// Appointments and their calendars:
//   appointment TENANT ID   state, pending messages, audit trail (tables; --json);
//                           its subcommands (book, move, ...): appointment_ops.h
//   dry-run TENANT --calendar --type --patient --start [...]   what booking
//                           it now would send, and why any message is left
//                           out (JSON; nothing is written)
//   absence TENANT CALENDAR --from --to   cancel the appointments starting
//                           in [from, to), each patient notified
//   delay TENANT CALENDAR --minutes N     tell the day's remaining patients
//   redeem TOKEN            a self-service action token from a message's link
// Times are unix milliseconds or ISO 8601 with a UTC offset; a bad one, or
// --to not after --from, exits 2 before connecting.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddAppointmentCommands(CLI::App& app);

}  // namespace rappel::ctl
