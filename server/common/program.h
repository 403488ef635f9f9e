// The command-line conventions every rappel program shares (rappeld,
// rappelctl, rappel-load, the examples):
//   --version   prints "<program> <version> (commit <hash>)" and exits 0
//   --help      prints the usage and exits 0
//   bad usage   (an unknown flag, a value out of range) prints why and exits 2
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"

namespace rappel {

inline constexpr int kExitUsage = 2;

// "<program> <version> (commit <hash>)"; the hash ends in "-modified" when
// the tree built had uncommitted changes, and is "unknown" outside git.
std::string VersionLine(std::string_view program);

// Adds --version to `app`.
inline void AddVersionFlag(CLI::App& app, std::string_view program) {
  app.set_version_flag("--version", VersionLine(program), "print the version and exit");
}

// Parses the command line: nullopt to go on, else the exit code (0 after
// --help or --version, kExitUsage after bad usage, its reason printed).
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace rappel
