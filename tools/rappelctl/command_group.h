// A group of rappelctl's subcommands: the commands for one part of rappeld,
// in a file of their own. main builds every group, parses the command line,
// then asks the one group whose subcommand was chosen to Prepare and, if
// that went well, connects and asks it to Run.
//
// A group is made by its Add...Commands(CLI::App&) function (one header
// each), which adds the group's subcommands, flags and --help texts to the
// app; `rappelctl --help` lists them in the order main adds the groups.
// CLI11 keeps pointers into the group, so it lives in its unique_ptr, never
// moved, as long as the app.
#pragma once

#include "rappel/client.h"

namespace rappel::ctl {

class CommandGroup {
 public:
  virtual ~CommandGroup() = default;

  // Whether the command line chose one of this group's subcommands.
  virtual bool Chosen() const = 0;

  // Checks the chosen subcommand's arguments and reads its input files
  // before any connection, so bad usage is reported even with rappeld down:
  // 0, or the exit code once the reason is printed.
  virtual int Prepare() { return 0; }

  // Runs the chosen subcommand against rappeld and prints its result: JSON
  // when `json`, else a table or a line (a server's JSON document as
  // tables: PrintDocumentTables). Returns the exit code (common.h).
  virtual int Run(client::BlockingClient& c, bool json) = 0;

  // A group that reads something else than rappeld (etcd) says so: main
  // then calls RunWithoutServer instead of connecting.
  virtual bool UsesServer() const { return true; }
  virtual int RunWithoutServer(bool json) {
    (void)json;
    return 1;
  }
};

}  // namespace rappel::ctl
