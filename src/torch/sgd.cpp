#include "apd/torch/sgd.hpp"

namespace apd {

SgdStep::SgdStep(Mlp model, double lr, double momentum) : model_(std::move(model)), lr_(lr), momentum_(momentum) {
  if (momentum_ != 0.0) {
    for (const auto& linear : model_->linears()) {
      buffers_.push_back(torch::zeros_like(linear->weight));
      buffers_.push_back(torch::zeros_like(linear->bias));
    }
  }
  acts_.resize(model_->linears().size());
  loss_sum_ = torch::zeros({}, torch::kFloat64);
  correct_ = torch::zeros({}, torch::kInt64);
}

void SgdStep::operator()(const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  const auto& linears = model_->linears();
  const std::size_t n = linears.size();
  const std::int64_t batch = x.size(0);

  // Forward, keeping the input of every linear layer (ReLU outputs).
  acts_[0] = x;
  for (std::size_t k = 0; k + 1 < n; ++k) {
    acts_[k + 1] = torch::relu(torch::addmm(linears[k]->bias, acts_[k], linears[k]->weight.t()));
  }
  const torch::Tensor logits = torch::addmm(linears[n - 1]->bias, acts_[n - 1], linears[n - 1]->weight.t());
  torch::Tensor log_p = torch::log_softmax(logits, 1);
  loss_sum_ += torch::nll_loss(log_p, y, {}, at::Reduction::Sum).to(torch::kFloat64);
  correct_ += logits.argmax(1).eq(y).sum();

  // d(mean cross-entropy)/d(logits) = (softmax - onehot(y)) / B.
  torch::Tensor grad = log_p.exp_();
  grad.scatter_add_(1, y.unsqueeze(1), torch::full({batch, 1}, -1.0f));
  grad.div_(static_cast<double>(batch));

  for (std::size_t k = n; k-- > 0;) {
    torch::Tensor weight = linears[k]->weight;  // shares storage: in-place updates reach the model
    torch::Tensor bias = linears[k]->bias;
    // The gradient flowing to the previous layer uses the weights before the update.
    torch::Tensor grad_input;
    if (k > 0) grad_input = grad.mm(weight);
    if (momentum_ == 0.0) {
      weight.addmm_(grad.t(), acts_[k], 1.0, -lr_);
      bias.add_(grad.sum(0), -lr_);
    } else {
      torch::Tensor& wbuf = buffers_[2 * k];
      torch::Tensor& bbuf = buffers_[2 * k + 1];
      wbuf.addmm_(grad.t(), acts_[k], momentum_, 1.0);
      bbuf.mul_(momentum_).add_(grad.sum(0));
      weight.add_(wbuf, -lr_);
      bias.add_(bbuf, -lr_);
    }
    if (k > 0) grad = torch::threshold_backward(grad_input, acts_[k], 0);
  }
}

double SgdStep::take_loss_sum() {
  const double v = loss_sum_.item<double>();
  loss_sum_.zero_();
  return v;
}

std::int64_t SgdStep::take_correct() {
  const std::int64_t v = correct_.item<std::int64_t>();
  correct_.zero_();
  return v;
}

}  // namespace apd
