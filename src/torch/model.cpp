#include "apd/torch/model.hpp"

#include <fmt/format.h>

#include "apd/core/error.hpp"

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

}  // namespace apd
