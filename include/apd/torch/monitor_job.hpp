// apd-monitor's two jobs, without LibTorch in the interface. `build` keeps,
// per monitored ReLU layer and predicted class, the distinct patterns of the
// correctly classified training instances (core/monitor.hpp) and writes them
// with the model's identity (io/monitor_file.hpp); `score` runs the same
// model over a dataset (and optionally an out-of-distribution one), measures
// each instance's Hamming distance to its predicted class's patterns and
// reports flags and detection figures (report/monitor_stats.hpp) in a
// scores file (io/monitor_scores.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apd/core/selection.hpp"
#include "apd/io/instances.hpp"
#include "apd/io/table.hpp"
#include "apd/io/view_choice.hpp"
#include "apd/torch/model_choice.hpp"

namespace apd {

struct MonitorBuildOptions {
  ModelChoice model;
  DataChoice data;  // the training data (default: the run's training split) and its preprocessing
  Selection selection;
  std::vector<std::size_t> layers;  // 1-based ReLU layers; default the last one
  bool all_instances = false;       // keep misclassified instances' patterns too
  ViewChoice views;                 // --view, --view-from: the patterns kept (and later scored) are these views
  std::filesystem::path out;
  Compute compute;
};

struct MonitorScoreOptions {
  std::filesystem::path monitor;
  ModelChoice model;  // no source: the one the monitor records
  DataChoice data;    // in-distribution instances (default the test split); the preprocessing is the monitor's
  Selection selection;
  std::optional<std::filesystem::path> ood;  // out-of-distribution data: IDX directory or X.npy
  DataSplit ood_split = DataSplit::test;
  std::int64_t gamma = 0;
  std::string out;  // the scores: FILE or - (stdout); empty: the summary only
  TableFormat format = TableFormat::json;
  Compute compute;
};

// Each returns the exit code (0); throws apd::Error / UsageError on failure.
// Output files are complete or absent.
[[nodiscard]] int run_monitor_build(const MonitorBuildOptions& options);
[[nodiscard]] int run_monitor_score(const MonitorScoreOptions& options);

}  // namespace apd
