// The training step of the paper's setup: plain SGD (optionally with
// PyTorch-style momentum: buf = m * buf + grad; p -= lr * buf) on the mean
// cross-entropy of a mini-batch. The backward pass of the MLP is written out
// (softmax - onehot, ReLU masks, one addmm per weight) instead of recorded by
// autograd: same mathematics, without autograd's per-operation bookkeeping,
// which dominates at these layer sizes. tests/test_sgd.cpp checks it against
// autograd + torch::optim::SGD.
#pragma once

#include <vector>

#include <torch/types.h>

#include "apd/torch/mlp.hpp"

namespace apd {

class SgdStep {
 public:
  SgdStep(Mlp model, double lr, double momentum);

  // One update on (x [B, inputs] float, y [B] int64). Adds the batch's summed
  // loss and its number of correct predictions to the running totals.
  void operator()(const torch::Tensor& x, const torch::Tensor& y);

  [[nodiscard]] double take_loss_sum();  // returns and resets the running totals
  [[nodiscard]] std::int64_t take_correct();

  // Momentum buffers in parameter order (empty without momentum), for resume.
  [[nodiscard]] std::vector<torch::Tensor>& momentum_buffers() { return buffers_; }

 private:
  Mlp model_;
  double lr_;
  double momentum_;
  std::vector<torch::Tensor> buffers_;  // weight, bias per linear layer
  std::vector<torch::Tensor> acts_;     // inputs of each linear layer for the batch
  torch::Tensor loss_sum_;
  torch::Tensor correct_;
};

}  // namespace apd
