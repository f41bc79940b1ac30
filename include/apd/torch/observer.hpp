// A model loaded once and run over datasets, for apd-monitor: the MLP of an
// apd-train run's checkpoint or of a state_dict, or any TorchScript ReLU
// network; it yields the activation patterns A_l(x) of chosen ReLU layers
// and the predicted labels, and describes the model and its preprocessing
// as a monitor file records them. No LibTorch in this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/pattern_store.hpp"
#include "apd/core/selection.hpp"
#include "apd/io/instances.hpp"
#include "apd/io/monitor_file.hpp"
#include "apd/io/view_choice.hpp"
#include "apd/torch/model_choice.hpp"

namespace apd {

struct Observation {
  PatternStore patterns;              // the layers asked for, in that order
  std::vector<std::int64_t> indices;  // of the instances in their file, ascending
  std::vector<std::int32_t> truth;    // their labels; empty when read without labels
  std::vector<std::int32_t> predicted;
  std::vector<LogitScores> logits;  // msp, max logit and energy of each instance's logits
  nlohmann::json record;            // data file, split and selection, instance count
};

class Observer {
 public:
  // Reads the model (and, for a run, run.json); throws apd::Error naming the
  // file, UsageError for options that do not go together.
  Observer(const ModelChoice& choice, const Compute& compute);
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;
  ~Observer();

  // Learns the model's ReLU layers and classes from `data`'s instances, and
  // takes its preprocessing (normalisation, mean/std, input shape) as the
  // one every later observation uses; observe() does it on first use.
  void probe(const DataChoice& data);
  // Valid after probe(): the model's identity and its preprocessing.
  [[nodiscard]] const MonitorModel& model() const;
  [[nodiscard]] const MonitorPreprocessing& preprocessing() const;
  // Valid after probe(): the architecture and every ReLU layer's shape, for views.
  [[nodiscard]] ViewedModel viewed_model() const;

  // Patterns of `layers` (1-based ReLU layers, ascending) and predictions
  // for the instances of `data` that `selection` keeps; `labelled` false
  // (out-of-distribution data) reads no labels.
  [[nodiscard]] Observation observe(const DataChoice& data, const Selection& selection, bool labelled,
                                    std::span<const std::size_t> layers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apd
