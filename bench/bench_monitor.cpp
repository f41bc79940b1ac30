// Nearest-pattern search of apd-monitor, side by side on real patterns: the
// straightforward exact scan (std::popcount per word under the default
// x86-64 flags, every distance computed in full) against HammingIndex
// (popcnt chosen at run time, early abandon), both exact: the answers must
// agree. Queries are the instances of an APD extracted at the monitor's
// layer (apd-extract --layers L). Usage: apd_bench_monitor MONITOR.json APD.json
#include <bit>
#include <chrono>
#include <cstdio>
#include <string>

#include "apd/core/monitor.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/monitor_file.hpp"

namespace {

std::uint32_t naive_nearest(const apd::HammingIndex& set, std::span<const std::uint64_t> q) {
  std::uint32_t best = apd::kNoDistance;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const auto r = set.row(i);
    std::uint32_t d = 0;
    for (std::size_t w = 0; w < q.size(); ++w) d += static_cast<std::uint32_t>(std::popcount(q[w] ^ r[w]));
    best = std::min(best, d);
  }
  return best;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: apd_bench_monitor MONITOR.json APD.json\n");
    return 2;
  }
  try {
    const apd::MonitorFile m = apd::read_monitor_file(argv[1]);
    const apd::Diagram d = apd::read_apd_file(argv[2]);
    const apd::MonitorLayer& layer = m.monitor.layers.front();
    if (d.layers() != 1 || d.widths[0] != layer.width || !d.has_instances) {
      std::fprintf(stderr, "%s: needs one layer of width %zu with instance records\n", argv[2], layer.width);
      return 2;
    }
    std::size_t known = 0;
    for (const auto& set : layer.classes) known += set.size();
    const std::size_t n = d.predicted.size();
    std::vector<std::uint32_t> naive(n), ours(n);
    const auto query = [&](std::size_t i) { return d.pattern_row(d.path_node(i, 1)); };
    const auto& classes = layer.classes;
    auto t = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i)
      naive[i] = naive_nearest(classes[static_cast<std::size_t>(d.predicted[i])], query(i));
    const double naive_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      ours[i] = classes[static_cast<std::size_t>(d.predicted[i])].nearest(query(i)).value_or(apd::kNoDistance);
    }
    const double ours_s = seconds_since(t);
    std::printf("  %zu queries of %zu bits against %zu known patterns (layer %zu), 1 thread:\n", n, layer.width, known,
                layer.layer);
    std::printf("  straightforward scan %.3f s   HammingIndex %.3f s   ratio %.2fx   answers %s\n", naive_s, ours_s,
                ours_s / naive_s, naive == ours ? "identical" : "DIFFER");
    return naive == ours ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "apd_bench_monitor: %s\n", e.what());
    return 1;
  }
}
