#include "apd/torch/extraction.hpp"

#include <algorithm>

#include "apd/torch/torch_data.hpp"

namespace apd {

namespace {

// Runs batches produced by `batch(begin, end)` -> (inputs, labels or undefined),
// recording the patterns and predictions of the `kept` rows.
template <typename Batch>
ForwardPass run_batches(MlpImpl& model, std::int64_t n, std::int64_t batch_size, bool keep_patterns, bool with_labels,
                        KeptRows kept, Batch&& batch) {
  const auto& hidden = model.shape().hidden;
  ForwardPass out{PatternStore(std::vector<std::size_t>(hidden.begin(), hidden.end())), {}, 0.0, 0};
  const auto [first, last] = kept.in_batch(0, static_cast<std::size_t>(n));
  const std::size_t own = last - first;
  if (keep_patterns) out.patterns.reserve(own);
  out.predicted.reserve(own);
  torch::InferenceMode guard;
  const bool training = model.is_training();
  model.eval();

  std::pair<std::size_t, std::size_t> rows;  // the current batch's kept rows
  LayerObserver observer = nullptr;
  if (keep_patterns) {
    observer = [&](std::size_t layer, const torch::Tensor& relu) {
      const auto [lo, hi] = rows;
      const torch::Tensor c = relu.slice(0, static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi)).contiguous();
      out.patterns.append_activations(
          layer, std::span<const float>(c.data_ptr<float>(), static_cast<std::size_t>(c.numel())), hi - lo);
    };
  }
  torch::Tensor loss_sum = torch::zeros({}, torch::kFloat64);
  torch::Tensor correct = torch::zeros({}, torch::kInt64);
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t end = std::min(n, begin + batch_size);
    rows = kept.in_batch(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
    const auto [x, y] = batch(begin, end);
    const torch::Tensor logits = model.forward(x, observer);
    const torch::Tensor predicted = logits.argmax(1);
    const auto* p = predicted.data_ptr<std::int64_t>();
    for (std::size_t i = rows.first; i < rows.second; ++i) out.predicted.push_back(static_cast<std::int32_t>(p[i]));
    if (with_labels) {
      loss_sum += torch::nn::functional::cross_entropy(
                      logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                      .to(torch::kFloat64);
      correct += predicted.eq(y).sum();
    }
  }
  out.loss_sum = loss_sum.item<double>();
  out.correct = static_cast<std::uint64_t>(correct.item<std::int64_t>());
  model.train(training);
  return out;
}

}  // namespace

ForwardPass forward_pass(MlpImpl& model, const IdxImageFile& images, Normalization normalization,
                         std::span<const std::int64_t> indices, std::int64_t batch_size, KeptRows kept) {
  const auto pixels = static_cast<std::int64_t>(images.image_size());
  torch::Tensor batch_buffer = torch::empty({batch_size, pixels}, torch::kFloat32);
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(batch_size * pixels));
  const auto table = normalization_table(normalization);
  return run_batches(model, static_cast<std::int64_t>(indices.size()), batch_size, true, false, kept,
                     [&](std::int64_t begin, std::int64_t end) {
                       const auto count = static_cast<std::size_t>(end - begin);
                       images.read(indices.subspan(static_cast<std::size_t>(begin), count), raw);
                       float* dst = batch_buffer.data_ptr<float>();
                       for (std::size_t p = 0; p < count * static_cast<std::size_t>(pixels); ++p)
                         dst[p] = table[raw[p]];
                       return std::pair{batch_buffer.slice(0, 0, end - begin), torch::Tensor()};
                     });
}

ForwardPass forward_pass(MlpImpl& model, const torch::Tensor& images, const torch::Tensor& labels,
                         std::int64_t batch_size, bool keep_patterns) {
  const bool with_labels = labels.defined();
  return run_batches(
      model, images.size(0), batch_size, keep_patterns, with_labels, KeptRows{},
      [&](std::int64_t begin, std::int64_t end) {
        return std::pair{images.slice(0, begin, end), with_labels ? labels.slice(0, begin, end) : torch::Tensor()};
      });
}

}  // namespace apd
