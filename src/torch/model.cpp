#include "apd/torch/model.hpp"

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "linearised.hpp"

namespace apd {

MlpModel::MlpModel(StateDict dict, std::filesystem::path file, std::optional<std::vector<std::int64_t>> expected_hidden)
    : dict_(std::move(dict)), file_(std::move(file)), expected_hidden_(std::move(expected_hidden)) {}

MlpModel::MlpModel(Mlp model) : model_(std::move(model)) {}

void MlpModel::bind(const InstanceReader& data) {
  if (model_) return;
  const InferredMlp inferred = infer_mlp(dict_, file_.string(), static_cast<std::int64_t>(data.instance_size()));
  if (expected_hidden_ && inferred.shape.hidden != *expected_hidden_) {
    throw Error(fmt::format("{}: architecture {} differs from run.json's", file_.string(), describe(inferred.shape)));
  }
  Mlp model(inferred.shape);
  load_into(*model, inferred.canonical, file_.string());
  model_ = std::move(model);
  dict_.clear();
}

std::vector<std::vector<std::int64_t>> Model::relu_shapes() const {
  std::vector<std::vector<std::int64_t>> shapes;
  for (const std::size_t w : relu_widths()) shapes.push_back({static_cast<std::int64_t>(w)});
  return shapes;
}

std::vector<std::size_t> MlpModel::relu_widths() const {
  const auto& hidden = (*model_)->shape().hidden;
  return {hidden.begin(), hidden.end()};
}

std::int64_t MlpModel::classes() const { return (*model_)->shape().classes; }

std::string MlpModel::architecture() const { return describe((*model_)->shape()); }

nlohmann::json MlpModel::record(const std::vector<std::size_t>& /*layers: always all*/) const {
  const MlpShape& shape = (*model_)->shape();
  return {{"architecture", describe(shape)},
          {"inputs", shape.inputs},
          {"hidden", shape.hidden},
          {"classes", shape.classes}};
}

ModelOutput MlpModel::forward(const torch::Tensor& input, const std::vector<std::size_t>& layers) {
  MlpImpl& mlp = **model_;
  const bool training = mlp.is_training();
  mlp.eval();
  ModelOutput out;
  auto wanted = layers.begin();
  const LayerObserver observe = [&](std::size_t layer, const torch::Tensor& relu) {
    if (wanted == layers.end() || *wanted != layer + 1) return;
    out.patterns.push_back(relu.gt(0));
    ++wanted;
  };
  out.logits = mlp.forward(input.reshape({input.size(0), -1}), layers.empty() ? LayerObserver() : observe);
  mlp.train(training);
  return out;
}

// The MLP linearised: Linear -> ReLU per hidden layer, then the logits; in
// the row space of the first layer when it is narrower than the input.
RegionGeometry MlpModel::geometry(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                  const GeometryPlan& plan, std::int64_t phase) {
  using namespace linearised;
  const auto& linears = (**model_).linears();
  std::vector<std::pair<torch::Tensor, torch::Tensor>> layers;
  std::int64_t widest = (**model_).shape().inputs;
  for (const auto& l : linears) {
    layers.emplace_back(l->weight.detach().to(torch::kFloat64), l->bias.detach().to(torch::kFloat64));
    widest = std::max(widest, l->weight.size(0));
  }
  const std::int64_t values = (**model_).shape().inputs;
  std::optional<torch::Tensor> basis;
  if (layers.front().first.size(0) < values) basis = row_space(layers.front().first);
  const std::int64_t directions = basis ? basis->size(0) : values;
  const auto type = plan.float32_gradients ? torch::kFloat32 : torch::kFloat64;
  const torch::Tensor x = input.reshape({input.size(0), -1}).to(torch::kFloat64);
  const std::int64_t rows = x.size(0);
  return over_chunks(
      rows, phase, directions, plan, Widest{widest, 0},
      [&](Pass& pass, std::int64_t first, std::int64_t begin, std::int64_t k) {
        Dual v{x.narrow(0, first, pass.n()), linearised::directions({values}, basis, begin, k, type), true};
        for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
          v = pass.relu(pass.linear(v, layers[l].first, layers[l].second), l + 1);
        }
        pass.logits(pass.linear(v, layers.back().first, layers.back().second),
                    predicted.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(pass.n())));
      });
}

}  // namespace apd
