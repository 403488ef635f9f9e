// main() shared by every Google Benchmark program in bench/: prints what the
// figures depend on (machine, build type, commit) and warns when the build is
// not optimised, in the manner of LevelDB's db_bench.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "bench/bench_main.h"

namespace rappel::bench {

std::string CommandOutput(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

void PrintContext() {
  std::fprintf(stderr, "rappel bench: build %s, commit %s\n", RAPPEL_BUILD_TYPE,
               CommandOutput("git -C " RAPPEL_SOURCE_DIR " describe --always --dirty 2>/dev/null")
                   .c_str());
  std::fprintf(stderr, "machine: %s, %u hardware threads, kernel %s\n", CpuModel().c_str(),
               std::thread::hardware_concurrency(), CommandOutput("uname -r").c_str());
#if !defined(__OPTIMIZE__)
  std::fprintf(stderr, "WARNING: built without optimisation; figures are meaningless\n");
#endif
#if defined(__SANITIZE_ADDRESS__)
  std::fprintf(stderr, "WARNING: built with AddressSanitizer; figures are meaningless\n");
#endif
}

}  // namespace rappel::bench

int main(int argc, char** argv) {
  rappel::bench::PrintContext();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
