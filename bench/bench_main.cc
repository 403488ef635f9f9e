// main() shared by every Google Benchmark program in bench/: prints what the
// figures depend on (machine, build type, commit) and warns when the build is
// not optimised, in the manner of LevelDB's db_bench.
#include <benchmark/benchmark.h>

#include "bench/context.h"

int main(int argc, char** argv) {
  rappel::bench::PrintContext();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
