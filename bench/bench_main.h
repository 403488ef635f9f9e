// Helpers shared by the benchmark programs (main() lives in bench_main.cc).
#pragma once

#include <string>

namespace rappel::bench {

// Runs a shell command and returns its standard output without the trailing newline.
std::string CommandOutput(const std::string& command);

// Prints build type, commit, CPU and kernel to stderr; warns when unoptimised.
void PrintContext();

}  // namespace rappel::bench
