#include "bench/context.h"

#include <cstdio>
#include <fstream>
#include <thread>

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

namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace

Context ReadContext() {
  Context c;
  c.build_type = RAPPEL_BUILD_TYPE;
  c.commit = CommandOutput("git -C " RAPPEL_SOURCE_DIR " describe --always --dirty 2>/dev/null");
  if (c.commit.empty()) c.commit = "unknown";
  c.cpu = CpuModel();
  c.hardware_threads = std::thread::hardware_concurrency();
  c.kernel = CommandOutput("uname -r");
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
  c.optimized = true;
#endif
  return c;
}

void PrintContext() {
  Context c = ReadContext();
  std::fprintf(stderr, "rappel bench: build %s, commit %s\n", c.build_type.c_str(),
               c.commit.c_str());
  std::fprintf(stderr, "machine: %s, %u hardware threads, kernel %s\n", c.cpu.c_str(),
               c.hardware_threads, c.kernel.c_str());
  if (!c.optimized) {
    std::fprintf(stderr, "WARNING: built without optimisation or with sanitizers; "
                         "figures are meaningless\n");
  }
}

}  // namespace rappel::bench
