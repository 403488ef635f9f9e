// Operating one appointment, subcommands of `rappelctl appointment`:
//   book     --tenant --id --calendar --type --patient --start (--duration | --end) [...]
//            or --from-json FILE|- (an Appointment, or an AppointmentUpsert
//            {"items": [...]}, with the field names of protocol/rappel.fbs)
//   move     --tenant --id --start [--duration | --end]: the appointment
//            as held, at its new time (its version + 1 unless --version)
//   cancel   --tenant --id --by practitioner|patient|reschedule
//   status   --tenant --id --set seen|waiting_room|absent|excused, or --clear
//   send-now --tenant --id --kind KIND   one message kind, now
// Each prints rappeld's result (outcome, revision, messages pending) and
// the messages that change planned, dropped and left out, with the reason
// (from the appointment's audit: needs an admin token; with a producer
// token only the result is printed). --json: one JSON object per
// appointment. Bad flags, times, kinds or JSON exit 2 before connecting.
//
// Built after AddAppointmentCommands, whose `appointment` subcommand these
// hang under.
#pragma once

#include <memory>

#include "tools/rappelctl/command_group.h"

namespace CLI {
class App;
}

namespace rappel::ctl {

std::unique_ptr<CommandGroup> AddAppointmentOpCommands(CLI::App& app);

}  // namespace rappel::ctl
