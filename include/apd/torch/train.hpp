// apd-train's job, without LibTorch in the interface: train an MLP on an IDX
// dataset with SGD, tracking |A*_l(train)| per epoch and how training
// instances move (correctness, pattern churn, flow ARI), writing a run
// directory (see run_dir.hpp) that survives being killed at any moment.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apd/core/verbosity.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/run_info.hpp"

namespace apd {

// Everything run.json records of how a run trains; the defaults are the
// paper's setup.
struct TrainSettings {
  std::filesystem::path data = "data/mnist";
  std::vector<std::int64_t> hidden = {40, 40, 40};
  std::int64_t classes = 0;  // 0: 1 + the largest label
  int epochs = 500;
  double lr = 0.001;
  double momentum = 0.0;
  std::int64_t batch_size = 64;
  double val_split = 0.1;
  std::uint64_t seed = 0;
  int threads = 1;
  Normalization normalize = Normalization::unit;
  int checkpoint_every = 1;
  bool track_patterns = true;  // and, for new runs, the dynamics (dynamics.bin, churn)
  double corrupt_labels = 0;   // probability of replacing a training label (Zhang et al.)
  std::uint64_t corrupt_seed = 0;
};

// What the user asked for: a setting is given or not. A new run takes the
// defaults for those not given; a resumed one takes run.json's, and those
// given must agree with it.
struct TrainOptions {
  std::optional<std::filesystem::path> data;
  std::optional<std::vector<std::int64_t>> hidden;
  std::optional<std::int64_t> classes;
  std::optional<int> epochs;
  std::optional<double> lr, momentum;
  std::optional<std::int64_t> batch_size;
  std::optional<double> val_split;
  std::optional<std::uint64_t> seed;
  std::optional<int> threads;
  std::optional<Normalization> normalize;
  std::optional<int> checkpoint_every;
  std::optional<bool> track_patterns;
  std::optional<double> corrupt_labels;
  std::optional<std::uint64_t> corrupt_seed;

  std::filesystem::path out;  // the run directory
  bool resume = false;
  Verbosity verbosity = Verbosity::normal;
};

// The settings of a new run: the defaults, overridden by what is given.
[[nodiscard]] TrainSettings new_run_settings(const TrainOptions& options);
// The settings of a resumed run: run.json's, with the epochs, data
// directory and checkpointing given again; throws UsageError naming the
// first option given that contradicts run.json.
[[nodiscard]] TrainSettings resumed_settings(const TrainOptions& options, const RunInfo& info);
// Checks the values; throws UsageError naming the option.
void validate(const TrainSettings& settings);

// Runs the training. Returns the process exit code: 0 when done, 130/143
// when SIGINT/SIGTERM stopped it after completing the current epoch's files.
[[nodiscard]] int run_training(const TrainOptions& options);

}  // namespace apd
