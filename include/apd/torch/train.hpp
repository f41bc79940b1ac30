// apd-train's job, without LibTorch in the interface: train an MLP on an IDX
// dataset with SGD, tracking |A*_l(train)| per epoch and how training
// instances move (correctness, pattern churn, flow ARI), writing a run
// directory (see run_dir.hpp) that survives being killed at any moment.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "apd/core/verbosity.hpp"
#include "apd/io/dataset.hpp"

namespace apd {

struct TrainOptions {
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
  std::filesystem::path out;
  int checkpoint_every = 1;
  bool track_patterns = true;  // and, for new runs, the dynamics (dynamics.bin, churn)
  double corrupt_labels = 0;   // probability of replacing a training label (Zhang et al.)
  std::uint64_t corrupt_seed = 0;
  bool resume = false;
  Verbosity verbosity = Verbosity::normal;
  // Options the user gave explicitly (by long name, e.g. "hidden"): with
  // --resume they must agree with run.json; the others are taken from it.
  std::set<std::string> given;
};

// Checks option values; throws UsageError naming the option.
void validate(const TrainOptions& options);

// Runs the training. Returns the process exit code: 0 when done, 130/143
// when SIGINT/SIGTERM stopped it after completing the current epoch's files.
[[nodiscard]] int run_training(const TrainOptions& options);

}  // namespace apd
