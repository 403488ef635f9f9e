// The dry run as a table: each message planned (when, kind, channel, to,
// credits), the total, and each message or channel left out with the rule
// that left it out. --json prints rappeld's document as it came.
#pragma once

#include <string>

namespace rappel::ctl {

// `text`: the AppointmentShow reply of a dry run (protocol/README.md, "Dry
// run"); a document that does not parse is printed as it came.
void PrintDryRun(const std::string& text, bool json);

}  // namespace rappel::ctl
