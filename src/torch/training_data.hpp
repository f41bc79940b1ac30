// The data of an apd-train run: the source images of the IDX dataset, their
// seeded train/validation split, the classes, the label corruption of
// --corrupt-labels (drawn for a new run, replayed from run.json for a
// resumed one), and the tensors the training and evaluation batches come from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "apd/core/random.hpp"

#include "apd/io/dataset.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/mlp.hpp"
#include "apd/torch/train.hpp"

namespace apd {

struct TrainingData {
  DatasetFiles files;
  std::size_t source_count = 0;
  std::map<std::string, std::string> digests;  // SHA-256 of the four dataset files, by name
  Split split;
  MlpShape shape;
  torch::Tensor train_x, train_y, val_x, val_y;  // train_y: the labels trained on (after corruption)
  std::vector<std::int32_t> train_labels;        // train_y as a vector, for correctness rows
  std::optional<RunInfo::LabelCorruption> corruption;
};

// `resumed`: the run.json of the run being resumed, or null for a new run.
[[nodiscard]] TrainingData load_training_data(const TrainSettings& s, const RunInfo* resumed);

}  // namespace apd
