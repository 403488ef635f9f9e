#include "bench/load/report.h"

#include <cstdio>

namespace rappel::bench {

nlohmann::json ContextJson(const Context& ctx) {
  return {{"build_type", ctx.build_type},
          {"commit", ctx.commit},
          {"cpu", ctx.cpu},
          {"hardware_threads", ctx.hardware_threads},
          {"kernel", ctx.kernel},
          {"optimized", ctx.optimized}};
}

nlohmann::json PhaseJson(Phase& p) {
  Percentiles q = p.latency.Summarize();
  nlohmann::json j = {{"name", p.name},
                      {"ok", p.ok},
                      {"failed", p.failed},
                      {"seconds", p.seconds},
                      {"per_second", p.rate()},
                      {"latency_of", p.latency_of},
                      {"latency_us",
                       {{"count", q.count},
                        {"p50", q.p50_us},
                        {"p99", q.p99_us},
                        {"p999", q.p999_us},
                        {"max", q.max_us}}}};
  if (p.corrected.size() > 0) {
    Percentiles c = p.corrected.Summarize();
    j["corrected_latency_us"] = {{"count", c.count},
                                 {"p50", c.p50_us},
                                 {"p99", c.p99_us},
                                 {"p999", c.p999_us},
                                 {"max", c.max_us}};
  }
  if (!p.first_error.empty()) j["first_error"] = p.first_error;
  if (p.cpu_seconds >= 0) {
    j["client_cpu_s"] = p.cpu_seconds;
    j["client_wall_s"] = p.wall_seconds;
  }
  return j;
}

nlohmann::json PhasesJson(std::vector<Phase>& phases, uint64_t* failed) {
  nlohmann::json results = nlohmann::json::array();
  for (Phase& p : phases) {
    *failed += p.failed;
    results.push_back(PhaseJson(p));
  }
  return results;
}

nlohmann::json DeliveriesJson(uint64_t expected, uint64_t delivered, uint64_t acked,
                              uint64_t duplicates) {
  return {{"expected", expected},
          {"delivered", delivered},
          {"acked", acked},
          {"duplicates", duplicates}};
}

void PrintPhases(const nlohmann::json& phases) {
  std::printf("\n%-12s %12s %8s %9s %12s   %10s %10s %10s %10s  latency of\n", "phase", "ok",
              "failed", "seconds", "per second", "p50 ms", "p99 ms", "p99.9 ms", "max ms");
  for (const auto& p : phases) {
    const auto& l = p["latency_us"];
    std::printf("%-12s %12llu %8llu %9.2f %12.0f   %10.3f %10.3f %10.3f %10.3f  %s\n",
                p["name"].get<std::string>().c_str(), p["ok"].get<unsigned long long>(),
                p["failed"].get<unsigned long long>(), p["seconds"].get<double>(),
                p["per_second"].get<double>(), l["p50"].get<double>() / 1000,
                l["p99"].get<double>() / 1000, l["p999"].get<double>() / 1000,
                l["max"].get<double>() / 1000, p["latency_of"].get<std::string>().c_str());
    if (p.contains("corrected_latency_us")) {
      const auto& c = p["corrected_latency_us"];
      std::printf("%-12s %12s %8s %9s %12s   %10.3f %10.3f %10.3f %10.3f  %s\n", "  corrected", "",
                  "", "", "", c["p50"].get<double>() / 1000, c["p99"].get<double>() / 1000,
                  c["p999"].get<double>() / 1000, c["max"].get<double>() / 1000,
                  "the same from the intended send time (--rate; coordinated omission corrected)");
    }
    if (p.contains("first_error")) {
      std::printf("           first error: %s\n", p["first_error"].get<std::string>().c_str());
    }
  }
}

void PrintDeliveries(const nlohmann::json& report) {
  if (!report.contains("deliveries")) return;
  const auto& d = report["deliveries"];
  std::printf("\ndeliveries: expected %llu, delivered %llu, acked %llu, duplicates %llu\n",
              d["expected"].get<unsigned long long>(), d["delivered"].get<unsigned long long>(),
              d["acked"].get<unsigned long long>(), d["duplicates"].get<unsigned long long>());
}

}  // namespace rappel::bench
