#include "training_data.hpp"

#include <array>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/dynamics.hpp"
#include "apd/core/error.hpp"
#include "apd/core/random.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/idx.hpp"
#include "apd/torch/torch_data.hpp"

namespace apd {

namespace {

std::map<std::string, std::string> dataset_digests(const DatasetFiles& files) {
  std::map<std::string, std::string> sums;
  for (const auto& p : {files.train_images, files.train_labels, files.test_images, files.test_labels}) {
    sums[p.filename().string()] = sha256_file(p);
  }
  return sums;
}

// The number of classes: --classes, which every label must be below, or
// else 1 + the largest label, provided the labels use most of 0..largest (a
// stray byte of 200 in a file of digits is corruption, not a 201st class).
std::int64_t class_count(std::span<const std::uint8_t> labels, std::int64_t given, const std::filesystem::path& file) {
  std::array<std::uint64_t, 256> seen{};
  for (const auto l : labels) ++seen[l];
  std::int64_t largest = 0, distinct = 0;
  for (std::size_t l = 0; l < seen.size(); ++l) {
    if (seen[l] == 0) continue;
    largest = static_cast<std::int64_t>(l);
    ++distinct;
  }
  if (given > 0) {
    if (largest >= given) {
      throw Error(
          fmt::format("{}: label {} is outside 0..{} (--classes {})", file.string(), largest, given - 1, given));
    }
    return given;
  }
  if (2 * distinct < largest + 1) {
    throw Error(
        fmt::format("{}: labels reach {} but take only {} distinct values: a corrupt label file? "
                    "(--classes {} trains with {} classes anyway)",
                    file.string(), largest, distinct, largest + 1, largest + 1));
  }
  return largest + 1;
}

// --corrupt-labels: a new run draws the noise from its seed; a resumed run
// applies what its run.json recorded.
std::optional<RunInfo::LabelCorruption> corrupt_labels(TrainingData& data, const TrainSettings& o,
                                                       const RunInfo* resumed) {
  if (resumed != nullptr) {
    if (!resumed->corruption) return std::nullopt;
    auto* y = data.train_y.data_ptr<std::int64_t>();
    const auto& c = *resumed->corruption;
    const auto positions = training_positions(c, data.split.train);
    for (std::size_t k = 0; k < positions.size(); ++k) y[positions[k]] = c.labels[k];
    return c;
  }
  if (!(o.corrupt_labels > 0)) return std::nullopt;
  const auto n = static_cast<std::size_t>(data.train_y.size(0));
  auto* y = data.train_y.data_ptr<std::int64_t>();
  const LabelNoise noise = draw_label_noise({y, n}, data.shape.classes, o.corrupt_labels, o.corrupt_seed);
  RunInfo::LabelCorruption c{o.corrupt_labels, o.corrupt_seed, {}, noise.labels};
  for (std::size_t k = 0; k < noise.positions.size(); ++k) {
    c.indices.push_back(data.split.train[noise.positions[k]]);
    y[noise.positions[k]] = noise.labels[k];
  }
  spdlog::debug("--corrupt-labels {}: {} of {} training labels changed", o.corrupt_labels, c.indices.size(), n);
  return c;
}

}  // namespace

TrainingData load_training_data(const TrainSettings& o, const RunInfo* resumed) {
  Stopwatch clock;
  TrainingData data;
  data.files = find_dataset(o.data);
  const LabeledImages source = read_labeled_images(data.files.train_images, data.files.train_labels);
  spdlog::debug("read {} ({} images of {} pixels) in {:.2f} s", data.files.train_images.string(), source.images.count,
                source.images.image_size(), clock.lap());
  data.digests = dataset_digests(data.files);
  spdlog::debug("SHA-256 of the four dataset files in {:.2f} s", clock.lap());
  data.source_count = source.images.count;
  try {
    data.split = make_split(source.images.count, o.val_split, o.seed);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("--val-split: {}", e.what()));
  }
  data.shape = MlpShape{static_cast<std::int64_t>(source.images.image_size()), o.hidden,
                        class_count(source.labels, o.classes, data.files.train_labels)};
  // The splits as contiguous tensors: training batches gather from the train
  // split, and evaluation batches are views.
  const TensorSet all = to_tensors(source, o.normalize);
  data.train_x = all.images.index_select(0, index_tensor(data.split.train));
  data.train_y = all.labels.index_select(0, index_tensor(data.split.train));
  data.val_x = all.images.index_select(0, index_tensor(data.split.validation));
  data.val_y = all.labels.index_select(0, index_tensor(data.split.validation));
  data.corruption = corrupt_labels(data, o, resumed);
  const auto* y = data.train_y.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < data.train_y.size(0); ++i) data.train_labels.push_back(static_cast<std::int32_t>(y[i]));
  return data;
}

}  // namespace apd
