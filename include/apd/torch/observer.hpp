// A model loaded once and run over datasets, for apd-monitor: the MLP of an
// apd-train run's checkpoint or of a state_dict, or any TorchScript ReLU
// network; it yields the activation patterns A_l(x) of chosen ReLU layers
// and the predicted labels, and describes the model and its preprocessing
// as a monitor file records them. No LibTorch in this interface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/pattern_store.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/monitor_file.hpp"
#include "apd/torch/extract.hpp"

namespace apd {

// Which model, and how its inputs are preprocessed (as apd-extract's options).
struct ModelChoice {
  std::filesystem::path run;         // --run RUNDIR
  std::string epoch = "last";        // --epoch: a number, best or last (with --run)
  std::filesystem::path checkpoint;  // --checkpoint state_dict
  std::filesystem::path model;       // --model TorchScript
  std::optional<Normalization> normalize;
  std::vector<double> mean, std;
  std::vector<std::int64_t> input_shape;
  std::int64_t batch_size = 0;  // 0: apd-extract's default for the kind of model
};

// Which instances (as apd-extract's --data, --targets, --split, --labels,
// --limit, --select, --seed).
struct DataChoice {
  std::optional<std::filesystem::path> data;
  std::filesystem::path targets;
  DataSplit split = DataSplit::train;
  std::vector<std::int64_t> labels;
  std::optional<std::size_t> limit;
  Selection select = Selection::first;
  std::uint64_t seed = 0;
  // False for out-of-distribution data: its labels (if any) are not read,
  // and --labels does not apply.
  bool labelled = true;
};

struct Observation {
  PatternStore patterns;              // the layers asked for, in that order
  std::vector<std::int64_t> indices;  // of the instances in their file, ascending
  std::vector<std::int32_t> truth;    // their labels; empty when the data has none
  std::vector<std::int32_t> predicted;
  nlohmann::json record;  // data file, split and selection, instance count
};

class Observer {
 public:
  // Reads the model (and, for a run, run.json); throws apd::Error naming the
  // file, UsageError for options that do not go together.
  explicit Observer(const ModelChoice& choice);
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;
  ~Observer();

  // Learns the model's ReLU layers and classes from `data`'s instances (the
  // MLP's input width, a TorchScript model's probe pass); observe() does it
  // on first use.
  void probe(const DataChoice& data);
  // Valid after probe(): the model's identity and its preprocessing.
  [[nodiscard]] const MonitorModel& model() const;
  [[nodiscard]] const MonitorPreprocessing& preprocessing() const;

  // Patterns of `layers` (1-based ReLU layers, ascending) and predictions
  // for the selected instances of `data`.
  [[nodiscard]] Observation observe(const DataChoice& data, std::span<const std::size_t> layers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apd
