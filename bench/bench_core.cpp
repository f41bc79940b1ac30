// Benchmark of apd::core at scale: builds the APD, flows and bins of N
// instances x 3 layers x 40 neurons from an in-memory pattern store, and
// writes its JSON with instances. Prints figures; asserts nothing.
//
// Usage: apd_bench_core [N=1000000] [OUT_DIR=/tmp] [--no-read] [--keep]
// Two pattern distributions: "mnist-like" (patterns drawn with a Zipf-like
// skew from pools whose sizes shrink with depth, as in the paper's Figure 1)
// and "all-unique" (independent random bits: the worst case for the builder).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <fmt/format.h>

#include "apd/core/flows.hpp"
#include "apd/io/apd_json.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

apd::PatternStore make_store(std::size_t n, bool unique, std::mt19937_64& rng) {
  const std::vector<std::size_t> widths = {40, 40, 40};
  apd::PatternStore store(widths);
  store.reserve(n);
  const std::uint64_t mask = (std::uint64_t{1} << 40) - 1;
  const std::size_t pools[] = {n / 2, n / 8, n / 32};
  for (std::size_t l = 0; l < 3; ++l) {
    std::vector<std::uint64_t> pool(std::max<std::size_t>(pools[l], 1));
    for (auto& p : pool) p = rng() & mask;
    std::vector<std::uint64_t> row(1);
    for (std::size_t i = 0; i < n; ++i) {
      if (unique) {
        row[0] = rng() & mask;
      } else {
        // Zipf-like: index = pool_size ^ u for u uniform in [0, 1).
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        const auto k = static_cast<std::size_t>(std::pow(static_cast<double>(pool.size()), u)) - 1;
        row[0] = pool[std::min(k, pool.size() - 1)];
      }
      store.append_row(l, row);
    }
  }
  return store;
}

void run(std::size_t n, bool unique, const std::filesystem::path& out_dir, bool read_back, bool keep) {
  std::mt19937_64 rng(42);
  const auto store = make_store(n, unique, rng);
  std::vector<std::int32_t> label(n), predicted(n);
  std::vector<std::int64_t> index(n);
  for (std::size_t i = 0; i < n; ++i) {
    label[i] = static_cast<std::int32_t>(rng() % 10);
    predicted[i] = rng() % 10 == 0 ? static_cast<std::int32_t>(rng() % 10) : label[i];
    index[i] = static_cast<std::int64_t>(i);
  }
  const char* name = unique ? "all-unique" : "mnist-like";

  auto t0 = Clock::now();
  const auto d = apd::build_diagram(store, label, predicted, index);
  const double t_build = seconds_since(t0);
  t0 = Clock::now();
  const auto flows = apd::compute_flows(d, apd::default_flow_layers(d.layers()));
  const auto bins = apd::bin_flows(flows);
  const auto layers = apd::summarize_layers(d);
  const double t_flows = seconds_since(t0);

  const auto path = out_dir / fmt::format("apd-bench-{}.json", name);
  t0 = Clock::now();
  apd::save_diagram(d, path, apd::OutputFormat::json);
  const double t_write = seconds_since(t0);
  const double mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;

  double t_read = 0;
  bool same = true;
  if (read_back) {
    t0 = Clock::now();
    same = apd::read_apd_file(path) == d;
    t_read = seconds_since(t0);
  }
  if (!keep) std::filesystem::remove(path);

  fmt::print("{:<11} N={} unique patterns per layer {}/{}/{}, {} flows, {} bins\n", name, n, layers[0].unique_patterns,
             layers[1].unique_patterns, layers[2].unique_patterns, flows.flows.size(), bins.size());
  fmt::print("  build APD          {:7.3f} s\n", t_build);
  fmt::print("  flows+bins+layers  {:7.3f} s\n", t_flows);
  fmt::print("  APD+flows+bins     {:7.3f} s   (target < 1 s)\n", t_build + t_flows);
  fmt::print("  write JSON         {:7.3f} s   {:.1f} MB, {:.0f} MB/s (target >= 100 MB/s)\n", t_write, mb,
             mb / t_write);
  if (read_back) {
    fmt::print("  read JSON          {:7.3f} s   {}\n", t_read, same ? "round trip identical" : "ROUND TRIP DIFFERS");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoull(argv[1]) : 1000000;
  const std::filesystem::path out = argc > 2 ? argv[2] : "/tmp";
  bool read_back = true, keep = false;
  for (int i = 3; i < argc; ++i) {
    read_back = read_back && std::string(argv[i]) != "--no-read";
    keep = keep || std::string(argv[i]) == "--keep";
  }
  run(n, false, out, read_back, keep);
  run(n, true, out, read_back, keep);
  return 0;
}
