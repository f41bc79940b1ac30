#include "apd/torch/mlp.hpp"

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

std::string describe(const MlpShape& shape) {
  return fmt::format("{}-{}-{}", shape.inputs, fmt::join(shape.hidden, "-"), shape.classes);
}

MlpImpl::MlpImpl(MlpShape shape) : shape_(std::move(shape)) {
  if (shape_.inputs <= 0 || shape_.classes <= 0 || shape_.hidden.empty()) {
    throw UsageError(fmt::format("invalid MLP shape {}", describe(shape_)));
  }
  std::int64_t in = shape_.inputs;
  std::vector<std::int64_t> outs = shape_.hidden;
  outs.push_back(shape_.classes);
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (outs[k] <= 0) throw UsageError(fmt::format("invalid MLP shape {}", describe(shape_)));
    linears_.push_back(
        register_module(std::to_string(sequential_index(k)), torch::nn::Linear(torch::nn::LinearOptions(in, outs[k]))));
    in = outs[k];
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x, const LayerObserver& observer) {
  const std::size_t hidden = shape_.hidden.size();
  for (std::size_t k = 0; k < hidden; ++k) {
    x = torch::relu(linears_[k]->forward(x));
    if (observer) observer(k, x);
  }
  return linears_[hidden]->forward(x);
}

}  // namespace apd
