// apd-monitor's two jobs, without LibTorch in the interface. `build` keeps,
// per monitored ReLU layer and predicted class, the distinct patterns of the
// correctly classified training instances (core/monitor.hpp) and writes them
// with the model's identity (io/monitor_file.hpp); `score` runs the same
// model over a dataset (and optionally an out-of-distribution one), measures
// each instance's Hamming distance to its predicted class's patterns and
// reports flags and detection figures (report/monitor_stats.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apd/report/table.hpp"
#include "apd/torch/observer.hpp"

namespace apd {

struct MonitorBuildOptions {
  ModelChoice model;
  DataChoice data;                  // the training data (default: the run's training split)
  std::vector<std::size_t> layers;  // 1-based ReLU layers; default the last one
  bool all_instances = false;       // keep misclassified instances' patterns too
  std::filesystem::path out;
  int threads = 1;
};

struct MonitorScoreOptions {
  std::filesystem::path monitor;
  ModelChoice model;                         // no source: the one the monitor records
  DataChoice data;                           // in-distribution instances (default the test split)
  std::optional<std::filesystem::path> ood;  // out-of-distribution data: IDX directory or X.npy
  DataSplit ood_split = DataSplit::test;
  std::int64_t gamma = 0;
  std::string out;  // the scores: FILE or - (stdout); empty: the summary only
  TableFormat format = TableFormat::json;
  int threads = 1;
};

// Each returns the exit code (0); throws apd::Error / UsageError on failure.
// Output files are complete or absent.
[[nodiscard]] int run_monitor_build(const MonitorBuildOptions& options);
[[nodiscard]] int run_monitor_score(const MonitorScoreOptions& options);

}  // namespace apd
