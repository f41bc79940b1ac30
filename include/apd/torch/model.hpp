// One interface over every network apd runs: the paper's MLP (an apd-train
// run's checkpoint, a PyTorch state_dict, or the live model of a training
// run) and any TorchScript ReLU network (script_model.hpp). A Model turns
// a batch of inputs into logits plus the activation patterns A_l(x) of the
// ReLU layers asked for; runner.hpp runs one over a dataset. Whatever a new
// kind of network needs goes behind this interface; whatever is done to the
// patterns goes after the runner, before the diagram is built.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "apd/io/instances.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/geometry.hpp"
#include "apd/torch/mlp.hpp"

namespace apd {

struct ModelOutput {
  torch::Tensor logits;                 // [N, classes]
  std::vector<torch::Tensor> patterns;  // per layer asked for: bool [N, width], out > 0 in PyTorch's memory order
};

class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  virtual ~Model() = default;

  // Learns the layers from the data the model will read, once: the MLP
  // infers them from its state_dict, checking the first layer's inputs
  // against the instance size; a TorchScript model runs two instances.
  virtual void bind(const InstanceReader& data) = 0;
  // Valid after bind(): every ReLU layer's width, in call order, and the classes.
  [[nodiscard]] virtual std::vector<std::size_t> relu_widths() const = 0;
  [[nodiscard]] virtual std::int64_t classes() const = 0;
  // Every ReLU layer's output shape per instance (C, H, W for a conv layer);
  // by default one dimension, its width. What views (core/views.hpp) check.
  [[nodiscard]] virtual std::vector<std::vector<std::int64_t>> relu_shapes() const;
  // "784-40-40-40-10" for the MLP, "torchscript" otherwise.
  [[nodiscard]] virtual std::string architecture() const = 0;
  // The model's record in an APD's metadata, observing `layers`.
  [[nodiscard]] virtual nlohmann::json record(const std::vector<std::size_t>& layers) const = 0;

  // Runs `input` [N, ...] (under the caller's InferenceMode) and returns the
  // logits and the patterns of `layers` (1-based ReLU layers, ascending).
  [[nodiscard]] virtual ModelOutput forward(const torch::Tensor& input, const std::vector<std::size_t>& layers) = 0;

  // The region radius and boundary distance (geometry.hpp) of each row of
  // `input`, whose predictions are `predicted`; `phase` is the first row's
  // place in the runner's batch (sub-batches fall at the same rows whichever
  // rows are measured). Throws apd::Error naming an op the linearisation
  // cannot follow.
  [[nodiscard]] virtual RegionGeometry geometry(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                                const GeometryPlan& plan, std::int64_t phase) = 0;
};

// The paper's MLP: Linear -> ReLU per hidden layer, then Linear.
class MlpModel final : public Model {
 public:
  // A state_dict read from `file`, its layers inferred by bind(); with
  // `expected_hidden` (a run's run.json), they must be those.
  MlpModel(StateDict dict, std::filesystem::path file, std::optional<std::vector<std::int64_t>> expected_hidden);
  // A model already built (apd-train's), which it shares.
  explicit MlpModel(Mlp model);

  void bind(const InstanceReader& data) override;
  [[nodiscard]] std::vector<std::size_t> relu_widths() const override;
  [[nodiscard]] std::int64_t classes() const override;
  [[nodiscard]] std::string architecture() const override;
  [[nodiscard]] nlohmann::json record(const std::vector<std::size_t>& layers) const override;
  [[nodiscard]] ModelOutput forward(const torch::Tensor& input, const std::vector<std::size_t>& layers) override;
  [[nodiscard]] RegionGeometry geometry(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                        const GeometryPlan& plan, std::int64_t phase) override;

 private:
  StateDict dict_;  // until bind() builds the model
  std::filesystem::path file_;
  std::optional<std::vector<std::int64_t>> expected_hidden_;
  std::optional<Mlp> model_;
};

}  // namespace apd
