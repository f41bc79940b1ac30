// What a TorchScript model reads: the instances of an IDX split (default
// data/mnist) or of an .npy file, with their targets, preprocessed as the
// options say; and running the model over chosen instances, batch by batch,
// into a pattern store (apd-extract --model, apd-monitor).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/pattern_store.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/npy.hpp"
#include "apd/torch/extract.hpp"
#include "apd/torch/script_model.hpp"

namespace apd {

class ModelInputs {
 public:
  // Reads --data (IDX directory and --split, or X.npy with --targets, which
  // may be absent for data without labels), --input-shape, --normalize,
  // --mean and --std from `o`.
  explicit ModelInputs(const ExtractOptions& o);

  [[nodiscard]] std::size_t count() const { return idx_ ? idx_->count() : npy_->count(); }
  [[nodiscard]] std::size_t instance_size() const { return idx_ ? idx_->image_size() : npy_->instance_size(); }
  [[nodiscard]] const std::vector<std::int64_t>& targets() const { return targets_; }
  [[nodiscard]] const std::filesystem::path& data_path() const { return data_; }
  [[nodiscard]] const std::filesystem::path& targets_path() const { return targets_path_; }
  [[nodiscard]] const std::vector<std::int64_t>& shape() const { return shape_; }
  [[nodiscard]] Normalization normalization() const { return normalization_; }
  [[nodiscard]] const std::vector<float>& mean() const { return mean_; }
  [[nodiscard]] const std::vector<float>& stdev() const { return std_; }

  // Instances `indices`, preprocessed, one after another in `out`: value x
  // of channel c becomes (normalize(x) - mean[c]) / std[c], in float.
  void read(std::span<const std::int64_t> indices, std::span<float> out) const;

  // The dataset's record in the APD's metadata.
  [[nodiscard]] nlohmann::json record() const;

 private:
  void open_idx(const ExtractOptions& o);
  void open_npy(const ExtractOptions& o);
  void set_shape(const std::vector<std::int64_t>& shape);
  // --mean/--std: one pair for all values, or one per channel (the first axis).
  [[nodiscard]] float preprocess(float x, std::size_t c) const {
    return (normalize_value(x, normalization_) - mean_[c]) / std_[c];
  }
  void set_channels(const ExtractOptions& o);
  void set_mean_std(const ExtractOptions& o);

  std::filesystem::path data_, targets_path_;
  std::unique_ptr<IdxImageFile> idx_;
  std::unique_ptr<NpyInstances> npy_;
  std::vector<std::int64_t> targets_;
  std::vector<std::int64_t> shape_;
  Normalization normalization_ = Normalization::unit;
  std::vector<float> mean_, std_;
  std::vector<std::array<float, 256>> tables_;  // per channel, for byte inputs
  mutable std::vector<std::uint8_t> raw_;
};

// A batch of instances [n, shape...] (the first two, normalised) to learn
// the layers' shapes from.
[[nodiscard]] torch::Tensor probe_batch(const ModelInputs& inputs);

struct ScriptPass {
  PatternStore patterns;
  std::vector<std::int32_t> predicted;
};

// Runs `model` over inputs[chosen] in batches of `batch_size`, keeping the
// patterns of `layers` (1-based ReLU layers) and the argmax predictions of
// the `kept` rows. Memory is the pattern store and one batch's activations.
[[nodiscard]] ScriptPass run_model(ScriptModel& model, const ModelInputs& inputs, std::span<const std::int64_t> chosen,
                                   const std::vector<std::size_t>& layers, std::int64_t batch_size, KeptRows kept = {});

}  // namespace apd
