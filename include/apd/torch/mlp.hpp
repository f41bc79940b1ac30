// The ReLU MLP of the paper, N(x) = (f_out . h_L . ... . h_1)(x): Linear -> ReLU
// per hidden layer, then a Linear producing logits. LibTorch's C++ API has no
// forward hooks, so forward() takes an explicit observer that sees every
// hidden layer's ReLU output; pattern extraction is such an observer.
// Parameters are registered under nn.Sequential's names ("0.weight",
// "0.bias", "2.weight", ...) so state_dicts interoperate with PyTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace apd {

struct MlpShape {
  std::int64_t inputs = 0;
  std::vector<std::int64_t> hidden;
  std::int64_t classes = 0;

  friend bool operator==(const MlpShape&, const MlpShape&) = default;
};

[[nodiscard]] std::string describe(const MlpShape& shape);  // "784-40-40-40-10"

// Called with the 0-based hidden layer index and that layer's ReLU output.
using LayerObserver = std::function<void(std::size_t layer, const torch::Tensor& relu_output)>;

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(MlpShape shape);

  torch::Tensor forward(torch::Tensor x, const LayerObserver& observer = nullptr);

  [[nodiscard]] const MlpShape& shape() const noexcept { return shape_; }
  [[nodiscard]] const std::vector<torch::nn::Linear>& linears() const noexcept { return linears_; }

 private:
  MlpShape shape_;
  std::vector<torch::nn::Linear> linears_;  // hidden layers, then the output layer
};
TORCH_MODULE(Mlp);

// The nn.Sequential index of linear layer k (0, 2, 4, ...): ReLUs sit between.
[[nodiscard]] inline std::size_t sequential_index(std::size_t linear) noexcept { return 2 * linear; }

}  // namespace apd
