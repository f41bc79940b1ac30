// run.json, typed: what apd-train records about a run (model, data and its
// SHA-256, the split, hyperparameters) and the other tools rely on. One type
// owns reading, writing and validating it; every error names the file and
// the key ("run.json: key \"split.val_indices\": ..."), so no tool reads the
// file through unchecked lookups.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apd/io/dataset.hpp"
#include "apd/io/run_dir.hpp"

namespace apd {

struct RunInfo {
  struct Tool {
    std::string name, version, git_sha;
  } tool;
  struct Model {
    std::string architecture;  // "784-40-40-40-10"
    std::int64_t inputs = 0;
    std::vector<std::int64_t> hidden;
    std::int64_t classes = 0;
  } model;
  struct Data {
    std::filesystem::path dir;                  // absolute
    std::map<std::string, std::string> sha256;  // file name -> hex digest
    Normalization normalize = Normalization::unit;
  } data;
  struct SplitInfo {
    std::uint64_t seed = 0;
    double val_split = 0.1;
    std::uint64_t source_count = 0, train_count = 0, val_count = 0;
    std::vector<std::int64_t> val_indices;  // ascending, each < source_count
  } split;
  struct Hyperparameters {
    int epochs = 0;
    double lr = 0, momentum = 0;
    std::int64_t batch_size = 0;
    std::uint64_t seed = 0;
  } hyper;
  int threads = 1;
  int checkpoint_every = 1;
  bool track_patterns = true;
  // dynamics.bin and the churn of metrics.jsonl are recorded (runs of apd
  // before 0.2 have neither).
  bool dynamics = false;
  // --corrupt-labels: the training instances whose label was replaced by
  // another class (source indices, ascending) and the labels trained on.
  struct LabelCorruption {
    double probability = 0;
    std::uint64_t seed = 0;
    std::vector<std::int64_t> indices;
    std::vector<std::int64_t> labels;
  };
  std::optional<LabelCorruption> corruption;

  // The training indices: 0..source_count-1 without the validation ones.
  [[nodiscard]] std::vector<std::int64_t> train_indices() const;
};

// Where the corrupted instances sit in the training split `train` (the
// ascending source indices of train_indices()), in the order of
// `corruption.indices`; throws apd::Error for an index not in `train`.
[[nodiscard]] std::vector<std::size_t> training_positions(const RunInfo::LabelCorruption& corruption,
                                                          std::span<const std::int64_t> train);

// Reads and validates RUN/run.json; throws apd::Error naming the file and key.
[[nodiscard]] RunInfo read_run_info(const RunPaths& run);
// Validates a run.json already parsed; `file` names it in errors.
[[nodiscard]] RunInfo run_info_from_json(const nlohmann::json& j, const std::string& file);
[[nodiscard]] nlohmann::json to_json(const RunInfo& info);
// Writes RUN/run.json atomically.
void write_run_info(const RunPaths& run, const RunInfo& info);

}  // namespace apd
