#include "apd/torch/torch_data.hpp"

namespace apd {

TensorSet to_tensors(const LabeledImages& data, Normalization normalization) {
  const auto n = static_cast<std::int64_t>(data.images.count);
  const auto pixels = static_cast<std::int64_t>(data.images.image_size());
  TensorSet out;
  out.images = torch::empty({n, pixels}, torch::kFloat32);
  normalize_pixels(data.images.pixels, normalization,
                   std::span<float>(out.images.data_ptr<float>(), data.images.pixels.size()));
  out.labels = torch::empty({n}, torch::kInt64);
  auto* labels = out.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) labels[i] = data.labels[static_cast<std::size_t>(i)];
  return out;
}

torch::Tensor index_tensor(std::span<const std::int64_t> indices) {
  auto t = torch::empty({static_cast<std::int64_t>(indices.size())}, torch::kInt64);
  std::copy(indices.begin(), indices.end(), t.data_ptr<std::int64_t>());
  return t;
}

}  // namespace apd
