// What a run recorded about each training instance, as tables (apd-stats
// --run R --table forgetting): when it was first learned and how often it
// was learned and forgotten (Toneva et al., ICLR 2019; per epoch, with
// end-of-epoch weights, where the authors' code counts per mini-batch), a
// summary, and the histogram of forgetting counts; clean and corrupted
// instances apart when the run corrupted labels (apd-train --corrupt-labels).
#pragma once

#include <cstdint>
#include <vector>

#include "apd/core/dynamics.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/table.hpp"

namespace apd {

struct RunDynamics {
  std::vector<std::int64_t> index;        // per training instance: its position in the IDX files
  std::vector<std::int32_t> label;        // the dataset's label
  std::vector<std::int32_t> train_label;  // the label trained on (differs when corrupted)
  bool has_corruption = false;
  CorrectnessHistory history;  // the run's complete epochs
  std::vector<int> epochs;     // the epoch of each history row; empty: 1, 2, ... (a run's)
};

// Reads run.json, metrics.jsonl (its complete epochs), dynamics.bin and the
// dataset's training labels (checked against run.json's SHA-256). A run
// that recorded no dynamics is an apd::Error saying so.
[[nodiscard]] RunDynamics read_run_dynamics(const RunPaths& run);

struct ForgettingTables {
  Table summary;    // per group (all, clean, corrupted)
  Table histogram;  // instances learned at least once, by forgetting events
  Table instances;  // one row per training instance
};
[[nodiscard]] ForgettingTables forgetting_tables(const RunDynamics& r);

}  // namespace apd
