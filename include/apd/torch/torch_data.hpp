// IDX images and labels as LibTorch tensors: images [N, rows*cols] float32,
// normalised; labels [N] int64.
#pragma once

#include <torch/types.h>

#include "apd/io/dataset.hpp"
#include "apd/io/idx.hpp"

namespace apd {

struct TensorSet {
  torch::Tensor images;  // [N, rows * cols] float32
  torch::Tensor labels;  // [N] int64
};

[[nodiscard]] TensorSet to_tensors(const LabeledImages& data, Normalization normalization);

// Indices as an int64 tensor sharing no memory with `indices`.
[[nodiscard]] torch::Tensor index_tensor(std::span<const std::int64_t> indices);

}  // namespace apd
