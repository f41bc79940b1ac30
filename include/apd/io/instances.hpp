// The data a model reads, as the user names it (DataChoice: an IDX dataset
// directory and split, or an .npy file with its targets; the input shape and
// the preprocessing), and the reader that turns chosen instances into the
// model's float inputs (InstanceReader). Every tool that runs a model reads
// through it: the paper's MLP and TorchScript models alike.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/names.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/npy.hpp"

namespace apd {

// Which file of an IDX dataset: the training file (a run's own training or
// validation instances of it), or the test file.
enum class DataSplit { train, val, test };
inline constexpr NameTable<DataSplit, 3> kDataSplitNames{
    {{"train", DataSplit::train}, {"val", DataSplit::val}, {"test", DataSplit::test}}};

inline constexpr const char* kDefaultDataDir = "data/mnist";

struct DataChoice {
  std::optional<std::filesystem::path> data;  // --data: an IDX directory, or X.npy
  std::filesystem::path targets;              // --targets y.npy (with X.npy); empty: no labels
  DataSplit split = DataSplit::train;         // --split (IDX)
  std::vector<std::int64_t> input_shape;      // --input-shape: each instance's shape (default the file's)
  std::optional<Normalization> normalize;     // default unit; none for float .npy
  std::vector<double> mean, std;              // --mean/--std per channel, after normalize

  // True when --data names an .npy file rather than an IDX directory.
  [[nodiscard]] bool npy() const { return data && data->extension() == ".npy"; }
  [[nodiscard]] bool has_preprocessing() const { return !input_shape.empty() || !mean.empty() || !std.empty(); }
};

// Checks the values on their own (dimensions, mean/std pairs, finite
// numbers, --targets with X.npy); throws UsageError naming the option.
void validate(const DataChoice& d);

class InstanceReader {
 public:
  // Opens the data (an IDX directory's split file and its labels, default
  // data/mnist; or X.npy and, when given, y.npy) and checks the shape and
  // the mean/std against it.
  explicit InstanceReader(const DataChoice& d);

  [[nodiscard]] std::size_t count() const { return idx_ ? idx_->count() : npy_->count(); }
  [[nodiscard]] std::size_t instance_size() const { return idx_ ? idx_->image_size() : npy_->instance_size(); }
  // The labels (IDX) or targets (.npy); empty when the data has none.
  [[nodiscard]] const std::vector<std::int64_t>& targets() const { return targets_; }
  [[nodiscard]] bool idx() const { return idx_ != nullptr; }
  [[nodiscard]] const DatasetFiles& idx_files() const { return files_; }
  [[nodiscard]] const std::filesystem::path& data_path() const { return data_; }
  [[nodiscard]] const std::filesystem::path& targets_path() const { return targets_path_; }
  [[nodiscard]] const std::vector<std::int64_t>& shape() const { return shape_; }
  [[nodiscard]] Normalization normalization() const { return normalization_; }

  // Instances `indices`, preprocessed, one after another in `out`: value x
  // of channel c becomes (normalize(x) - mean[c]) / std[c], in float.
  void read(std::span<const std::int64_t> indices, std::span<float> out) const;

  // The dataset's record in a file's metadata (data, targets, input_shape,
  // normalize, mean, std).
  [[nodiscard]] nlohmann::json record() const;

 private:
  void open_idx(const DataChoice& d);
  void open_npy(const DataChoice& d);
  void set_shape(const std::vector<std::int64_t>& shape);
  // --mean/--std: one pair for all values, or one per channel (the first axis).
  [[nodiscard]] float preprocess(float x, std::size_t c) const {
    return (normalize_value(x, normalization_) - mean_[c]) / std_[c];
  }
  void set_channels(const DataChoice& d);
  void set_mean_std(const DataChoice& d);

  DatasetFiles files_;
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

}  // namespace apd
