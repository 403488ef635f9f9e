// What a benchmark figure depends on: build type, commit, machine. Printed
// at the top of every benchmark's output (bench_main.cc, rappel-load).
#pragma once

#include <string>

namespace rappel::bench {

struct Context {
  std::string build_type;   // CMAKE_BUILD_TYPE of this binary
  std::string commit;       // git describe of the source tree, "-dirty" if modified
  std::string cpu;          // model name from /proc/cpuinfo
  unsigned hardware_threads = 0;
  std::string kernel;
  bool optimized = false;   // built with optimisation and without sanitizers
};

Context ReadContext();

// Runs a shell command and returns its standard output without the trailing newline.
std::string CommandOutput(const std::string& command);

// Prints the context to stderr; warns when the build is not optimised.
void PrintContext();

}  // namespace rappel::bench
