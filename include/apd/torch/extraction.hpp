// Running an Mlp over selected instances under torch::InferenceMode: each
// hidden layer's ReLU output is packed straight into the pattern store by the
// model's observer (no float activations are kept beyond one batch), and the
// predictions, loss and accuracy are collected on the way.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <torch/torch.h>

#include "apd/core/pattern_store.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/idx.hpp"
#include "apd/torch/extract.hpp"
#include "apd/torch/mlp.hpp"

namespace apd {

struct ForwardPass {
  PatternStore patterns;                // empty layers when patterns were not asked for
  std::vector<std::int32_t> predicted;  // argmax of the logits (first maximum on ties)
  double loss_sum = 0;                  // summed cross-entropy, when labels were given
  std::uint64_t correct = 0;
};

// Streams images[indices] from the IDX file, normalising one batch at a
// time: memory is the pattern store plus one batch, whatever N is. Only
// the `kept` rows' patterns and predictions are recorded.
[[nodiscard]] ForwardPass forward_pass(MlpImpl& model, const IdxImageFile& images, Normalization normalization,
                                       std::span<const std::int64_t> indices, std::int64_t batch_size,
                                       KeptRows kept = {});
// Forwards all rows of `images` in order, in batches of `batch_size` (views,
// no copies). `labels` may be undefined (no loss or accuracy). With
// `keep_patterns` false the observer is not installed (validation passes).
[[nodiscard]] ForwardPass forward_pass(MlpImpl& model, const torch::Tensor& images, const torch::Tensor& labels,
                                       std::int64_t batch_size, bool keep_patterns);

}  // namespace apd
