#include "apd/io/instances.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"

namespace apd {

void validate(const DataChoice& d) {
  if (!d.npy() && !d.targets.empty()) throw UsageError("--targets y.npy goes with --data X.npy");
  if (d.input_shape.size() > kMaxInputDims) {
    throw UsageError(fmt::format("--input-shape: at most {} dimensions", kMaxInputDims));
  }
  for (const auto n : d.input_shape) {
    if (n < 1 || n > kMaxInputSize)
      throw UsageError(fmt::format("--input-shape: {} is outside 1..{}", n, kMaxInputSize));
  }
  if (d.mean.size() != d.std.size()) {
    throw UsageError(
        fmt::format("--mean has {} values and --std {}: one of each per channel", d.mean.size(), d.std.size()));
  }
  for (const double s : d.std) {
    if (!(s > 0) || !std::isfinite(s)) throw UsageError(fmt::format("--std: {} is not a positive number", s));
  }
  for (const double m : d.mean) {
    if (!std::isfinite(m)) throw UsageError(fmt::format("--mean: {} is not a number", m));
  }
}

InstanceReader::InstanceReader(const DataChoice& d) {
  if (d.npy()) {
    open_npy(d);
  } else {
    open_idx(d);
  }
  if (!targets_path_.empty() && targets_.size() != count()) {
    throw Error(fmt::format("{}: holds {} {} but {} holds {} {}", targets_path_.string(), targets_.size(),
                            idx_ ? "labels" : "targets", data_.string(), count(), idx_ ? "images" : "instances"));
  }
  if (!d.input_shape.empty()) set_shape(d.input_shape);
  set_channels(d);
}

void InstanceReader::read(std::span<const std::int64_t> indices, std::span<float> out) const {
  const std::size_t size = instance_size();
  const std::size_t per_channel = size / mean_.size();
  const auto channel = [&](std::size_t k) { return mean_.size() == 1 ? 0 : (k % size) / per_channel; };
  if (idx_) {  // bytes: one table per channel, computed with the same expression
    raw_.resize(indices.size() * size);
    idx_->read(indices, raw_);
    for (std::size_t k = 0; k < raw_.size(); ++k) out[k] = tables_[channel(k)][raw_[k]];
    return;
  }
  npy_->read(indices, out);
  const NpyHeader& h = npy_->header();
  if (h.kind == NpyKind::unsigned_int && h.item_size == 1) {  // uint8 values, read as floats 0..255
    for (std::size_t k = 0; k < indices.size() * size; ++k) {
      out[k] = tables_[channel(k)][static_cast<std::uint8_t>(out[k])];
    }
    return;
  }
  for (std::size_t k = 0; k < indices.size() * size; ++k) out[k] = preprocess(out[k], channel(k));
}

nlohmann::json InstanceReader::record() const {
  return {{"data", data_.string()}, {"targets", targets_path_.string()},
          {"input_shape", shape_},  {"normalize", to_string(normalization_)},
          {"mean", mean_},          {"std", std_}};
}

void InstanceReader::open_idx(const DataChoice& d) {
  files_ = find_dataset(d.data.value_or(kDefaultDataDir));
  const bool test = d.split == DataSplit::test;
  data_ = test ? files_.test_images : files_.train_images;
  targets_path_ = test ? files_.test_labels : files_.train_labels;
  idx_ = std::make_unique<IdxImageFile>(data_);
  const auto labels = read_idx_labels(targets_path_);
  targets_.assign(labels.begin(), labels.end());
  shape_ = {static_cast<std::int64_t>(idx_->rows()), static_cast<std::int64_t>(idx_->cols())};
  normalization_ = d.normalize.value_or(Normalization::unit);
}

void InstanceReader::open_npy(const DataChoice& d) {
  data_ = *d.data;
  npy_ = std::make_unique<NpyInstances>(data_);
  const NpyHeader& h = npy_->header();
  shape_.assign(h.shape.begin() + 1, h.shape.end());
  if (shape_.empty()) shape_ = {1};
  // uint8 images are scaled like IDX ones; float data is taken as it is.
  normalization_ = d.normalize.value_or(h.kind == NpyKind::floating ? Normalization::none : Normalization::unit);
  if (!d.targets.empty()) {
    targets_path_ = d.targets;
    targets_ = read_npy_targets(targets_path_, count(), data_.string());
  }
}

void InstanceReader::set_shape(const std::vector<std::int64_t>& shape) {
  std::int64_t product = 1;
  for (const auto n : shape) product *= n;
  if (product != static_cast<std::int64_t>(instance_size())) {
    throw UsageError(fmt::format("--input-shape {} holds {} values; each instance of {} holds {}",
                                 fmt::join(shape, ","), product, data_.string(), instance_size()));
  }
  shape_ = shape;
}

void InstanceReader::set_channels(const DataChoice& d) {
  set_mean_std(d);
  for (std::size_t c = 0; c < mean_.size(); ++c) {
    auto& table = tables_.emplace_back();
    for (std::size_t b = 0; b < table.size(); ++b) table[b] = preprocess(static_cast<float>(b), c);
  }
}

void InstanceReader::set_mean_std(const DataChoice& d) {
  if (d.mean.empty()) {
    mean_ = {0.0f};
    std_ = {1.0f};
    return;
  }
  const auto channels = static_cast<std::size_t>(shape_[0]);
  if (d.mean.size() != 1 && d.mean.size() != channels) {
    throw UsageError(
        fmt::format("--mean/--std: {} values, but instances of shape {} have {} channel(s) (the "
                    "first axis; set it with --input-shape)",
                    d.mean.size(), fmt::join(shape_, "x"), channels));
  }
  for (std::size_t c = 0; c < d.mean.size(); ++c) {
    mean_.push_back(static_cast<float>(d.mean[c]));
    std_.push_back(static_cast<float>(d.std[c]));
  }
}

}  // namespace apd
