#include "model_inputs.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"

namespace apd {

ModelInputs::ModelInputs(const ExtractOptions& o) {
  if (npy_data(o)) {
    open_npy(o);
  } else {
    open_idx(o);
  }
  if (!targets_path_.empty() && targets_.size() != count()) {
    throw Error(fmt::format("{}: holds {} targets but {} holds {} instances", targets_path_.string(), targets_.size(),
                            data_.string(), count()));
  }
  if (!o.input_shape.empty()) set_shape(o.input_shape);
  set_channels(o);
}

void ModelInputs::read(std::span<const std::int64_t> indices, std::span<float> out) const {
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

nlohmann::json ModelInputs::record() const {
  return {{"data", data_.string()}, {"targets", targets_path_.string()},
          {"input_shape", shape_},  {"normalize", to_string(normalization_)},
          {"mean", mean_},          {"std", std_}};
}

void ModelInputs::open_idx(const ExtractOptions& o) {
  const DatasetFiles files = find_dataset(o.data.value_or("data/mnist"));
  const bool test = o.split == DataSplit::test;
  data_ = test ? files.test_images : files.train_images;
  targets_path_ = test ? files.test_labels : files.train_labels;
  idx_ = std::make_unique<IdxImageFile>(data_);
  const auto labels = read_idx_labels(targets_path_);
  targets_.assign(labels.begin(), labels.end());
  shape_ = {static_cast<std::int64_t>(idx_->rows()), static_cast<std::int64_t>(idx_->cols())};
  normalization_ = o.normalize.value_or(Normalization::unit);
}

void ModelInputs::open_npy(const ExtractOptions& o) {
  data_ = *o.data;
  npy_ = std::make_unique<NpyInstances>(data_);
  const NpyHeader& h = npy_->header();
  shape_.assign(h.shape.begin() + 1, h.shape.end());
  if (shape_.empty()) shape_ = {1};
  // uint8 images are scaled like IDX ones; float data is taken as it is.
  normalization_ = o.normalize.value_or(h.kind == NpyKind::floating ? Normalization::none : Normalization::unit);
  if (!o.targets.empty()) {
    targets_path_ = o.targets;
    targets_ = read_npy_targets(targets_path_);
  }
}

void ModelInputs::set_shape(const std::vector<std::int64_t>& shape) {
  std::int64_t product = 1;
  for (const auto d : shape) product *= d;
  if (product != static_cast<std::int64_t>(instance_size())) {
    throw UsageError(fmt::format("--input-shape {} holds {} values; each instance of {} holds {}",
                                 fmt::join(shape, ","), product, data_.string(), instance_size()));
  }
  shape_ = shape;
}

void ModelInputs::set_channels(const ExtractOptions& o) {
  set_mean_std(o);
  for (std::size_t c = 0; c < mean_.size(); ++c) {
    auto& table = tables_.emplace_back();
    for (std::size_t b = 0; b < table.size(); ++b) table[b] = preprocess(static_cast<float>(b), c);
  }
}

void ModelInputs::set_mean_std(const ExtractOptions& o) {
  if (o.mean.empty()) {
    mean_ = {0.0f};
    std_ = {1.0f};
    return;
  }
  const auto channels = static_cast<std::size_t>(shape_[0]);
  if (o.mean.size() != 1 && o.mean.size() != channels) {
    throw UsageError(
        fmt::format("--mean/--std: {} values, but instances of shape {} have {} channel(s) (the "
                    "first axis; set it with --input-shape)",
                    o.mean.size(), fmt::join(shape_, "x"), channels));
  }
  for (std::size_t c = 0; c < o.mean.size(); ++c) {
    mean_.push_back(static_cast<float>(o.mean[c]));
    std_.push_back(static_cast<float>(o.std[c]));
  }
}

torch::Tensor probe_batch(const ModelInputs& inputs) {
  const std::size_t n = std::min<std::size_t>(2, inputs.count());
  std::vector<std::int64_t> indices(n);
  for (std::size_t i = 0; i < n; ++i) indices[i] = static_cast<std::int64_t>(i);
  std::vector<std::int64_t> sizes{static_cast<std::int64_t>(n)};
  sizes.insert(sizes.end(), inputs.shape().begin(), inputs.shape().end());
  torch::Tensor batch = torch::empty(sizes, torch::kFloat32);
  inputs.read(indices, std::span(batch.data_ptr<float>(), static_cast<std::size_t>(batch.numel())));
  return batch;
}

ScriptPass run_model(ScriptModel& model, const ModelInputs& inputs, std::span<const std::int64_t> chosen,
                     const std::vector<std::size_t>& layers, std::int64_t batch_size, KeptRows kept) {
  std::vector<std::size_t> widths;
  for (const std::size_t l : layers) widths.push_back(static_cast<std::size_t>(model.layers()[l - 1].width));
  ScriptPass pass{PatternStore(widths), {}};
  const auto [first, last] = kept.in_batch(0, chosen.size());
  pass.patterns.reserve(last - first);
  pass.predicted.reserve(last - first);
  const std::size_t size = inputs.instance_size();
  std::vector<float> buffer(static_cast<std::size_t>(batch_size) * size);
  std::vector<std::int64_t> sizes{0};
  sizes.insert(sizes.end(), inputs.shape().begin(), inputs.shape().end());
  torch::InferenceMode guard;
  for (std::size_t begin = 0; begin < chosen.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t n = std::min(chosen.size() - begin, static_cast<std::size_t>(batch_size));
    inputs.read(chosen.subspan(begin, n), std::span(buffer).first(n * size));
    sizes[0] = static_cast<std::int64_t>(n);
    const ScriptOutput out = model.forward(torch::from_blob(buffer.data(), sizes, torch::kFloat32), layers);
    if (out.logits.dim() != 2 || out.logits.size(0) != static_cast<std::int64_t>(n)) {
      throw Error(
          fmt::format("forward returned logits of shape {} for {} instances", fmt::join(out.logits.sizes(), "x"), n));
    }
    const auto [lo, hi] = kept.in_batch(begin, n);
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const torch::Tensor& p = out.patterns[k];
      const std::size_t width = static_cast<std::size_t>(p.numel()) / n;
      const std::span flags(reinterpret_cast<const std::uint8_t*>(p.data_ptr<bool>()), n * width);
      pass.patterns.append_flags(k, flags.subspan(lo * width, (hi - lo) * width), hi - lo);
    }
    const torch::Tensor predicted = out.logits.argmax(1);
    const auto* q = predicted.data_ptr<std::int64_t>();
    for (std::size_t i = lo; i < hi; ++i) pass.predicted.push_back(static_cast<std::int32_t>(q[i]));
  }
  return pass;
}

}  // namespace apd
